/**
 * Per-turn usage from Codex's running totals. Both backends get cumulative
 * token counts for the thread (exec's `turn.completed.usage`, the
 * app-server's `thread/tokenUsage/updated` `total`), so a turn's usage is the
 * totals at its end minus the totals stored after the thread's previous turn.
 *
 * @example
 * ```ts
 * import { usageDelta } from "./usage.ts";
 * usageDelta({ input_tokens: 240, output_tokens: 20 }, { input_tokens: 120, output_tokens: 10 });
 * // { input_tokens: 120, cached_input_tokens: 0, output_tokens: 10, reasoning_tokens: 0 }
 * ```
 *
 * @module
 */
import type { Usage } from "../turns/backend.ts";
import { err, ok, type Result } from "../result.ts";

/** The counts Codex reports, in `codex exec --json`'s names. */
export const COUNT_KEYS = [
  "input_tokens",
  "cached_input_tokens",
  "output_tokens",
  "reasoning_output_tokens",
  "cache_write_input_tokens",
] as const;

/** The name of one count. */
export type CountKey = typeof COUNT_KEYS[number];

/**
 * Cumulative token totals of a thread, in `codex exec --json`'s field names
 * (the app-server's camelCase ones are mapped to them): the one shape both
 * backends, the usage baseline files and the runner use.
 */
export type Totals = { [K in CountKey]?: number };

/** A token count: a non-negative safe integer. */
export function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/**
 * `v` as totals, or why it cannot be: every count Codex reports that is
 * present must be a {@linkcode isCount} (a negative, fractional, huge or
 * string count makes the whole set untrustworthy), and at least one must be.
 * Other keys are dropped.
 *
 * @example
 * ```ts
 * import { checkTotals } from "./usage.ts";
 * checkTotals({ input_tokens: 10, output_tokens: 2 }); // { ok: true, value: {...} }
 * checkTotals({ input_tokens: -5 }); // { ok: false, error: "input_tokens is -5, not a token count" }
 * ```
 */
export function checkTotals(v: unknown): Result<Totals, string> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return err("not an object");
  const t: Totals = {};
  for (const k of COUNT_KEYS) {
    const n = (v as Record<string, unknown>)[k];
    if (n === undefined) continue;
    if (!isCount(n)) return err(`${k} is ${JSON.stringify(n) ?? String(n)}, not a token count`);
    t[k] = n;
  }
  return Object.keys(t).length ? ok(t) : err("no token counts");
}

/** True when every count of `before` is at most `total`'s: an earlier state of the same thread. */
export function fitsUnder(before: Totals, total: Totals): boolean {
  return COUNT_KEYS.every((k) => (before[k] ?? 0) <= (total[k] ?? 0));
}

/**
 * Codex's running totals → this turn's usage, given the totals before the
 * turn. A value that is not a count ({@linkcode isCount}) counts as 0 (check
 * with {@linkcode checkTotals} first to refuse such totals instead).
 */
export function usageDelta(total: Totals, before?: Totals): Usage {
  const n = (t: Totals | undefined, k: CountKey) => (isCount(t?.[k]) ? t![k]! : 0);
  const d = (k: CountKey) => Math.max(0, n(total, k) - n(before, k));
  const u: Usage = {
    input_tokens: d("input_tokens"),
    cached_input_tokens: d("cached_input_tokens"),
    output_tokens: d("output_tokens"),
    reasoning_tokens: d("reasoning_output_tokens"),
  };
  if (isCount(total.cache_write_input_tokens)) {
    u.cache_write_input_tokens = d("cache_write_input_tokens");
  }
  return u;
}
