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
 * @example
 * ```ts
 * const id = await readThreadId("/srv/agent");   // string | undefined
 * await writeThreadId("/srv/agent", "019a...");
 * ```
 */

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

/** Store the thread id (atomically). Throws when the workspace is not writable. */
export function writeThreadId(workspace: string, threadId: string): Promise<void> {
  return writeAtomic(`${workspace}/${SESSION_FILE}`, `${threadId}\n`);
}

/** Cumulative token totals as Codex reports them in `turn.completed`. */
export type Totals = Record<string, number>;

/** The last totals stored for `threadId`, or undefined. */
export async function readTotals(workspace: string, threadId: string): Promise<Totals | undefined> {
  const text = await readSmall(`${workspace}/${USAGE_FILE}`);
  try {
    const v = JSON.parse(text ?? "");
    if (v?.thread_id !== threadId || typeof v.totals !== "object") return undefined;
    return v.totals;
  } catch {
    return undefined;
  }
}

/** Store the thread's totals (atomically). */
export function writeTotals(workspace: string, threadId: string, totals: Totals): Promise<void> {
  return writeAtomic(
    `${workspace}/${USAGE_FILE}`,
    JSON.stringify({ thread_id: threadId, totals }) + "\n",
  );
}
