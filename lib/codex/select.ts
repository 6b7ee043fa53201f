/**
 * Which backend a config gets (config key `backend`):
 *
 * - `"app-server"`: one shared `codex app-server` (lib/codex/app_server/),
 *   text streamed as Codex produces it, warm turns. A config whose
 *   `extra_args` the app-server cannot take is refused (-32602 naming the
 *   argument).
 * - `"exec"`: one `codex exec` process per turn (lib/codex/exec/).
 * - `"auto"` (default): the app-server, with exec as the fallback. Exec for
 *   the whole process when `extra_args` hold an argument only exec takes;
 *   exec for a while ({@linkcode RETRY_APP_SERVER_MS}) when the app-server
 *   cannot be started or initialized (a Codex without the subcommand) or keeps
 *   crashing, then the app-server is tried again. Each switch is logged once,
 *   at warn, with the reason.
 *
 * `auto` knows the app-server only through its {@linkcode Health}
 * (app_server/launch.ts): ready or why not, and "stand down" when turns move
 * to exec; the supervisor behind it decides the rest.
 *
 * @example
 * ```ts
 * import { selectBackend } from "./select.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const backend = selectBackend({ ...DEFAULTS }, createLogger());
 * await backend.close();
 * ```
 *
 * @module
 */
import meta from "../../deno.json" with { type: "json" };
import { type Clock, realClock } from "../async.ts";
import { type Config, ConfigError } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Backend, TurnRequest, TurnResult } from "../turns/backend.ts";
import { appServerArgs, type Health, unsupportedArgMessage } from "./app_server/launch.ts";
import { AppServerBackend } from "./app_server/backend.ts";
import { ExecBackend } from "./exec/driver.ts";

/** How long `auto` stays on exec after the app-server failed, before trying it again. */
export const RETRY_APP_SERVER_MS = 10 * 60_000;

/** The backend for `config`; throws {@linkcode ConfigError} for a config it cannot run. */
export function selectBackend(config: Config, log: Logger): Backend {
  if (config.backend === "exec") return new ExecBackend(config, log);
  const args = appServerArgs(config.extra_args);
  if (!args.ok) {
    if (config.backend === "app-server") {
      throw new ConfigError([{
        field: "extra_args",
        message: `${
          unsupportedArgMessage(args.error)
        }; remove it or set backend to "exec" or "auto"`,
      }]);
    }
    log.warn(
      "using codex exec for every turn: extra_args hold an argument codex app-server does not take",
      {
        argument: args.error,
      },
    );
    return new ExecBackend(config, log);
  }
  const appServer = new AppServerBackend({ config, log, clientVersion: meta.version });
  if (config.backend === "app-server") return appServer;
  return new AutoBackend({
    appServer,
    health: appServer.supervisor,
    exec: new ExecBackend(config, log),
    log,
  });
}

/** Inputs of {@linkcode AutoBackend}. */
export interface AutoBackendOptions {
  /** Where turns go while {@linkcode health} says it can take them. */
  appServer: Backend;
  /** The app-server's health (app_server/launch.ts); its supervisor in the plugin. */
  health: Health;
  /** Where turns go meanwhile. */
  exec: Backend;
  log: Logger;
  /** Default {@linkcode RETRY_APP_SERVER_MS}. */
  retryMs?: number;
  /** Where time comes from (tests: dev/fake_clock.ts). */
  clock?: Clock;
}

/** `auto`: the app-server while it works, exec while it does not. */
export class AutoBackend implements Backend {
  #o: AutoBackendOptions;
  #clock: Clock;
  #retryAt = 0;
  #onExec = false;

  constructor(o: AutoBackendOptions) {
    this.#o = o;
    this.#clock = o.clock ?? realClock;
  }

  /** Which backend the next turn uses (doctor, tests). */
  get current(): "app-server" | "exec" {
    return this.#onExec && this.#clock.now() < this.#retryAt ? "exec" : "app-server";
  }

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    const { appServer, health, exec, log } = this.#o;
    if (this.#clock.now() >= this.#retryAt) {
      const r = await health.ready(req.signal);
      if (r.state === "cancelled") {
        return { stop_reason: "cancelled", thread_id: null, usage: null };
      }
      if (r.state === "ready") {
        if (this.#onExec) {
          log.info("codex app-server works again; turns use it", {});
          this.#onExec = false;
        }
        return appServer.runTurn(req);
      }
      // A missing binary is exec's to report too (codex_not_found), not a reason to switch.
      if (r.notFound) return exec.runTurn(req);
      await health.standDown(); // the retry starts with a clean slate
      const retryMs = this.#o.retryMs ?? RETRY_APP_SERVER_MS;
      if (!this.#onExec) {
        log.warn("codex app-server is unusable; turns use codex exec", {
          why: r.why,
          retry_in_s: retryMs / 1000,
        });
      } else log.debug("codex app-server still unusable", { why: r.why });
      this.#onExec = true;
      this.#retryAt = this.#clock.now() + retryMs;
    }
    return exec.runTurn(req);
  }

  async close(): Promise<void> {
    await Promise.all([this.#o.appServer.close(), this.#o.exec.close()]);
  }
}
