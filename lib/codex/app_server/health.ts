/**
 * Whether the app-server can take turns now, as `auto` (select.ts) sees it
 * ({@linkcode Health}, which the supervisor implements), and how a start is
 * had: shared by every turn that arrives while it runs, and remembered when
 * it failed.
 *
 * Two failures are remembered ({@linkcode FailureMemory}) so that a broken
 * Codex does not cost every turn the price of finding out again: a crash
 * loop ({@linkcode CRASH_LOOP_EXITS} unexpected exits within
 * {@linkcode CRASH_WINDOW_MS}), and a failed start (an app-server that never
 * answers `initialize` cost every turn 10 s) for
 * {@linkcode FAILED_START_MEMORY_MS}. A {@linkcode SharedStart} that nobody
 * waits for any more is aborted (it once ran on to `initialize`'s timeout).
 *
 * @example
 * ```ts
 * import { FailureMemory, SharedStart } from "./health.ts";
 * import { delay } from "../../async.ts";
 * const memory = new FailureMemory();
 * memory.crashed();
 * console.log(memory.crashLooping); // false: one exit is no loop
 * const start = new SharedStart((signal) => delay(100, { signal }).then(() => "up", () => "no"));
 * const ac = new AbortController();
 * const [a, b] = [start.join(ac.signal), start.join()];
 * ac.abort();
 * console.log(await a, await b); // undefined "up": b still waited
 * ```
 *
 * @module
 */
import { abortable, type Clock, realClock } from "../../async.ts";
import type { Unavailable } from "./launch.ts";

/** A crash loop: this many unexpected exits within {@linkcode CRASH_WINDOW_MS}. */
export const CRASH_LOOP_EXITS = 3;
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
  /** Turns go elsewhere for a while: forget past failures, stop the process if one runs. */
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

type Run<T> = { promise: Promise<T>; waiters: number; abort: AbortController };

/** A start shared by its callers, aborted when none waits any more (module doc). */
export class SharedStart<T> {
  /** The start under way, if any. */
  run: Run<T> | undefined;

  /** `start` must resolve (not reject), and end what it began when its signal aborts. */
  constructor(private start: (signal: AbortSignal) => Promise<T>) {}

  /**
   * The outcome of the start under way, or of a new one; undefined as soon
   * as `signal` aborts (the start is aborted when no one else waits for it).
   */
  async join(signal?: AbortSignal): Promise<T | undefined> {
    if (signal?.aborted) return undefined;
    const run = this.run ?? this.#begin();
    run.waiters++;
    try {
      if (!signal) return await run.promise;
      return await abortable(run.promise, signal).catch((e) => {
        if (signal.aborted) return undefined;
        throw e;
      });
    } finally {
      if (--run.waiters === 0 && signal?.aborted && this.run === run) run.abort.abort();
    }
  }

  #begin(): Run<T> {
    const abort = new AbortController();
    const run: Run<T> = { waiters: 0, abort, promise: this.start(abort.signal) };
    this.run = run;
    run.promise.finally(() => {
      if (this.run === run) this.run = undefined;
    });
    return run;
  }
}
