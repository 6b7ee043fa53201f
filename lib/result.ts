/**
 * The outcome of a fallible function: expected errors (bad config, bad
 * params, a missing binary) are values callers must look at; exceptions are
 * left for bugs and I/O the caller cannot act on.
 *
 * @example
 * ```ts
 * import { err, ok, type Result } from "./result.ts";
 * const half = (n: number): Result<number, string> => n % 2 ? err(`${n} is odd`) : ok(n / 2);
 * ```
 *
 * @module
 */

/** A value, or the reason there is none. */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

/** A successful result. */
export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
/** A failed result. */
export const err = <E>(error: E): { ok: false; error: E } => ({ ok: false, error });
