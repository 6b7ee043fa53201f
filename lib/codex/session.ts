/**
 * The workspace's Codex thread, kept in `<workspace>/.plexum-codex-session` as
 * the thread id plus a newline (the format of the earlier Go plugin), and the
 * thread's last cumulative token totals in `.plexum-codex-usage` so that usage
 * can be reported per turn (Codex reports running totals for the thread).
 *
 * Reads never follow a symlink, never read a non-regular file and never read
 * more than 4 KiB: anything odd is "no session". Writes go to a `.tmp` file
 * that is then renamed over the old one, so the file is never torn.
 *
 * The usage baseline is also kept in this process's memory and, when the
 * workspace cannot be written, in the state directory (lib/codex/state_dir.ts),
 * so a read-only workspace still gets per-turn usage; stored counts that are
 * not non-negative integers are ignored (the agent can write its workspace).
 *
 * @example
 * ```ts
 * const id = await readThreadId("/srv/agent");   // string | undefined
 * await writeThreadId("/srv/agent", "019a...");
 * ```
 */

import type { Logger } from "../log.ts";
import { checkTotals, COUNT_KEYS, fitsUnder, type Totals } from "./usage.ts";
import { ensureStateDir, stateFile } from "./state_dir.ts";

/** File name of the thread id inside the workspace. */
export const SESSION_FILE = ".plexum-codex-session";
/** File name of the thread's last cumulative usage inside the workspace. */
export const USAGE_FILE = ".plexum-codex-usage";
const MAX_BYTES = 4096;

const THREAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a Codex thread id (a UUID). */
export function isThreadId(s: string): boolean {
  return THREAD_ID.test(s);
}

/** Read a small regular file (4 KiB at most) without following symlinks; undefined if odd or absent. */
export async function readSmall(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile || info.size > MAX_BYTES) return undefined;
    using f = await Deno.open(path, { read: true });
    const st = await f.stat();
    if (!st.isFile || st.ino !== info.ino) return undefined; // swapped under us
    const buf = new Uint8Array(MAX_BYTES);
    const n = (await f.read(buf)) ?? 0;
    return new TextDecoder().decode(buf.subarray(0, n));
  } catch {
    return undefined;
  }
}

/** Write `text` to `path` atomically: temp file in the same directory, then rename. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true, mode: 0o600 });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** The stored thread id, or undefined when there is none (or it is not a thread id). */
export async function readThreadId(workspace: string): Promise<string | undefined> {
  const text = (await readSmall(`${workspace}/${SESSION_FILE}`))?.trim();
  return text && isThreadId(text) ? text : undefined;
}

/**
 * What Codex says of a stored thread it no longer knows: exec's stderr and the
 * app-server's -32600 word it the same way. Such a thread is replaced.
 */
export const STALE_THREAD = /no rollout found for thread id|thread not found|no such thread/i;
/**
 * What Codex (0.169 and later) says of a thread another live process writes:
 * a clear error, never a reason to replace the thread.
 */
export const THREAD_HELD = /already has an active writer/i;

/**
 * Store a new thread id. When the workspace cannot keep it, say so and make
 * sure no older id is left, so the next turn starts a new thread instead of
 * resuming the wrong one.
 */
export async function saveThreadId(workspace: string, threadId: string, log: Logger) {
  try {
    await writeThreadId(workspace, threadId);
  } catch (e) {
    log.warn("could not save the codex thread id; the next turn starts a new thread", {
      workspace,
      error: (e as Error).message,
    });
    await Deno.remove(`${workspace}/${SESSION_FILE}`).catch(() => {});
  }
}

/** Store the thread id (atomically). Throws when the workspace is not writable. */
export function writeThreadId(workspace: string, threadId: string): Promise<void> {
  return writeAtomic(`${workspace}/${SESSION_FILE}`, `${threadId}\n`);
}

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
