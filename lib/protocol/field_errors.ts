/**
 * Bounded `-32602` replies. A request can be wrong in millions of places (a
 * `messages` array of a million numbers): one entry each made a 1 MB request
 * cost a 63 MB reply. So validators keep the first {@linkcode MAX_FIELD_ERRORS}
 * ({@linkcode addError}) and count the rest beside the plain `FieldError[]`,
 * and a reply carries those and `errors_omitted`.
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
  if (omittedCount(more)) omitted.set(list, omittedCount(list) + omittedCount(more));
}

/** The `-32602` message and `data` for `errors`; fields cut to 256, messages to 1024 characters. */
export function invalidParams(
  errors: FieldError[],
): { message: string; data: { errors: FieldError[]; errors_omitted?: number } } {
  const kept = errors.slice(0, MAX_FIELD_ERRORS).map((e) => ({
    field: cut(e.field, 256),
    message: cut(e.message, 1024),
  }));
  const more = errors.length - kept.length + omittedCount(errors);
  const what = kept.map((e) => `${e.field} ${e.message}`).join("; ");
  return {
    message: `invalid params: ${what}${more ? `; and ${more} more` : ""}`,
    data: more ? { errors: kept, errors_omitted: more } : { errors: kept },
  };
}
