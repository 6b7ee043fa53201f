/**
 * Waiting, bounded: the few ways this plugin waits for a promise, written
 * once. A wait ends with the promise, an abort signal or a deadline; timers
 * never outlive it, and time comes from a {@linkcode Clock} that tests move
 * instead of sleeping. As in denoland/std's `async`: {@linkcode abortable}
 * rejects with the signal's `reason`, {@linkcode deadline} with a
 * `DOMException` named `TimeoutError`; {@linkcode within} gives a fallback.
 *
 * @example
 * ```ts
 * import { deadline, delay, within } from "./async.ts";
 * console.log(await within(delay(50).then(() => "done"), 10, "late")); // "late"
 * await deadline(delay(50), 10).catch((e) => console.log(e.name)); // "TimeoutError"
 * ```
 *
 * @module
 */

/** A source of time and timers; {@linkcode realClock} unless a test injects another. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Wall-clock time: `performance.now()` and the global timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout> | undefined),
};

/** Options of a wait: a signal that ends it early, and where time comes from. */
export type WaitOptions = { signal?: AbortSignal; clock?: Clock };

/** `p`, or a rejection with `signal.reason` once it aborts (`p` itself goes on). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** `p`, or `fallback` once `ms` have passed. */
export function within<T, F>(
  p: Promise<T>,
  ms: number,
  fallback: F,
  opts: { clock?: Clock } = {},
): Promise<T | F> {
  const clock = opts.clock ?? realClock;
  return new Promise<T | F>((resolve, reject) => {
    const timer = clock.setTimeout(() => resolve(fallback), Math.max(0, ms));
    p.finally(() => clock.clearTimeout(timer)).then(resolve, reject);
  });
}

/** `p`, or a `TimeoutError` once `ms` have passed, or `signal.reason` on abort. */
export async function deadline<T>(p: Promise<T>, ms: number, opts: WaitOptions = {}): Promise<T> {
  const late = Symbol("late");
  const r = await within(opts.signal ? abortable(p, opts.signal) : p, ms, late, opts);
  if (r === late) throw new DOMException("Signal timed out.", "TimeoutError");
  return r as T;
}

/** Resolves after `ms`; rejects with `signal.reason` when aborted first. */
export function delay(ms: number, opts: WaitOptions = {}): Promise<void> {
  const { clock = realClock, signal } = opts;
  let timer: unknown;
  const p = new Promise<void>((r) => (timer = clock.setTimeout(r, Math.max(0, ms))));
  return signal ? abortable(p, signal).finally(() => clock.clearTimeout(timer)) : p;
}

/** True for the rejection of {@linkcode deadline}. */
export function isTimeout(e: unknown): boolean {
  return e instanceof DOMException && e.name === "TimeoutError";
}

/** Fires once nothing happened for `ms` ({@linkcode IdleTimer.touch} restarts the wait). */
export class IdleTimer {
  #last: number;
  #timer: unknown;
  #fire!: () => void;
  /** Resolves once the quiet period has passed without a touch (never after `stop`). */
  readonly fired: Promise<void> = new Promise<void>((r) => (this.#fire = r));

  constructor(readonly ms: number, readonly clock: Clock = realClock) {
    this.#last = clock.now();
    this.#arm(ms);
  }

  touch(): void {
    this.#last = this.clock.now();
  }

  stop(): void {
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(wait: number) {
    this.#timer = this.clock.setTimeout(() => {
      const left = this.#last + this.ms - this.clock.now();
      if (left <= 0) this.#fire();
      else this.#arm(left);
    }, wait);
  }
}
