/**
 * Waiting, bounded: the few ways this plugin waits for a promise, written
 * once. A wait is ended by the promise, an abort signal, or a deadline;
 * timers never outlive the wait, and time comes from a {@linkcode Clock} so
 * that tests can move it instead of sleeping.
 *
 * Semantics follow denoland/std's `async` module: {@linkcode abortable}
 * rejects with the signal's `reason`, {@linkcode deadline} with a
 * `DOMException` named `TimeoutError`. {@linkcode within} is the
 * non-throwing form most callers want: the value, or a fallback once the
 * time is up.
 *
 * @example
 * ```ts
 * import { abortable, deadline, delay, within } from "./async.ts";
 * const c = new AbortController();
 * const slow = delay(50).then(() => "done");
 * console.log(await within(slow, 10, "late")); // "late"
 * console.log(await deadline(Promise.resolve(1), 1000)); // 1
 * c.abort(new Error("cancelled"));
 * await abortable(slow, c.signal).catch((e) => console.log(e.message)); // "cancelled"
 * ```
 *
 * @module
 */

/** A source of time and timers; {@linkcode realClock} unless a test injects another. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Schedule `fn`; the id is only ever given back to `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Wall-clock time: `performance.now()` and the global timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout> | undefined),
};

/** Options of every wait here. */
export interface WaitOptions {
  /** Ends the wait early (rejecting with `signal.reason`). */
  signal?: AbortSignal;
  /** Where time comes from; {@linkcode realClock} by default. */
  clock?: Clock;
}

/** The reason an aborted signal gives (a fresh `AbortError` when it gave none). */
function reasonOf(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The wait was aborted.", "AbortError");
}

/**
 * `p`, or a rejection with `signal.reason` as soon as the signal aborts.
 * `p` itself goes on: the caller decides what a late answer means.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reasonOf(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** `p`, or `fallback` once `ms` have passed (or at once when `opts.signal` aborts). */
export function within<T, F>(
  p: Promise<T>,
  ms: number,
  fallback: F,
  opts: WaitOptions = {},
): Promise<T | F> {
  const clock = opts.clock ?? realClock;
  const signal = opts.signal;
  if (signal?.aborted) return Promise.resolve(fallback);
  return new Promise<T | F>((resolve, reject) => {
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      resolve(fallback);
    };
    const timer = clock.setTimeout(onAbort, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
    p.then((v) => {
      done();
      resolve(v);
    }, (e) => {
      done();
      reject(e);
    });
  });
}

/** `p`, or a `TimeoutError` once `ms` have passed, or `signal.reason` on abort. */
export async function deadline<T>(p: Promise<T>, ms: number, opts: WaitOptions = {}): Promise<T> {
  const late = Symbol("late");
  const r = await within(opts.signal ? abortable(p, opts.signal) : p, ms, late, {
    clock: opts.clock,
  });
  if (r === late) throw new DOMException("Signal timed out.", "TimeoutError");
  return r as T;
}

/** Resolves after `ms`; rejects with `signal.reason` when aborted first. */
export function delay(ms: number, opts: WaitOptions = {}): Promise<void> {
  const clock = opts.clock ?? realClock;
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(reasonOf(signal!));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** True for the rejection of {@linkcode deadline}. */
export function isTimeout(e: unknown): boolean {
  return e instanceof DOMException && e.name === "TimeoutError";
}

/**
 * A timer that fires once nothing has happened for `ms`: each
 * {@linkcode IdleTimer.touch} starts the quiet period again. For the
 * "Codex said nothing for idle_timeout_s" rule of both backends.
 */
export class IdleTimer {
  #last: number;
  #timer: unknown;
  #fired: Promise<void>;
  #fire!: () => void;
  #clock: Clock;

  constructor(readonly ms: number, clock: Clock = realClock) {
    this.#clock = clock;
    this.#last = clock.now();
    this.#fired = new Promise<void>((r) => (this.#fire = r));
    this.#arm(ms);
  }

  /** Resolves once the quiet period has passed without a touch. */
  get fired(): Promise<void> {
    return this.#fired;
  }

  /** Something happened: the quiet period starts again. */
  touch(): void {
    this.#last = this.#clock.now();
  }

  /** Stop the timer; {@linkcode IdleTimer.fired} then never resolves. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(wait: number) {
    this.#timer = this.#clock.setTimeout(() => {
      const left = this.#last + this.ms - this.#clock.now();
      if (left <= 0) this.#fire();
      else this.#arm(left);
    }, wait);
  }
}
