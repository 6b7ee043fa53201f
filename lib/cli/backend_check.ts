/**
 * doctor's `backend` line: which backend a turn will use, and, when that is
 * the app-server, whether it starts. An operator reading doctor's output
 * must not have to guess whether turns stream (app-server) or come a whole
 * message at a time (exec), nor find out from a warning in the journal that
 * `auto` fell back.
 *
 * The app-server is started exactly as a turn starts it (same binary, same
 * command line from `extra_args`, same environment), sent `initialize`, and
 * stopped again with everything it started. Under `auto` an app-server that
 * does not start is not a failure (turns fall back to exec, as the plugin
 * does); under `"app-server"` it is.
 *
 * @example
 * ```ts
 * import { backendCheck } from "./backend_check.ts";
 * import { DEFAULTS } from "../config.ts";
 * const check = await backendCheck({ ...DEFAULTS, backend: "exec" }, "/usr/local/bin/codex");
 * // { ok: true, name: "backend", detail: 'exec (the "backend" setting): one codex exec per turn, ...' }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { type Env, launchEnv } from "../codex/launch_env.ts";
import { appServerArgs } from "../codex/app_server/args.ts";
import { AppServerProcess } from "../codex/app_server/process.ts";
import type { Check } from "./doctor.ts";

const NAME = "backend";
const EXEC = "one codex exec per turn, each agent message sent whole when it is complete";

/** The `backend` check for `config`, codex being at `bin`. */
export async function backendCheck(
  config: Config,
  bin: string,
  env: Env = (k) => Deno.env.get(k),
): Promise<Check> {
  if (config.backend === "exec") {
    return { ok: true, name: NAME, detail: `exec (the "backend" setting): ${EXEC}` };
  }
  const auto = config.backend === "auto";
  const args = appServerArgs(config.extra_args);
  if (!args.ok) {
    const why = `extra_args has ${JSON.stringify(args.error)}, which only codex exec takes ` +
      "(codex app-server takes only -c/--config, --enable, --disable and --strict-config)";
    return auto ? { ok: true, name: NAME, detail: `exec (backend "auto"): ${why}; ${EXEC}` } : {
      ok: false,
      name: NAME,
      detail: `"backend": "app-server", but ${why}. Remove it from extra_args, or set ` +
        '"backend": "exec"',
    };
  }
  const started = performance.now();
  const proc = await AppServerProcess.start({
    binary: bin,
    args: args.value,
    env: launchEnv(bin, env),
    log: createLogger({ level: "error" }),
    clientVersion: "doctor",
  });
  if (!proc.ok) {
    const why = proc.error.message;
    return auto
      ? {
        ok: true,
        name: NAME,
        detail: `exec (backend "auto"): ${why}; turns fall back to ${EXEC} ` +
          '(the plugin logs this once, at warn). Upgrade codex, or set "backend": "exec"',
      }
      : {
        ok: false,
        name: NAME,
        detail: `"backend": "app-server", but ${why}. Upgrade codex ` +
          '(npm install -g @openai/codex@latest), or set "backend": "exec"',
      };
  }
  const ms = Math.round(performance.now() - started);
  const version = /\/(\d+\.\d+\.\d+)/.exec(proc.value.userAgent)?.[1];
  await proc.value.stop();
  return {
    ok: true,
    name: NAME,
    detail:
      `app-server (backend "${config.backend}"): codex app-server${
        version ? ` ${version}` : ""
      } started and answered initialize in ${ms} ms, then was stopped; turns stream text as the ` +
      `model writes it, one app-server serves every workspace and exits after ` +
      `${config.app_server_idle_s}s without turns`,
  };
}
