/**
 * A start that every caller arriving while it runs shares, and that stops
 * when nobody waits for it any more. Turns arriving together while the
 * app-server starts wait for the one start; a turn cancelled meanwhile
 * answers at once, and when it was the last one waiting the start is aborted
 * too (the starting process once ran on, up to `initialize`'s timeout, for
 * nobody).
 *
 * @example
 * ```ts
 * import { SharedStart } from "./shared_start.ts";
 * import { delay } from "../../async.ts";
 * const start = new SharedStart((signal) => delay(100, { signal }).then(() => "up", () => "aborted"));
 * const ac = new AbortController();
 * const a = start.join(ac.signal);
 * const b = start.join();
 * ac.abort();
 * console.log(await a, await b); // undefined "up": b still waited
 * ```
 *
 * @module
 */
import { abortable } from "../../async.ts";

interface Run<T> {
  promise: Promise<T>;
  waiters: number;
  abort: AbortController;
}

/** See the module doc. */
export class SharedStart<T> {
  #run: Run<T> | undefined;

  /** `start` must resolve (not reject), and end what it began when its signal aborts. */
  constructor(private start: (signal: AbortSignal) => Promise<T>) {}

  /** The start under way, if any. */
  get pending(): Promise<T> | undefined {
    return this.#run?.promise;
  }

  /**
   * The outcome of the start under way, or of a new one; undefined as soon
   * as `signal` aborts (the start is aborted when no one else waits for it).
   */
  async join(signal?: AbortSignal): Promise<T | undefined> {
    if (signal?.aborted) return undefined;
    const run = this.#run ?? this.#begin();
    run.waiters++;
    try {
      if (!signal) return await run.promise;
      return await abortable(run.promise, signal).catch((e) => {
        if (signal.aborted) return undefined;
        throw e;
      });
    } finally {
      if (--run.waiters === 0 && signal?.aborted && this.#run === run) run.abort.abort();
    }
  }

  #begin(): Run<T> {
    const abort = new AbortController();
    const run: Run<T> = { waiters: 0, abort, promise: this.start(abort.signal) };
    this.#run = run;
    run.promise.finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
    return run;
  }
}
