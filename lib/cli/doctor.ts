/**
 * `doctor`: checks what a turn needs, one line per check with a remedy where
 * one fails; exit code 0 only when a turn can run. Which codex binary and
 * where it was found; its version (at least {@linkcode MIN_CODEX_VERSION});
 * whether Codex can authenticate; which backend a turn will use and what the
 * `sandbox` lets commands do (codex_probe.ts); with a workspace, that the
 * plugin's user can write it (the thread id is saved there, Codex edits files
 * there) and which thread its session file, read as a turn reads it, resumes.
 *
 * doctor changes nothing it inspects (Codex runs against a scratch copy of
 * `CODEX_HOME`: codex_probe.ts) and says only what it verified: it never
 * calls the API (a request, and the network), so credentials are reported
 * present and "not tried"; a made-up `OPENAI_API_KEY` must not read as ready.
 *
 * @example
 * ```ts
 * import { doctor } from "./doctor.ts";
 * import { DEFAULTS } from "../config.ts";
 * Deno.exit(await doctor({ ...DEFAULTS }, { workspace: "/srv/agent" })); // ok   codex binary: …
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { codexHome, compareVersions, type Env, locateBinary } from "../codex/launch_env.ts";
import {
  backendCheck,
  type Check,
  oneLine,
  outcomes,
  ProbeHome,
  runCodex,
  sandboxCheck,
} from "./codex_probe.ts";
import { readThreadId, SESSION_FILE } from "../codex/session.ts";

/** Oldest Codex CLI this plugin supports. */
export const MIN_CODEX_VERSION = "0.135.0";
/** Appended to every passing `codex auth` line: what doctor did not do. */
const NOT_TRIED = "not tried: doctor does not call the API (`chat` runs one real turn)";

function binaryCheck(config: Config, env: Env): { check: Check; path?: string } {
  const { pass, fail } = outcomes("codex binary");
  const located = locateBinary(config.binary, env);
  if (!located.ok) return { check: fail(located.error.message) };
  const found = located.value;
  const where = found.via === "path"
    ? "found on PATH"
    : found.via === "explicit"
    ? 'the "binary" setting'
    : `found outside PATH; set "binary" to ${found.path} so the service does not depend on the search`;
  return { check: pass(`${found.path} (${where})`), path: found.path };
}

async function versionCheck(bin: string, env: Env): Promise<Check> {
  const { pass, fail } = outcomes("codex version");
  await using probe = await ProbeHome.create(undefined);
  const v = await runCodex(bin, ["--version"], env, probe);
  const version =
    (v.stdout.match(/codex[\w-]*\s+v?(\d+\.\d+\.\d+)/) ?? v.text.match(/(\d+\.\d+\.\d+)/))
      ?.[1];
  if (v.code !== 0 || !version) {
    const why = oneLine(v.text) || `exit ${v.code}`;
    return fail(`\`${bin} --version\` failed (${why}). Reinstall: npm install -g @openai/codex`);
  }
  if (compareVersions(version, MIN_CODEX_VERSION) < 0) {
    return fail(
      `${version} is older than ${MIN_CODEX_VERSION}, the oldest this plugin supports. ` +
        `Upgrade: npm install -g @openai/codex@latest`,
    );
  }
  return pass(`${version} (>= ${MIN_CODEX_VERSION})`);
}

/**
 * The `codex auth` check, sources in the order a turn uses them: the stored
 * login (`codex login status` on a copy of `CODEX_HOME`), `CODEX_API_KEY`, a
 * non-OpenAI provider chosen through `extra_args`, `OPENAI_API_KEY`.
 */
async function authCheck(bin: string, config: Config, env: Env): Promise<Check> {
  const { pass, fail } = outcomes("codex auth");
  const home = codexHome(env);
  let s;
  {
    await using probe = await ProbeHome.create(home, { auth: true });
    s = await runCodex(bin, ["login", "status"], env, probe);
  }
  if (s.code === 0) {
    const lines = s.text.split("\n");
    const said = (lines.find((l) => /logged in|api key/i.test(l)) ?? lines[0]) || "logged in";
    return pass(`codex has a stored login (${oneLine(said)}); ${NOT_TRIED}`);
  }
  if (env("CODEX_API_KEY")) return pass(`a key is present in CODEX_API_KEY; ${NOT_TRIED}`);
  let provider: string | undefined; // the last `-c model_provider=X` of extra_args
  for (const a of config.extra_args) {
    provider = a.match(/^(?:--config=)?model_provider\s*=\s*"?([^"\s]+)"?$/)?.[1] ?? provider;
  }
  if (provider && provider !== "openai") {
    return pass(`extra_args select model provider "${provider}"; its credentials are not checked`);
  }
  if (env("OPENAI_API_KEY")) {
    return pass(
      "a key is present in OPENAI_API_KEY (the plugin passes it to codex as " +
        `CODEX_API_KEY: codex exec does not read OPENAI_API_KEY itself); ${NOT_TRIED}`,
    );
  }
  return fail(
    `not logged in (${oneLine(s.text) || `exit ${s.code}`}; CODEX_HOME ${home ?? "~/.codex"}). ` +
      "Run `codex login` (or `codex login --with-api-key` reading the key on stdin) as the user " +
      "the plugin runs as, with the same CODEX_HOME, or set OPENAI_API_KEY (or CODEX_API_KEY) " +
      "in its environment",
  );
}

