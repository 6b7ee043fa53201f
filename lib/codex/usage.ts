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

/** Cumulative token totals of a thread, in `codex exec --json`'s field names. */
export type Totals = Record<string, number>;

/** Codex's running totals → this turn's usage, given the totals before the turn. */
export function usageDelta(total: Totals, before?: Totals): Usage {
  const d = (k: string) => Math.max(0, (total[k] ?? 0) - (before?.[k] ?? 0));
  const u: Usage = {
    input_tokens: d("input_tokens"),
    cached_input_tokens: d("cached_input_tokens"),
    output_tokens: d("output_tokens"),
    reasoning_tokens: d("reasoning_output_tokens"),
  };
  if (typeof total.cache_write_input_tokens === "number") {
    u.cache_write_input_tokens = d("cache_write_input_tokens");
  }
  return u;
}
