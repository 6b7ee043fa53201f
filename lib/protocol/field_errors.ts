/**
 * Bounded `-32602` replies. A request can be wrong in millions of places (a
 * `messages` array of a million numbers); one entry per place made a 1 MB
 * request cost a 63 MB reply and gigabytes of memory. So a reply carries the
 * first {@linkcode MAX_FIELD_ERRORS} entries and how many more there were,
 * and validators keep only that many while they count the rest
 * ({@linkcode addError}): the list stays a plain `FieldError[]` for callers,
 * the count of what it left out travels beside it.
 *
 * @example
 * ```ts
 * import { addError, invalidParams } from "./field_errors.ts";
 * import type { FieldError } from "../config.ts";
 * const errors: FieldError[] = [];
 * for (let i = 0; i < 1000; i++) addError(errors, { field: `messages[${i}]`, message: "must be an object" });
 * const { message, data } = invalidParams(errors);
 * // message: "invalid params: messages[0] must be an object; …; and 980 more"
 * // data: { errors: [20 entries], errors_omitted: 980 }
 * ```
 *
 * @module
 */
import type { FieldError } from "../config.ts";
import { cut } from "../cut.ts";

/** Entries in one reply's `data.errors`; the rest are counted in `data.errors_omitted`. */
export const MAX_FIELD_ERRORS = 20;
/** Longest `field` and `message` of an entry, in characters. */
export const MAX_FIELD_CHARS = 256;
/** Longest `message` of an entry, in characters. */
export const MAX_ENTRY_MESSAGE_CHARS = 1024;

const omitted = new WeakMap<FieldError[], number>();

/** How many errors `list` was given beyond what it kept. */
export function omittedCount(list: FieldError[]): number {
  return omitted.get(list) ?? 0;
}

/** Add `e` to `list`, or only count it once `list` holds {@linkcode MAX_FIELD_ERRORS}. */
export function addError(list: FieldError[], e: FieldError): void {
  if (list.length < MAX_FIELD_ERRORS) list.push(e);
  else omitted.set(list, omittedCount(list) + 1);
}

/** Add every error of `more` (and what it had left out) to `list`, bounded as {@linkcode addError}. */
export function addErrors(list: FieldError[], more: FieldError[]): void {
  for (const e of more) addError(list, e);
  const n = omittedCount(more);
  if (n) omitted.set(list, omittedCount(list) + n);
}

/** The `-32602` message and `data` for `errors`: bounded whatever their number and size. */
export function invalidParams(
  errors: FieldError[],
): { message: string; data: { errors: FieldError[]; errors_omitted?: number } } {
  const kept = errors.slice(0, MAX_FIELD_ERRORS).map((e) => ({
    field: cut(e.field, MAX_FIELD_CHARS),
    message: cut(e.message, MAX_ENTRY_MESSAGE_CHARS),
  }));
  const more = errors.length - kept.length + omittedCount(errors);
  const what = kept.map((e) => `${e.field} ${e.message}`).join("; ");
  return {
    message: `invalid params: ${what}${more ? `; and ${more} more` : ""}`,
    data: more ? { errors: kept, errors_omitted: more } : { errors: kept },
  };
}
