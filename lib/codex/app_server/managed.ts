/**
 * One app-server process as the supervisor holds it (supervisor.ts): how
 * many turns run on it, whether its end was asked for (an exit that was not
 * is a crash, remembered for `auto`'s crash-loop rule), and its retirement:
 * a retired process takes no new turns and is stopped once the turns it
 * still serves have ended.
 *
 * @example
 * ```ts
 * import { Managed } from "./managed.ts";
 * import { AppServerProcess } from "./process.ts";
 * import { createLogger } from "../../log.ts";
 * const p = await AppServerProcess.start({
 *   binary: "/usr/local/bin/codex",
 *   args: ["app-server"],
 *   log: createLogger(),
 *   clientVersion: "0.1.0",
 * });
 * if (p.ok) {
 *   const m = new Managed(p.value);
 *   m.take(); // a turn runs on it
 *   const stopped = m.retire(); // no new turns
 *   m.give(); // its last turn ended: it is stopped
 *   await stopped;
 * }
 * ```
 *
 * @module
 */
import { compareVersions } from "../launch_env.ts";
import type { Connection } from "./calls.ts";
import type { AppServerProcess, ExitInfo } from "./process.ts";

/** One turn's use of a process (the supervisor hands it out), until {@linkcode Lease.release}. */
export interface Lease {
  readonly conn: Connection;
  /** It stopped answering: kill it; the next turn gets a new one. */
  wedged(why: string): void;
  /** A thread it holds is stale (supervisor.ts): no new turns; stopped after its last. */
  retire(): void;
  /** The turn is done with it (once; later calls do nothing). */
  release(): void;
}

/** See the module doc. */
export class Managed {
  readonly conn: Connection;
  /** Its end was asked for: not a crash. */
  intended = false;
  #turns = 0;
  #retired = false;
  #drained: (() => void) | undefined;

  constructor(proc: AppServerProcess) {
    this.conn = { proc, loaded: new Map() };
  }

  /** True once retired: it takes no new turns. */
  get retired(): boolean {
    return this.#retired;
  }

  /** A turn runs on it: a retirement now waits for it. */
  take(): void {
    this.#turns++;
  }

  /** A turn on it ended; a retired one is stopped after its last. */
  give(): void {
    if (--this.#turns === 0) this.#drained?.();
  }

  /** End it now, as asked for: `stop` the gentle way, `kill` at once. */
  end(how: "stop" | "kill"): Promise<ExitInfo> {
    this.intended = true;
    return how === "kill" ? this.conn.proc.kill() : this.conn.proc.stop();
  }

  /** No new turns; resolves once it was stopped after its turns in flight. */
  retire(): Promise<void> {
    this.intended = true;
    this.#retired = true;
    const drained = new Promise<void>((r) => (this.#drained = r));
    if (this.#turns === 0) this.#drained!();
    return drained.then(() => this.conn.proc.stop()).then(() => {}, () => {});
  }

  /**
   * Whether the next process must wait for this one's exit: Codex with
   * writer locks (0.169.0 and later, or a version it did not say) holds its
   * threads until then.
   */
  get holdsThreadsUntilExit(): boolean {
    const version = this.conn.proc.version;
    return !version || compareVersions(version, "0.169.0") >= 0;
  }
}
