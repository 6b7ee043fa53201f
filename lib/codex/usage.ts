/**
 * Per-turn usage from Codex's running totals for the thread (exec's
 * `turn.completed.usage`, the app-server's `thread/tokenUsage/updated`): the
 * totals at the turn's end minus the baseline kept after the previous turn
 * (in `<workspace>/.plexum-codex-usage`, in memory, and in the state
 * directory when the workspace cannot be written: ./session.ts).
 *
 * Never a wrong number: counts that are not non-negative integers (Codex's,
 * or a baseline the agent rewrote) are ignored with a warning; a resumed
 * thread without a usable baseline reports `null`, not the thread's total.
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
import type { Logger } from "../log.ts";
import type { Usage } from "../turns/backend.ts";
import { err, ok, type Result } from "../result.ts";
import { keepFile, keptPlaces, readSmall, realPath } from "./session.ts";

/** The counts Codex reports, in `codex exec --json`'s names. */
const COUNT_KEYS = [
  "input_tokens",
  "cached_input_tokens",
  "output_tokens",
  "reasoning_output_tokens",
  "cache_write_input_tokens",
] as const;
type CountKey = typeof COUNT_KEYS[number];

/**
 * Cumulative token totals of a thread, in `codex exec --json`'s field names
 * (the app-server's camelCase ones are mapped to them).
 */
export type Totals = { [K in CountKey]?: number };

/** File name of the thread's last cumulative usage inside the workspace. */
export const USAGE_FILE = ".plexum-codex-usage";

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * `v` as totals, or why not: every count present a non-negative safe integer
 * (one bad count spoils the set), at least one. Other keys are dropped.
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

/** Codex's running totals → this turn's usage, given the totals before it (bad counts count as 0). */
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

/** Baselines kept by this process (workspace real path + thread id): always writable. */
const remembered = new Map<string, Totals>();

/**
 * The largest totals stored for `threadId` (in memory, the workspace, the
 * state directory; totals only grow), or undefined. With `atMost` (the totals
 * at the end of the turn), a stored value larger in any count is not an
 * earlier state of the thread (the agent can write its workspace): left out.
 */
export async function readTotals(
  workspace: string,
  threadId: string,
  atMost?: Totals,
): Promise<Totals | undefined> {
  const found = [remembered.get(`${await realPath(workspace)}\0${threadId}`)];
  for (const place of await keptPlaces(workspace, USAGE_FILE)) {
    try {
      const v = JSON.parse((await readSmall(place)) ?? "");
      const t = v?.thread_id === threadId ? checkTotals(v.totals) : undefined;
      if (t?.ok) found.push(t.value);
    } catch { /* not a baseline */ }
  }
  let best: Totals | undefined;
  for (const t of found) {
    if (!t || (atMost && COUNT_KEYS.some((k) => (t[k] ?? 0) > (atMost[k] ?? 0)))) continue;
    best ??= {};
    for (const k of COUNT_KEYS) if (t[k] !== undefined) best[k] = Math.max(best[k] ?? 0, t[k]);
  }
  return best;
}

/** Store the thread's totals in memory and on disk; the path written (throws: none, or bad counts). */
export async function writeTotals(
  workspace: string,
  threadId: string,
  totals: Totals,
): Promise<string> {
  const t = checkTotals(totals);
  if (!t.ok) throw new Error(`not storing token totals: ${t.error}`);
  remembered.set(`${await realPath(workspace)}\0${threadId}`, t.value);
  const text = JSON.stringify({ thread_id: threadId, totals: t.value }) + "\n";
  return await keepFile(workspace, USAGE_FILE, text);
}

/**
 * This turn's usage (or null, with a warning); Codex's `totals` (unchecked)
 * are kept as the next baseline. `fresh`: the turn started the thread.
 */
export async function settleUsage(
  workspace: string,
  threadId: string,
  totals: unknown,
  fresh: boolean,
  log: Logger,
): Promise<Usage | null> {
  const checked = checkTotals(totals);
  if (!checked.ok) {
    log.warn("codex reported token totals that are not counts; usage not reported", {
      thread_id: threadId,
      problem: checked.error,
    });
    return null;
  }
  const before = fresh ? undefined : await readTotals(workspace, threadId, checked.value);
  // Kept before anything is reported, so the next turn is right either way.
  const where = await writeTotals(workspace, threadId, checked.value).catch((e: Error) => {
    const why = "could not store the usage baseline on disk; it is kept in memory only";
    log.warn(why, { workspace, error: e.message });
  });
  if (where && where !== `${workspace}/${USAGE_FILE}`) {
    const why = "usage baseline kept in the state directory: the workspace is not writable";
    log.debug(why, { workspace });
  }
  if (!fresh && !before) {
    log.warn("no usage baseline for this resumed thread; usage not reported for this turn", {
      workspace,
      thread_id: threadId,
    });
    return null;
  }
  return usageDelta(checked.value, before);
}
