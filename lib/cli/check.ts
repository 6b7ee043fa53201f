/**
 * One line of `doctor`'s output. Every check (doctor.ts, backend_check.ts)
 * returns one; it lives apart from both so that neither imports the other.
 *
 * @example
 * ```ts
 * import type { Check } from "./check.ts";
 * const c: Check = { ok: true, name: "codex version", detail: "0.169.0" };
 * console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
 * ```
 *
 * @module
 */

/** One check's outcome. */
export interface Check {
  ok: boolean;
  name: string;
  detail: string;
}