/** Where Codex keeps the rollout of `threadId` (sessions/YYYY/MM/DD/rollout-…-ID.jsonl). */
async function findRollout(codexHome: string, threadId: string): Promise<string | undefined> {
  const walk = async (dir: string, depth: number): Promise<string | undefined> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return undefined;
    }
    for (const e of entries) {
      if (e.isFile && e.name.endsWith(`-${threadId}.jsonl`)) return `${dir}/${e.name}`;
      const hit = e.isDirectory && depth > 0 && await walk(`${dir}/${e.name}`, depth - 1);
      if (hit) return hit;
    }
  };
  return await walk(`${codexHome}/sessions`, 3) ?? await walk(`${codexHome}/archived_sessions`, 3);
}

async function sessionCheck(ws: string, env: Env): Promise<Check> {
  const { pass, fail } = outcomes("session");
  const file = `${ws}/${SESSION_FILE}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(file);
  } catch {
    return pass(`no ${SESSION_FILE}: the next turn starts a new Codex thread`);
  }
  if (info.isDirectory) {
    return fail(`${file} is a directory, so the thread id can never be saved. Remove it`);
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
    return pass(
      `${SESSION_FILE} is ${what} and is ignored: the next turn starts a new thread ` +
        "and replaces it",
    );
  }
  const home = codexHome(env) ?? "~/.codex";
  const rollout = await findRollout(home, text);
  if (rollout) return pass(`the next turn resumes thread ${text} (${rollout})`);
  return pass(
    `holds thread ${text}, but ${home}/sessions has no rollout for it ` +
      "(stale, or another CODEX_HOME): the next turn tries it, then starts a new thread",
  );
}

/** The `workspace` check, then (when it passes) the `session` check. */
export async function workspaceChecks(workspace: string, env: Env): Promise<Check[]> {
  const { pass, fail } = outcomes("workspace");
  const ws = workspace.startsWith("/") ? workspace : `${Deno.cwd()}/${workspace}`;
  try {
    if (!(await Deno.stat(ws)).isDirectory) {
      return [fail(`${ws} is not a directory. Point the agent at a directory`)];
    }
  } catch (e) {
    return [fail(
      `${ws} cannot be used (${(e as Error).message}). Create it (mkdir -p ${ws}) ` +
        "and give it to the user the plugin runs as",
    )];
  }
  const probe = `${ws}/.plexum-doctor-${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(probe, "", { createNew: true });
    await Deno.remove(probe);
  } catch (e) {
    return [fail(
      `${ws} is not writable by this user (${(e as Error).message}): the thread id ` +
        "cannot be saved and Codex cannot edit files there. Fix its owner or mode " +
        "(chown to the plugin's User=)",
    )];
  }
  return [pass(`${ws} is a writable directory`), await sessionCheck(ws, env)];
}

/** Run every check; `workspace` adds the workspace and session checks. */
export async function checks(
  config: Config,
  opts: { workspace?: string; env?: Env },
): Promise<Check[]> {
  // The real environment, read once: the app-server probe runs with CODEX_HOME at a scratch copy.
  const real = Deno.env.toObject();
  const env = opts.env ?? ((k: string) => real[k]);
  const bin = binaryCheck(config, env);
  const out = [bin.check];
  if (bin.path) {
    const path = bin.path;
    out.push(await versionCheck(path, env), await authCheck(path, config, env));
    await using probe = await ProbeHome.create(codexHome(env));
    out.push(await probe.with(() => backendCheck(config, env)));
    const sandbox = await probe.with(() => sandboxCheck(config, path, env));
    if (sandbox) out.push(sandbox);
  }
  if (opts.workspace !== undefined) out.push(...await workspaceChecks(opts.workspace, env));
  return out;
}

/** Print the checks to stdout, one line each; resolves the exit code. */
export async function doctor(config: Config, opts: { workspace?: string }): Promise<number> {
  const results = await checks(config, opts);
  for (const c of results) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  const failed = results.filter((c) => !c.ok).length;
  if (failed) console.log(`${failed} check(s) failed: a turn cannot run yet`);
  else {
    console.log(
      opts.workspace === undefined
        ? "ready as far as checked (add --workspace DIR to check an agent's workspace too); " +
          "credentials not tried"
        : "ready as far as checked; credentials not tried: `chat` runs one real turn",
    );
  }
  return failed ? 1 : 0;
}
