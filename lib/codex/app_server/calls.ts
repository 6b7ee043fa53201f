/**
 * A turn's requests to the app-server, and how each can fail; shared by
 * opening the thread (thread.ts) and running the turn (backend.ts):
 *
 * - every request has a deadline of its own ({@linkcode deadlineOf}; the
 *   app-server answers a line it cannot parse with silence): one that passes
 *   fails only its turn, with one `timeout` error naming the request; the
 *   shared process is replaced (it is wedged) only when a probe, a request no
 *   Codex knows and every Codex refuses at once, is not answered either;
 * - a cancel does not wait for the answer; one that does not follow within
 *   the grace period is probed the same way (not awaited);
 * - a refusal is one `codex_exit` error (exec's code when Codex refuses
 *   before the turn runs), naming a thread held by another writer as such.
 *
 * @example
 * ```ts
 * import { TurnCalls, type TurnContext } from "./calls.ts";
 * declare const ctx: TurnContext;
 * const calls = new TurnCalls(ctx, new AbortController().signal);
 * try {
 *   const r = await calls.ask("thread/start", { cwd: "/w" }); // undefined: cancelled first
 *   console.log(r?.thread.id); // typed by the method (./wire.ts)
 * } catch (e) {
 *   const failed = await calls.describe(e, "thread/start"); // the turn's `failed` happening
 * }
 * ```
 *
 * @module
 */
import { abortable, type Clock, within } from "../../async.ts";
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import type { ErrorCode } from "../../turns/backend.ts";
import { TurnFailure } from "../../turns/outcome.ts";
import type { Happening } from "../turn_runner.ts";
import { ConnectionClosed, RequestTimeout, RpcError } from "./client.ts";
import { type AppServerProcess, exitText } from "./process.ts";
import { THREAD_HELD } from "../codex_errors.ts";
import type { Method, Requests } from "./wire.ts";

/** The `failed` happening of a turn cancelled, or failed with `code` and `message`. */
export const CANCELLED: Happening = { type: "failed", cause: { type: "cancelled" } };
export function failed(code: ErrorCode, message: string): Happening {
  return { type: "failed", cause: { type: "failure", failure: new TurnFailure(code, message) } };
}

/** The rollout file as our last turn left it; size 0 and no inode: there was no file yet. */
export type RolloutMark = { size: number; ino: number | null };

/**
 * A running app-server and the threads loaded on it (no `thread/resume` for
 * them), with what thread.ts checks: the rollout file, a stat of it when our
 * last turn ended, that turn's workspace, and our latest turns' ids.
 */
export interface Connection {
  proc: AppServerProcess;
  loaded: Map<string, LoadedThread>;
}

type LoadedThread = {
  path?: string;
  mark?: Promise<RolloutMark>;
  workspace?: string;
  ours: Set<string>;
};

/**
 * One turn's use of a process (supervisor.ts): `wedged` kills it (it stopped
 * answering), `retire` stops it after its last turn (a thread it holds is
 * stale), `release` ends the lease (once; later calls do nothing).
 */
export interface Lease {
  readonly conn: Connection;
  wedged(why: string): void;
  retire(): void;
  release(): void;
}

/**
 * What a turn needs besides its request: how long a cancelled or timed-out
 * turn waits for Codex to confirm (`graceMs`), how long a request may wait
 * for its answer, whom to tell that the app-server stopped answering, and
 * where the idle timeout's time comes from (tests).
 */
export interface TurnContext {
  conn: Connection;
  config: Config;
  log: Logger;
  graceMs: number;
  requestTimeoutMs: number;
  wedged(why: string): void;
  clock?: Clock;
}

/** turn/start, turn/steer: Codex answers them before any model work, in milliseconds. */
export const CONTROL_TIMEOUT_MS = 15_000;
/** thread/start, thread/resume: may wait on Codex's login-shell snapshot of the environment. */
export const OPEN_TIMEOUT_MS = 60_000;
/** The probe of a process that left a request unanswered: any answer at all is quick. */
const PROBE_MS = 5_000;

