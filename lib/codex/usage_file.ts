/**
 * The usage baseline: a thread's last cumulative token totals, so that usage
 * can be reported per turn (Codex reports running totals for the thread;
 * ./turn_usage.ts subtracts). Kept in `<workspace>/.plexum-codex-usage`, in
 * this process's memory and, when the workspace cannot be written, in the
 * state directory (./state_dir.ts), so a read-only workspace still gets
 * per-turn usage. Stored counts that are not non-negative integers are
 * ignored: the agent can write its workspace.
 *
 * @example
 * ```ts
 * import { readTotals, writeTotals } from "./usage_file.ts";
 * const id = "0199a0b1-0000-7000-8000-000000000001";
 * await writeTotals("/srv/agent", id, { input_tokens: 120, output_tokens: 10 });
 * await readTotals("/srv/agent", id); // { input_tokens: 120, output_tokens: 10 }
 * ```
 *
 * @module
 */
import { readSmall, writeAtomic } from "./small_file.ts";
import { ensureStateDir, stateFile } from "./state_dir.ts";
import { checkTotals, COUNT_KEYS, fitsUnder, type Totals } from "./usage.ts";

/** File name of the thread's last cumulative usage inside the workspace. */
export const USAGE_FILE = ".plexum-codex-usage";

/**
 * Baselines kept by this process: workspace real path + thread id → totals.
 * The one place that can always be written, so a read-only workspace still
 * gets per-turn usage for as long as the plugin runs.
 */
const remembered = new Map<string, Totals>();

async function memoryKey(workspace: string, threadId: string): Promise<string> {
  let real = workspace;
  try {
    real = await Deno.realPath(workspace);
  } catch { /* gone: the name as given */ }
  return `${real}\0${threadId}`;
}

/** The totals of a usage file's text when they are `threadId`'s and valid counts. */
function parseUsage(text: string | undefined, threadId: string): Totals | undefined {
  try {
    const v = JSON.parse(text ?? "");
    if (v?.thread_id !== threadId) return undefined;
    const t = checkTotals(v.totals);
    return t.ok ? t.value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The last totals stored for `threadId`, or undefined. Looked for in this
 * process's memory, in `.plexum-codex-usage` and in the state directory
 * (lib/codex/state_dir.ts); counts that are not non-negative integers make a
 * stored value count as absent. Totals only grow, so the largest counts are
 * the latest. With `atMost` (the totals at the end of the turn), a stored
 * value larger than them in any count is not an earlier state of the thread
 * (the agent can write its workspace) and is left out.
 */
export async function readTotals(
  workspace: string,
  threadId: string,
  atMost?: Totals,
): Promise<Totals | undefined> {
  const state = await stateFile(workspace, "usage");
  const found = [
    remembered.get(await memoryKey(workspace, threadId)),
    parseUsage(await readSmall(`${workspace}/${USAGE_FILE}`), threadId),
    state ? parseUsage(await readSmall(state), threadId) : undefined,
  ].filter((t): t is Totals => t !== undefined && (!atMost || fitsUnder(t, atMost)));
  if (found.length === 0) return undefined;
  const best: Totals = {};
  for (const t of found) {
    for (const k of COUNT_KEYS) {
      if (t[k] !== undefined) best[k] = Math.max(best[k] ?? 0, t[k]);
    }
  }
  return best;
}

/**
 * Store the thread's totals: in memory, and in `.plexum-codex-usage`
 * (atomically), or, when the workspace cannot be written, in the state
 * directory. Resolves where they were kept on disk; throws only when no disk
 * place could be written (memory still has them). Totals that are not valid
 * counts are not stored (throws).
 */
export async function writeTotals(
  workspace: string,
  threadId: string,
  totals: Totals,
): Promise<"workspace" | "state"> {
  const t = checkTotals(totals);
  if (!t.ok) throw new Error(`not storing token totals: ${t.error}`);
  remembered.set(await memoryKey(workspace, threadId), t.value);
  const text = JSON.stringify({ thread_id: threadId, totals: t.value }) + "\n";
  try {
    await writeAtomic(`${workspace}/${USAGE_FILE}`, text);
    return "workspace";
  } catch (e) {
    const state = await stateFile(workspace, "usage");
    if (!state) throw e;
    await ensureStateDir(state);
    await writeAtomic(state, text);
    return "state";
  }
}
