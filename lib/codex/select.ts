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
import { type Config, ConfigError } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Backend, TurnRequest, TurnResult } from "../turns/backend.ts";
import { appServerArgs, unsupportedArgMessage } from "./app_server/args.ts";
import { AppServerBackend, whileNotAborted } from "./app_server/backend.ts";
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
  return new AutoBackend(appServer, new ExecBackend(config, log), log);
}

/** `auto`: the app-server while it works, exec while it does not. */
export class AutoBackend implements Backend {
  #retryAt = 0;
  #onExec = false;

  constructor(
    private appServer: AppServerBackend,
    private exec: Backend,
    private log: Logger,
    private retryMs = RETRY_APP_SERVER_MS,
  ) {}

  /** Which backend the next turn uses (doctor, tests). */
  get current(): "app-server" | "exec" {
    return this.#onExec && performance.now() < this.#retryAt ? "exec" : "app-server";
  }

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    if (performance.now() >= this.#retryAt) {
      let why: string | undefined;
      if (this.appServer.crashLooping) {
        why = "codex app-server keeps exiting (3 times within a minute)";
        this.appServer.forgetCrashes(); // the retry starts with a clean slate
        await this.appServer.release();
      } else {
        const started = await whileNotAborted(this.appServer.start(), req.signal);
        if (started === undefined) {
          return { stop_reason: "cancelled", thread_id: null, usage: null };
        }
        // A missing binary is exec's to report too (codex_not_found), not a reason to switch.
        if (!started.ok && started.error.notFound) return this.exec.runTurn(req);
        if (!started.ok) why = started.error.message;
      }
      if (why === undefined) {
        if (this.#onExec) {
          this.log.info("codex app-server works again; turns use it", {});
          this.#onExec = false;
        }
        return this.appServer.runTurn(req);
      }
      if (!this.#onExec) {
        this.log.warn("codex app-server is unusable; turns use codex exec", {
          why,
          retry_in_s: this.retryMs / 1000,
        });
      } else this.log.debug("codex app-server still unusable", { why });
      this.#onExec = true;
      this.#retryAt = performance.now() + this.retryMs;
    }
    return this.exec.runTurn(req);
  }

  async close(): Promise<void> {
    await Promise.all([this.appServer.close(), this.exec.close()]);
  }
}