/** A request's deadline: by kind (above; any other quick as turn/start), at most `requestTimeoutMs`. */
export function deadlineOf(ctx: TurnContext, method: string): number {
  const ms = method.startsWith("thread/") ? OPEN_TIMEOUT_MS : CONTROL_TIMEOUT_MS;
  return Math.min(ms, ctx.requestTimeoutMs);
}

/** `request` typed by method (./wire.ts): the one typed way this folder sends a request. */
export function request<M extends Method>(
  conn: Connection,
  method: M,
  params: Requests[M]["params"],
  timeoutMs?: number,
): Promise<Requests[M]["result"]> {
  return conn.proc.client.request<Requests[M]["result"]>(method, params, timeoutMs);
}

/** The requests of one turn; see the module doc. */
export class TurnCalls {
  constructor(private ctx: TurnContext, private signal: AbortSignal) {}

  /**
   * A request raced against cancel: undefined when the turn was cancelled
   * first. An answer that comes after the cancel (within the grace period)
   * goes to `onLate`, e.g. to interrupt a turn that started all the same.
   */
  async ask<M extends Method>(
    method: M,
    params: Requests[M]["params"],
    onLate?: (answer: Requests[M]["result"]) => void,
  ): Promise<Requests[M]["result"] | undefined> {
    const { ctx, signal } = this;
    const pending = request(ctx.conn, method, params, deadlineOf(ctx, method));
    if (signal.aborted) return undefined;
    try {
      return await abortable(pending, signal);
    } catch (e) {
      if (!signal.aborted) throw e;
    }
    // Cancelled while waiting: an answer should still come soon; none means wedged.
    const late = pending.then((v) => onLate?.(v)).then(() => true, () => true);
    if (!await within(late, ctx.graceMs, false)) {
      this.answers().then((ok) => ok || ctx.wedged(`${method} was not answered after a cancel`));
    }
    return undefined;
  }

  /** Does the process still answer? Any answer to the probe (an error, always) says it does. */
  answers(): Promise<boolean> {
    const ms = Math.min(PROBE_MS, this.ctx.requestTimeoutMs);
    return this.ctx.conn.proc.client.request("plexum/probe", {}, ms)
      .then(() => true, (e) => e instanceof RpcError);
  }

  /** The failure a rejected {@linkcode ask} means; rethrows what is a bug. */
  async describe(e: unknown, method: string, threadId?: string): Promise<Happening> {
    if (e instanceof RpcError && THREAD_HELD.test(e.message)) {
      return failed(
        "codex_exit",
        `the workspace's Codex thread ${threadId} is in use by another Codex process ` +
          `(another plugin process or a \`chat\` one-shot on this workspace): ${e.message}. ` +
          `The thread was kept; try again when that process has finished`,
      );
    }
    if (e instanceof RpcError) {
      return failed("codex_exit", `codex app-server refused ${method}: ${e.message}`);
    }
    if (e instanceof RequestTimeout) {
      // Only this turn pays, unless the process answers nothing else either (module doc).
      if (await this.answers()) return failed("timeout", `${e.message}; turn ended`);
      this.ctx.wedged(`${e.message}, nor a probe`);
      return failed("timeout", `${e.message}; turn ended, the app-server is restarted`);
    }
    if (e instanceof ConnectionClosed) return await this.exited();
    throw e;
  }

  /** The failure of a turn whose app-server went away. */
  async exited(): Promise<Happening> {
    const proc = this.ctx.conn.proc;
    const info = await within(proc.exit, this.ctx.graceMs, undefined);
    const how = info ? `exited (${exitText(info)})` : "closed its output";
    const detail = info?.detail || proc.stderrSummary();
    const why = `codex app-server ${how} before the turn completed${detail ? `: ${detail}` : ""}`;
    return failed("codex_exit", why);
  }
}
