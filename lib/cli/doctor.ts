/**
 * `doctor`: checks what a turn needs and prints one line per check, with a
 * remedy where one fails. Exit code 0 only when a turn can run.
 *
 * Checks: which codex binary and where it was found; its version (at least
 * {@linkcode MIN_CODEX_VERSION}); that Codex can authenticate (`codex login
 * status`, `CODEX_API_KEY`, or `OPENAI_API_KEY`, which the plugin hands to
 * Codex as `CODEX_API_KEY`: see `launchEnv`); with a workspace, that it is a
 * writable directory and what its session file holds; which backend a turn
 * will use and whether the app-server starts (lib/cli/backend_check.ts).
 *
 * @example
 * ```ts
 * import { doctor } from "./doctor.ts";
 * import { DEFAULTS } from "../config.ts";
 * Deno.exit(await doctor({ ...DEFAULTS }, { workspace: "/srv/agent" }));
 * // ok   codex binary: /usr/local/bin/codex (found on PATH)
 * // ok   codex version: 0.169.0
 * // ...
 * ```
 */
import type { Config } from "../config.ts";
import { codexHome, type Env, launchEnv } from "../codex/launch_env.ts";
import { locateBinary } from "../codex/locate.ts";
import { compareVersions } from "../codex/version.ts";
import { readThreadId, SESSION_FILE } from "../codex/session.ts";
import { backendCheck } from "./backend_check.ts";
import type { Check } from "./check.ts";

/** Oldest Codex CLI this plugin supports. */
export const MIN_CODEX_VERSION = "0.135.0";
const RUN_TIMEOUT_MS = 30_000;

interface Ran {
  code: number;
  stdout: string;
  /** stdout then stderr, without Codex's `WARNING:` lines. */
  text: string;
}

