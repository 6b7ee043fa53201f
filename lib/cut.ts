/**
 * Bounded text: one way to shorten a string that may be huge (a log field, an
 * error message, an event's text) saying how long it was. Used by every layer.
 *
 * @example
 * ```ts
 * import { cut } from "./cut.ts";
 * cut("x".repeat(10), 4); // "xxxx… (cut from 10 characters)"
 * ```
 *
 * @module
 */

/** `s` cut to `max` characters (a surrogate pair kept whole), saying it was `length` long. */
export function cut(s: string, max: number, length = s.length): string {
  if (s.length <= max && length === s.length) return s;
  let end = Math.min(max, s.length);
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // keep a pair whole
  return `${s.slice(0, end)}… (cut from ${length} characters)`;
}
