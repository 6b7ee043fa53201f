/**
 * A completed turn's usage, from Codex's running totals for the thread and
 * the baseline kept after the thread's previous turn (lib/codex/usage_file.ts:
 * in memory, in the workspace, or in the state directory). Shared by both
 * backends, since both get running totals.
 *
 * Never a wrong number: totals whose counts are not non-negative integers
 * (Codex's, or a baseline the agent rewrote in its workspace) are ignored
 * with a warning; a resumed thread with no usable baseline reports `null`
 * with a warning rather than the thread's whole total as this turn's.
 *
 * @example
 * ```ts
 * import { settleUsage } from "./turn_usage.ts";
 * import { createLogger } from "../log.ts";
 * const usage = await settleUsage({
 *   workspace: "/w", threadId: "0199a0b1-0000-7000-8000-000000000001",
 *   totals: { input_tokens: 240, output_tokens: 14 }, fresh: false, log: createLogger(),
 * }); // { input_tokens: 120, ... } with a baseline of 120 input tokens; else null
 * ```
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Usage } from "../turns/backend.ts";
import { readTotals, writeTotals } from "./usage_file.ts";
import { checkTotals, usageDelta } from "./usage.ts";

/** What {@linkcode settleUsage} needs. */
export interface SettleInput {
  workspace: string;
  threadId: string;
  /** Codex's running totals at the end of the turn, as received. */
  totals: unknown;
  /** True when the turn started the thread (nothing to subtract). */
  fresh: boolean;
  log: Logger;
}

/** This turn's usage (or null, with a warning), the totals kept as the next baseline. */
export async function settleUsage(i: SettleInput): Promise<Usage | null> {
  const { workspace, threadId, log } = i;
  const checked = checkTotals(i.totals);
  if (!checked.ok) {
    log.warn("codex reported token totals that are not counts; usage not reported", {
      thread_id: threadId,
      problem: checked.error,
    });
    return null;
  }
  const totals = checked.value;
  const before = i.fresh ? undefined : await readTotals(workspace, threadId, totals);
  // Kept before anything is reported, so the next turn is right either way.
  try {
    if ((await writeTotals(workspace, threadId, totals)) === "state") {
      log.debug("usage baseline kept in the state directory: the workspace is not writable", {
        workspace,
      });
    }
  } catch (e) {
    log.warn("could not store the usage baseline on disk; it is kept in memory only", {
      workspace,
      error: (e as Error).message,
    });
  }
  if (!i.fresh && !before) {
    log.warn("no usage baseline for this resumed thread; usage not reported for this turn", {
      workspace,
      thread_id: threadId,
    });
    return null;
  }
  return usageDelta(totals, before);
}

/**
 * After a turn that did not complete, keep Codex's totals (when they are
 * counts) as the next turn's baseline, so its tokens are not counted again.
 */
export async function keepBaseline(
  workspace: string,
  threadId: string,
  totals: unknown,
): Promise<void> {
  const checked = totals === undefined ? undefined : checkTotals(totals);
  if (checked?.ok) await writeTotals(workspace, threadId, checked.value).catch(() => {});
}