/** Run codex the way a turn does (same PATH addition), with a time limit. */
async function run(bin: string, args: string[], env: Env): Promise<Ran> {
  try {
    const o = await new Deno.Command(bin, {
      args,
      env: launchEnv(bin, env),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(o.stdout);
    const text = (stdout + "\n" + dec.decode(o.stderr)).split("\n").map((l) => l.trim())
      .filter((l) => l && !l.startsWith("WARNING:")).join("\n");
    return {
      code: o.signal ? -1 : o.code,
      stdout,
      text: o.signal ? `killed by ${o.signal}` : text,
    };
  } catch (e) {
    return { code: -1, stdout: "", text: (e as Error).message };
  }
}

const one = (s: string, max = 200) => s.replace(/\s+/g, " ").trim().slice(0, max);

function binaryCheck(config: Config, env: Env): { check: Check; path?: string } {
  const located = locateBinary(config.binary, env);
  if (!located.ok) {
    return { check: { ok: false, name: "codex binary", detail: located.error.message } };
  }
  const found = located.value;
  const where = found.via === "path"
    ? "found on PATH"
    : found.via === "explicit"
    ? 'the "binary" setting'
    : `found outside PATH; set "binary" to ${found.path} so the service does not depend on the search`;
  return {
    check: { ok: true, name: "codex binary", detail: `${found.path} (${where})` },
    path: found.path,
  };
}

async function versionCheck(bin: string, env: Env): Promise<Check> {
  const name = "codex version";
  const v = await run(bin, ["--version"], env);
  const version =
    (v.stdout.match(/codex[\w-]*\s+v?(\d+\.\d+\.\d+)/) ?? v.text.match(/(\d+\.\d+\.\d+)/))
      ?.[1];
  if (v.code !== 0 || !version) {
    return {
      ok: false,
      name,
      detail: `\`${bin} --version\` failed (${one(v.text) || `exit ${v.code}`}). ` +
        `Reinstall: npm install -g @openai/codex`,
    };
  }
  if (compareVersions(version, MIN_CODEX_VERSION) < 0) {
    return {
      ok: false,
      name,
      detail: `${version} is older than ${MIN_CODEX_VERSION}, the oldest this plugin supports. ` +
        `Upgrade: npm install -g @openai/codex@latest`,
    };
  }
  return { ok: true, name, detail: `${version} (>= ${MIN_CODEX_VERSION})` };
}

/** The `model_provider` an extra `-c model_provider=X` selects, if any. */
function extraProvider(extraArgs: string[]): string | undefined {
  let provider: string | undefined;
  for (const a of extraArgs) {
    const m = a.match(/^(?:--config=)?model_provider\s*=\s*"?([^"\s]+)"?$/);
    if (m) provider = m[1];
  }
  return provider;
}

async function authCheck(bin: string, config: Config, env: Env): Promise<Check> {
  const name = "codex auth";
  const provider = extraProvider(config.extra_args);
  const s = await run(bin, ["login", "status"], env);
  if (s.code === 0) {
    const line = s.text.split("\n").find((l) => /logged in/i.test(l)) ?? s.text.split("\n")[0];
    return { ok: true, name, detail: one(line || "logged in") };
  }
  if (env("CODEX_API_KEY")) {
    return {
      ok: true,
      name,
      detail: "CODEX_API_KEY is set in the environment (codex exec uses it)",
    };
  }
  if (provider && provider !== "openai") {
    return {
      ok: true,
      name,
      detail: `extra_args select model provider "${provider}"; its credentials are not checked`,
    };
  }
  if (env("OPENAI_API_KEY")) {
    return {
      ok: true,
      name,
      detail: "OPENAI_API_KEY is set; the plugin passes it to codex as CODEX_API_KEY " +
        "(codex exec does not read OPENAI_API_KEY itself)",
    };
  }
  const home = codexHome(env) ?? "~/.codex";
  return {
    ok: false,
    name,
    detail: `not logged in (${one(s.text) || `exit ${s.code}`}; CODEX_HOME ${home}). ` +
      "Run `codex login` (or `codex login --with-api-key` reading the key on stdin) as the user " +
      "the plugin runs as, with the same CODEX_HOME, or set OPENAI_API_KEY (or CODEX_API_KEY) " +
      "in its environment",
  };
}

/** Where Codex keeps the rollout of `threadId`, if anywhere under `codexHome`. */
async function findRollout(codexHome: string, threadId: string): Promise<string | undefined> {
  const suffix = `-${threadId}.jsonl`;
  const walk = async (dir: string, depth: number): Promise<string | undefined> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return undefined;
    }
    for (const e of entries) {
      if (e.isFile && e.name.endsWith(suffix)) return `${dir}/${e.name}`;
      if (e.isDirectory && depth > 0) {
        const hit = await walk(`${dir}/${e.name}`, depth - 1);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  for (const sub of ["sessions", "archived_sessions"]) {
    const hit = await walk(`${codexHome}/${sub}`, 3); // sessions/YYYY/MM/DD/rollout-...-ID.jsonl
    if (hit) return hit;
  }
  return undefined;
}

async function sessionCheck(ws: string, env: Env): Promise<Check> {
  const name = "session";
  const file = `${ws}/${SESSION_FILE}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(file);
  } catch {
    return {
      ok: true,
      name,
      detail: `no ${SESSION_FILE}: the next turn starts a new Codex thread`,
    };
  }
  if (info.isDirectory) {
    return {
      ok: false,
      name,
      detail: `${file} is a directory, so the thread id can never be saved. Remove it`,
    };
  }
  // The very reader a turn uses decides; lstat only says why there is no thread.
  const text = await readThreadId(ws);
  if (text === undefined) {
    const what = info.isSymlink
      ? "a symlink"
      : !info.isFile
      ? "not a regular file"
      : info.size > 0
      ? "no thread id"
      : "empty";
    return {
      ok: true,
      name,
      detail: `${SESSION_FILE} is ${what} and is ignored: the next turn starts a new thread ` +
        "and replaces it",
    };
  }
  const home = codexHome(env) ?? "~/.codex";
  const rollout = await findRollout(home, text);
  if (rollout) {
    return { ok: true, name, detail: `the next turn resumes thread ${text} (${rollout})` };
  }
  return {
    ok: true,
    name,
    detail: `holds thread ${text}, but ${home}/sessions has no rollout for it ` +
      "(stale, or another CODEX_HOME): the next turn tries it, then starts a new thread",
  };
}

async function workspaceChecks(workspace: string, env: Env): Promise<Check[]> {
  const name = "workspace";
  const ws = workspace.startsWith("/") ? workspace : `${Deno.cwd()}/${workspace}`;
  try {
    if (!(await Deno.stat(ws)).isDirectory) {
      return [{
        ok: false,
        name,
        detail: `${ws} is not a directory. Point the agent at a directory`,
      }];
    }
  } catch (e) {
    return [{
      ok: false,
      name,
      detail: `${ws} cannot be used (${(e as Error).message}). Create it (mkdir -p ${ws}) ` +
        "and give it to the user the plugin runs as",
    }];
  }
  const probe = `${ws}/.plexum-doctor-${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(probe, "", { createNew: true });
    await Deno.remove(probe);
  } catch (e) {
    return [{
      ok: false,
      name,
      detail: `${ws} is not writable by this user (${(e as Error).message}): the thread id ` +
        "cannot be saved and Codex cannot edit files there. Fix its owner or mode " +
        "(chown to the plugin's User=)",
    }];
  }
  return [{ ok: true, name, detail: `${ws} is a writable directory` }, await sessionCheck(ws, env)];
}

/**
 * Run every check; `workspace` adds the workspace and session checks.
 *
 * @example
 * ```ts
 * import { checks } from "./doctor.ts";
 * import { DEFAULTS } from "../config.ts";
 * const failed = (await checks({ ...DEFAULTS }, {})).filter((c) => !c.ok);
 * ```
 */
export async function checks(
  config: Config,
  opts: { workspace?: string; env?: Env },
): Promise<Check[]> {
  const env = opts.env ?? ((k: string) => Deno.env.get(k));
  const bin = binaryCheck(config, env);
  const out = [bin.check];
  if (bin.path) {
    out.push(await versionCheck(bin.path, env), await authCheck(bin.path, config, env));
    out.push(await backendCheck(config, env));
  }
  if (opts.workspace !== undefined) out.push(...await workspaceChecks(opts.workspace, env));
  return out;
}

/**
 * Print the checks to stdout, one line each; resolves the exit code.
 *
 * @example
 * ```ts
 * import { doctor } from "./doctor.ts";
 * import { DEFAULTS } from "../config.ts";
 * Deno.exit(await doctor({ ...DEFAULTS }, { workspace: "/srv/agent" }));
 * ```
 */
export async function doctor(config: Config, opts: { workspace?: string }): Promise<number> {
  const results = await checks(config, opts);
  for (const c of results) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  const failed = results.filter((c) => !c.ok).length;
  if (failed) console.log(`${failed} check(s) failed: a turn cannot run yet`);
  else {
    console.log(
      opts.workspace === undefined
        ? "ready (add --workspace DIR to check an agent's workspace too)"
        : "ready: a turn can run",
    );
  }
  return failed ? 1 : 0;
}
