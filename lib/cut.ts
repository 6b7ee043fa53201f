/**
 * Bounded text: one way to shorten a string that may be huge (a prompt in an
 * error message, a log field, an event's text) while saying how long it was,
 * so whoever reads it knows that something was cut and how much. Used by the
 * logger, error replies and outgoing events alike, so it lives in no layer.
 *
 * @example
 * ```ts
 * import { cut } from "./cut.ts";
 * cut("x".repeat(10), 4); // "xxxx… (cut from 10 characters)"
 * ```
 *
 * @module
 */

/**
 * Cut `s` to `max` characters, saying how long it was (`length`: of the
 * original, when `s` is already a part of it). Never splits a surrogate pair.
 */
export function cut(s: string, max: number, length = s.length): string {
  if (s.length <= max && length === s.length) return s;
  let end = Math.min(max, s.length);
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // keep a pair whole
  return `${s.slice(0, end)}… (cut from ${length} characters)`;
}
