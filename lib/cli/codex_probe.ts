/**
 * What doctor learns by starting Codex, without changing what it inspects.
 * Every Codex command writes into its `CODEX_HOME`, even `codex --version`,
 * and doctor run as root used to leave root-owned files in the service
 * user's. So Codex runs against a scratch `CODEX_HOME` ({@linkcode ProbeHome})
 * holding copies of `config.toml`, and of `auth.json` only for `codex login
 * status` (never for an app-server, which could spend the real refresh token).
 *
 * The `backend` and `sandbox` lines say which backend a turn will use (an
 * operator must not guess whether turns stream, nor learn from the journal
 * that `auto` fell back), and whether the app-server and a confining sandbox
 * start here (not fail in every turn), each started as a turn starts it
 * (lib/codex/app_server/launch.ts, lib/codex/sandbox.ts). Under `auto`
 * an app-server that does not start is no failure: turns use exec.
 *
 * @example
 * ```ts
 * import { backendCheck, ProbeHome, runCodex } from "./codex_probe.ts";
 * import { DEFAULTS } from "../config.ts";
 * await using home = await ProbeHome.create("/home/plexum/.codex", { auth: true });
 * const r = await runCodex("codex", ["login", "status"], (k) => Deno.env.get(k), home);
 * await backendCheck({ ...DEFAULTS, backend: "exec" }); // { ok: true, name: "backend", … }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { defaultEnv, type Env, launchEnv } from "../codex/launch_env.ts";
import { launch, planLaunch } from "../codex/app_server/launch.ts";
import { probeSandbox } from "../codex/sandbox.ts";

/** One line of doctor's output. */
export interface Check {
  ok: boolean;
  name: string;
  detail: string;
}

/** The two outcomes of check `name`. */
export const outcomes = (name: string): Record<"pass" | "fail", (detail: string) => Check> => ({
  pass: (detail) => ({ ok: true, name, detail }),
  fail: (detail) => ({ ok: false, name, detail }),
});

/** A scratch `CODEX_HOME` with copies of the real one's config (and login). */
export class ProbeHome implements AsyncDisposable {
  private constructor(readonly path: string) {}

  /** One from `real` (the real `CODEX_HOME`; undefined: an empty one); `auth`: copy the login. */
  static async create(real: string | undefined, o: { auth?: boolean } = {}): Promise<ProbeHome> {
    const path = await Deno.makeTempDir({ prefix: "plexum-doctor-codex-home-" });
    await Deno.chmod(path, 0o700);
    for (const name of real === undefined ? [] : ["config.toml", ...o.auth ? ["auth.json"] : []]) {
      try {
        await Deno.copyFile(`${real}/${name}`, `${path}/${name}`);
        await Deno.chmod(`${path}/${name}`, 0o600);
      } catch { /* absent or unreadable: Codex sees what it would see without it */ }
    }
    return new ProbeHome(path);
  }

  /** Run `fn` with this process's `CODEX_HOME` here, so every Codex it starts inherits it. */
  async with<T>(fn: () => Promise<T>): Promise<T> {
    const before = Deno.env.get("CODEX_HOME");
    Deno.env.set("CODEX_HOME", this.path);
    try {
      return await fn();
    } finally {
      if (before === undefined) Deno.env.delete("CODEX_HOME");
      else Deno.env.set("CODEX_HOME", before);
    }
  }

  async [Symbol.asyncDispose]() {
    await Deno.remove(this.path, { recursive: true }).catch(() => {});
  }
}

/**
 * Run codex as a turn does (PATH addition, API key hand-off, decided on the
 * real environment `env`) against `home`, for 30 s at most: its exit code,
 * stdout, and `text`: stdout then stderr without Codex's `WARNING:` lines.
 */
export async function runCodex(
  bin: string,
  args: string[],
  env: Env,
  home: ProbeHome,
): Promise<{ code: number; stdout: string; text: string }> {
  try {
    const o = await new Deno.Command(bin, {
      args,
      env: { ...launchEnv(bin, env), CODEX_HOME: home.path },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(o.stdout);
    const text = (stdout + "\n" + dec.decode(o.stderr)).split("\n").map((l) => l.trim())
      .filter((l) => l && !l.startsWith("WARNING:")).join("\n");
    return o.signal
      ? { code: -1, stdout, text: `killed by ${o.signal}` }
      : { code: o.code, stdout, text };
  } catch (e) {
    return { code: -1, stdout: "", text: (e as Error).message };
  }
}

/** `s` on one line, at most `max` characters. */
export const oneLine = (s: string, max = 200): string =>
  s.replace(/\s+/g, " ").trim().slice(0, max);

const EXEC = "one codex exec per turn, each agent message sent whole when it is complete";

/** The `backend` check for `config`. */
export async function backendCheck(config: Config, env: Env = defaultEnv): Promise<Check> {
  const { pass, fail } = outcomes("backend");
  if (config.backend === "exec") return pass(`exec (the "backend" setting): ${EXEC}`);
  const auto = config.backend === "auto";
  const plan = planLaunch(config, env);
  if (!plan.ok && plan.error.execOnlyArg !== undefined) {
    const why = `extra_args has ${JSON.stringify(plan.error.execOnlyArg)}, which only codex ` +
      "exec takes (codex app-server takes only -c/--config, --enable, --disable and " +
      "--strict-config)";
    if (auto) return pass(`exec (backend "auto"): ${why}; ${EXEC}`);
    return fail(
      `"backend": "app-server", but ${why}. Remove it from extra_args, or set "backend": "exec"`,
    );
  }
  const started = performance.now();
  const proc = plan.ok
    ? await launch(plan.value, { log: createLogger({ level: "error" }), clientVersion: "doctor" })
    : plan;
  if (!proc.ok && auto) {
    return pass(
      `exec (backend "auto"): ${proc.error.message}; turns fall back to ${EXEC} ` +
        '(the plugin logs this once, at warn). Upgrade codex, or set "backend": "exec"',
    );
  }
  if (!proc.ok) {
    return fail(
      `"backend": "app-server", but ${proc.error.message}. Upgrade codex ` +
        '(npm install -g @openai/codex@latest), or set "backend": "exec"',
    );
  }
  const ms = Math.round(performance.now() - started);
  const version = /\/(\d+\.\d+\.\d+)/.exec(proc.value.userAgent)?.[1];
  await proc.value.stop();
  return pass(
    `app-server (backend "${config.backend}"): codex app-server${version ? ` ${version}` : ""} ` +
      `started and answered initialize in ${ms} ms, then was stopped; turns stream text as the ` +
      `model writes it, one app-server serves every workspace and exits after ` +
      `${config.app_server_idle_s}s without turns`,
  );
}

/** The `sandbox` check, codex being at `bin`; none for `danger-full-access` (nothing to probe). */
export async function sandboxCheck(
  config: Config,
  bin: string,
  env: Env = (k) => Deno.env.get(k),
): Promise<Check | undefined> {
  if (config.sandbox === "danger-full-access") return undefined;
  const { pass, fail } = outcomes("sandbox");
  const allows = "commands can read what this user can, " +
    (config.sandbox === "read-only"
      ? "write nowhere, and have no network"
      : "write only the workspace, /tmp and TMPDIR, " +
        (config.network_access ? "and use the network" : "and have no network"));
  const r = await probeSandbox({ binary: bin, config, env: launchEnv(bin, env) });
  if (r.ok) return pass(`${config.sandbox}: ${allows} (probed: \`codex sandbox\` works)`);
  return fail(`${config.sandbox} cannot run here, so every turn would fail: ${r.why}`);
}
