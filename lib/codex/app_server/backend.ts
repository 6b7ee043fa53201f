/**
 * The streaming backend: one warm `codex app-server` per plugin serves every
 * workspace's turns, each on its own thread, many at once. A turn gets a
 * lease on the process (supervisor.ts); a workspace's thread that another
 * process wrote while this one held it loaded is stale in it (thread.ts
 * `staleLoaded`), so the turn retires that process (logged at warn) and runs
 * on a new one, which resumes the thread from its file, both histories in it.
 * The turn itself is ./driver.ts.
 *
 * @example
 * ```ts
 * import { AppServerBackend } from "./backend.ts";
 * import { DEFAULTS } from "../../config.ts";
 * import { createLogger } from "../../log.ts";
 * const backend = new AppServerBackend({ config: { ...DEFAULTS }, log: createLogger() });
 * await backend.close();
 * ```
 *
 * @module
 */
import type { Backend, TurnRequest, TurnResult } from "../../turns/backend.ts";
import { cancelledTurn, failTurn, TurnFailure } from "../../turns/outcome.ts";
import type { Lease } from "./calls.ts";
import { INTERRUPT_GRACE_MS, runAppServerTurn } from "./driver.ts";
import { AppServerSupervisor, type SupervisorOptions } from "./supervisor.ts";
import { staleLoaded } from "./thread.ts";

/** Inputs of {@linkcode AppServerBackend}; `requestTimeoutMs` caps each request's deadline (calls.ts). */
export interface AppServerBackendOptions extends SupervisorOptions {
  interruptGraceMs?: number;
}

/** Runs turns on one shared `codex app-server`; see the module doc. */
export class AppServerBackend implements Backend {
  /** The process's life; also `auto`'s view of its health (select.ts). */
  readonly supervisor: AppServerSupervisor;

  constructor(private o: AppServerBackendOptions) {
    this.supervisor = new AppServerSupervisor(o);
  }

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    const lease = await this.#leaseFor(req);
    if (!("conn" in lease)) return lease;
    try {
      return await runAppServerTurn({
        conn: lease.conn,
        config: this.o.config,
        log: this.o.log,
        graceMs: this.o.interruptGraceMs ?? INTERRUPT_GRACE_MS,
        requestTimeoutMs: this.o.requestTimeoutMs ?? this.o.config.idle_timeout_s * 1000,
        wedged: (why) => lease.wedged(why),
      }, req);
    } finally {
      lease.release();
    }
  }

  /**
   * A lease on a process that does not hold the workspace's thread stale
   * (module doc), or the turn's result when none could be had.
   */
  async #leaseFor(req: TurnRequest): Promise<Lease | TurnResult> {
    for (;;) {
      const got = await this.supervisor.acquire(req.signal);
      if (got === undefined) return cancelledTurn();
      if (!got.ok) {
        const code = got.error.notFound ? "codex_not_found" : "codex_exit";
        return failTurn(req, new TurnFailure(code, got.error.message));
      }
      const lease = got.value;
      const stale = await staleLoaded(lease.conn, req).catch((e) => {
        lease.release();
        throw e;
      });
      if (!stale) return lease;
      this.o.log.warn(
        "another process wrote the workspace's thread since the codex app-server last ran a " +
          "turn on it; the turn runs on a new app-server that loads it again",
        { workspace: req.workspace, ...stale, pid: lease.conn.proc.pid },
      );
      lease.retire();
      lease.release();
    }
  }

  close(): Promise<void> {
    return this.supervisor.close();
  }
}
