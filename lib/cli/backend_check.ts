/**
 * doctor's `backend` and `sandbox` lines: which backend a turn will use (an
 * operator must not guess whether turns stream, nor learn from the journal
 * that `auto` fell back), and whether the app-server and a confining sandbox
 * start on this host (not fail in every turn), each started as a turn starts
 * it (lib/codex/app_server/launch.ts, lib/codex/sandbox_probe.ts). Under
 * `auto` an app-server that does not start is no failure: turns use exec.
 *
 * @example
 * ```ts
 * import { backendCheck } from "./backend_check.ts";
 * import { DEFAULTS } from "../config.ts";
 * await backendCheck({ ...DEFAULTS, backend: "exec" }); // { ok: true, name: "backend", … }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import { defaultEnv, type Env, launchEnv } from "../codex/launch_env.ts";
import { launch, planLaunch } from "../codex/app_server/launch.ts";
import { probeSandbox } from "../codex/sandbox_probe.ts";
import { type Check, check } from "./codex_probe.ts";

const EXEC = "one codex exec per turn, each agent message sent whole when it is complete";

/** The `backend` check for `config`. */
export async function backendCheck(config: Config, env: Env = defaultEnv): Promise<Check> {
  const line = (ok: boolean, detail: string) => check("backend", ok, detail);
  if (config.backend === "exec") return line(true, `exec (the "backend" setting): ${EXEC}`);
  const auto = config.backend === "auto";
  const plan = planLaunch(config, env);
  if (!plan.ok && plan.error.execOnlyArg !== undefined) {
    const why = `extra_args has ${JSON.stringify(plan.error.execOnlyArg)}, which only codex ` +
      "exec takes (codex app-server takes only -c/--config, --enable, --disable and " +
      "--strict-config)";
    return auto ? line(true, `exec (backend "auto"): ${why}; ${EXEC}`) : line(
      false,
      `"backend": "app-server", but ${why}. Remove it from extra_args, or set "backend": "exec"`,
    );
  }
  const started = performance.now();
  const proc = plan.ok
    ? await launch(plan.value, { log: createLogger({ level: "error" }), clientVersion: "doctor" })
    : plan;
  if (!proc.ok) {
    const why = proc.error.message;
    return auto
      ? line(
        true,
        `exec (backend "auto"): ${why}; turns fall back to ${EXEC} ` +
          '(the plugin logs this once, at warn). Upgrade codex, or set "backend": "exec"',
      )
      : line(
        false,
        `"backend": "app-server", but ${why}. Upgrade codex ` +
          '(npm install -g @openai/codex@latest), or set "backend": "exec"',
      );
  }
  const ms = Math.round(performance.now() - started);
  const version = /\/(\d+\.\d+\.\d+)/.exec(proc.value.userAgent)?.[1];
  await proc.value.stop();
  return line(
    true,
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
  const allows = "commands can read what this user can, " +
    (config.sandbox === "read-only"
      ? "write nowhere, and have no network"
      : "write only the workspace, /tmp and TMPDIR, " +
        (config.network_access ? "and use the network" : "and have no network"));
  const r = await probeSandbox({ binary: bin, config, env: launchEnv(bin, env) });
  return r.ok
    ? check("sandbox", true, `${config.sandbox}: ${allows} (probed: \`codex sandbox\` works)`)
    : check(
      "sandbox",
      false,
      `${config.sandbox} cannot run here, so every turn would fail: ${r.why}`,
    );
}
