/**
 * What a backend's driver reports while one turn runs, in one shape for both
 * backends, so that the turn runner (./turn_runner.ts) does once what every
 * turn needs: the thread id saved, history replayed, one error event,
 * rate limits, usage, the result.
 *
 * What the host sees as it streams (`text_delta`, `reasoning_delta`,
 * `activity`) already has the host's shape: the runner passes it on as it
 * is, so the first text pays for no conversion. The rest is for the runner:
 * the thread, the thread's running token totals, and exactly one end
 * (`failed` with its cause, or `completed`), the last happening of a run.
 *
 * TYPES ONLY: nothing here exists at run time.
 *
 * @example
 * ```ts
 * import type { Driver, Happening } from "./happening.ts";
 * const echo: Driver = {
 *   async *run(turn): AsyncGenerator<Happening> {
 *     yield { type: "thread", id: "0199a0b1-0000-7000-8000-000000000001", fresh: true };
 *     yield { type: "text_delta", text: turn.text };
 *     yield { type: "completed" };
 *   },
 * };
 * ```
 *
 * @module
 */
import type { PlexumEvent, TurnRequest } from "../turns/backend.ts";
import type { TurnFailure } from "../turns/outcome.ts";
import type { Totals } from "./usage.ts";

/** What reaches the host as it streams, in the host's own shape. */
export type Streamed = Extract<
  PlexumEvent,
  { type: "text_delta" } | { type: "reasoning_delta" } | { type: "activity" }
>;

/** Why a driver's run failed. */
export type FailureCause =
  /** The turn was cancelled (the host, or the plugin stopping). */
  | { type: "cancelled" }
  /** Codex no longer knows the thread it was asked to resume: the runner starts a new one. */
  | { type: "stale_thread"; message: string }
  /** Codex ran the turn and failed it: a usage limit or another failure (rate_limit.ts decides). */
  | { type: "codex"; message: string; errorInfo?: unknown }
  /** Anything else, already worded as the turn's error. */
  | { type: "failure"; failure: TurnFailure };

/** One thing that happened in a turn. */
export type Happening =
  | Streamed
  /** The turn's thread: `fresh` when this run started it. */
  | { type: "thread"; id: string; fresh: boolean }
  /** The thread's running token totals (the last one counts). */
  | { type: "totals"; totals: Totals }
  | { type: "failed"; cause: FailureCause }
  /** `answer`: the text of the turn's last agent message, when there was one. */
  | { type: "completed"; answer?: string };

/** What one run of a driver gets. */
export interface DriverTurn {
  req: TurnRequest;
  /** Resume this thread; undefined starts a new one. */
  threadId?: string;
  /** The text to send: the prompt, after the replayed history for a new thread. */
  text: string;
}

/** A way of running a turn on Codex, as a stream of happenings ending in `failed` or `completed`. */
export interface Driver {
  run(turn: DriverTurn): AsyncIterable<Happening>;
}
