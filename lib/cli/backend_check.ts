/**
 * doctor's `backend` line: which backend a turn will use, and, when that is
 * the app-server, whether it starts. An operator reading doctor's output
 * must not have to guess whether turns stream (app-server) or come a whole
 * message at a time (exec), nor find out from a warning in the journal that
 * `auto` fell back.
 *
 * The app-server is started exactly as a turn starts it: the same plan and
 * launch (lib/codex/app_server/launch.ts: binary, command line from
 * `extra_args`, environment, an API key's in-memory login), `initialize`d,
 * and stopped again with everything it started. Under `auto` an app-server that
 * does not start is not a failure (turns fall back to exec, as the plugin
 * does); under `"app-server"` it is.
 *
 * @example
 * ```ts
 * import { backendCheck } from "./backend_check.ts";
 * import { DEFAULTS } from "../config.ts";
 * const check = await backendCheck({ ...DEFAULTS, backend: "exec" });
 * // { ok: true, name: "backend", detail: 'exec (the "backend" setting): one codex exec per turn, ...' }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { defaultEnv, type Env } from "../codex/launch_env.ts";
import { launch, planLaunch } from "../codex/app_server/launch.ts";
import type { Check } from "./check.ts";

const NAME = "backend";
const EXEC = "one codex exec per turn, each agent message sent whole when it is complete";

/** The `backend` check for `config`. */
export async function backendCheck(config: Config, env: Env = defaultEnv): Promise<Check> {
  if (config.backend === "exec") {
    return { ok: true, name: NAME, detail: `exec (the "backend" setting): ${EXEC}` };
  }
  const auto = config.backend === "auto";
  const plan = planLaunch(config, env);
  if (!plan.ok && plan.error.execOnlyArg !== undefined) {
    const why = `extra_args has ${JSON.stringify(plan.error.execOnlyArg)}, which only codex ` +
      "exec takes (codex app-server takes only -c/--config, --enable, --disable and " +
      "--strict-config)";
    return auto ? { ok: true, name: NAME, detail: `exec (backend "auto"): ${why}; ${EXEC}` } : {
      ok: false,
      name: NAME,
      detail: `"backend": "app-server", but ${why}. Remove it from extra_args, or set ` +
        '"backend": "exec"',
    };
  }
  const started = performance.now();
  const proc = plan.ok
    ? await launch(plan.value, { log: createLogger({ level: "error" }), clientVersion: "doctor" })
    : plan;
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
