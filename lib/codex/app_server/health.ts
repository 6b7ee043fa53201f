/**
 * Whether the app-server can take turns now, as `auto` (select.ts) sees it:
 * the small interface {@linkcode Health} that the supervisor implements, and
 * the memory of failures it answers from ({@linkcode FailureMemory}).
 *
 * Two failures are remembered, each for a while, so that a broken Codex does
 * not cost every turn the price of finding out again: a crash loop
 * ({@linkcode CRASH_LOOP_EXITS} unexpected exits within
 * {@linkcode CRASH_WINDOW_MS}), and a start that failed (a Codex whose
 * app-server never answers `initialize` took every turn
 * `initialize`'s timeout, 10 s): for {@linkcode FAILED_START_MEMORY_MS} after
 * one, turns get its failure at once instead of a new start. Time comes from a
 * {@linkcode Clock}, so tests move it instead of waiting.
 *
 * @example
 * ```ts
 * import { FailureMemory } from "./health.ts";
 * const memory = new FailureMemory();
 * memory.crashed();
 * console.log(memory.crashLooping); // false: one exit is no loop
 * memory.startFailed({ spawnFailed: false, notFound: false, message: "initialize timed out" });
 * console.log(memory.failedStart?.message); // "initialize timed out (…)"
 * ```
 *
 * @module
 */
import { type Clock, realClock } from "../../async.ts";
import type { Unavailable } from "./launch.ts";

/** Unexpected exits within {@linkcode CRASH_WINDOW_MS} that make a crash loop. */
export const CRASH_LOOP_EXITS = 3;
/** See {@linkcode CRASH_LOOP_EXITS}. */
export const CRASH_WINDOW_MS = 60_000;
/** How long a failed start is answered from memory before the next start is tried. */
export const FAILED_START_MEMORY_MS = 60_000;

/** The answer of {@linkcode Health.ready}. */
export type Readiness =
  | { state: "ready" }
  /** The caller's signal aborted while it waited (for a start). */
  | { state: "cancelled" }
  | { state: "unusable"; why: string; notFound: boolean };

/** What `auto` needs to know of the app-server, and nothing more. */
export interface Health {
  /** Ready for a turn (started if none runs), or why not; a cancel answers at once. */
  ready(signal: AbortSignal): Promise<Readiness>;
  /**
   * Turns go elsewhere for a while: forget past failures (the retry starts
   * with a clean slate) and stop the process, if one runs.
   */
  standDown(): Promise<void>;
}

/** Crash loops and failed starts, remembered for a while; see the module doc. */
export class FailureMemory {
  #crashes: number[] = [];
  #failedStart: { at: number; failure: Unavailable } | undefined;

  constructor(private clock: Clock = realClock) {}

  /** The process exited without being asked to. */
  crashed(): void {
    this.#crashes.push(this.clock.now());
  }

  /** True after {@linkcode CRASH_LOOP_EXITS} unexpected exits within {@linkcode CRASH_WINDOW_MS}. */
  get crashLooping(): boolean {
    const since = this.clock.now() - CRASH_WINDOW_MS;
    this.#crashes = this.#crashes.filter((t) => t >= since);
    return this.#crashes.length >= CRASH_LOOP_EXITS;
  }

  /** A start failed (not cancelled): remembered for {@linkcode FAILED_START_MEMORY_MS}. */
  startFailed(failure: Unavailable): void {
    this.#failedStart = { at: this.clock.now(), failure };
  }

  /** The failed start still remembered, saying so, or undefined. */
  get failedStart(): Unavailable | undefined {
    const f = this.#failedStart;
    if (!f) return undefined;
    const ago = this.clock.now() - f.at;
    if (ago >= FAILED_START_MEMORY_MS) {
      this.#failedStart = undefined;
      return undefined;
    }
    return {
      ...f.failure,
      message: `${f.failure.message} (a start ${Math.round(ago / 1000)} s ago; the next is ` +
        `tried ${FAILED_START_MEMORY_MS / 1000} s after it)`,
    };
  }

  /** Forget everything (see {@linkcode Health.standDown}). */
  forget(): void {
    this.#crashes = [];
    this.#failedStart = undefined;
  }
}
