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
 *   at warn, with the reason. `auto` knows the app-server only through its
 *   {@linkcode Health} (app_server/launch.ts).
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
import { cancelledTurn } from "../turns/outcome.ts";
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
    const why = unsupportedArgMessage(args.error);
    const message = `${why}; remove it or set backend to "exec" or "auto"`;
    if (config.backend === "app-server") throw new ConfigError([{ field: "extra_args", message }]);
    const warning = "using codex exec for every turn: extra_args hold an argument codex " +
      "app-server does not take";
    log.warn(warning, { argument: args.error });
    return new ExecBackend(config, log);
  }
  const appServer = new AppServerBackend({ config, log, clientVersion: meta.version });
  if (config.backend === "app-server") return appServer;
  const exec = new ExecBackend(config, log);
  return new AutoBackend({ appServer, health: appServer.supervisor, exec, log });
}

/**
 * Inputs of {@linkcode AutoBackend}: turns go to `appServer` while `health`
 * (its supervisor's) says it can take them, else to `exec`; `retryMs`
 * default {@linkcode RETRY_APP_SERVER_MS}; `clock` for tests.
 */
export interface AutoBackendOptions {
  appServer: Backend;
  health: Health;
  exec: Backend;
  log: Logger;
  retryMs?: number;
  clock?: Clock;
}

/** `auto`: the app-server while it works, exec while it does not. */
export class AutoBackend implements Backend {
  #retryAt = 0;
  #onExec = false;

  constructor(readonly o: AutoBackendOptions) {}

  get #clock(): Clock {
    return this.o.clock ?? realClock;
  }

  /** Which backend the next turn uses (doctor, tests). */
  get current(): "app-server" | "exec" {
    return this.#onExec && this.#clock.now() < this.#retryAt ? "exec" : "app-server";
  }

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    const { appServer, health, exec, log } = this.o;
    if (this.#clock.now() >= this.#retryAt) {
      const r = await health.ready(req.signal);
      if (r.state === "cancelled") return cancelledTurn();
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
      const retryMs = this.o.retryMs ?? RETRY_APP_SERVER_MS;
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
    await Promise.all([this.o.appServer.close(), this.o.exec.close()]);
  }
}
