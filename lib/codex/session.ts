/**
 * The workspace's Codex thread, kept in `<workspace>/.plexum-codex-session` as
 * the thread id plus a newline (the format of the earlier Go plugin), shared
 * by both backends and the `chat` one-shot. Read and written as a small
 * private file (./small_file.ts): anything odd is "no session", a write is
 * never torn. The thread's usage baseline lives beside it (./usage_file.ts).
 *
 * @example
 * ```ts
 * import { readThreadId, writeThreadId } from "./session.ts";
 * const id = await readThreadId("/srv/agent"); // string | undefined
 * await writeThreadId("/srv/agent", "0199a0b1-0000-7000-8000-000000000001");
 * ```
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { readSmall, writeAtomic } from "./small_file.ts";

/** File name of the thread id inside the workspace. */
export const SESSION_FILE = ".plexum-codex-session";

const THREAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a Codex thread id (a UUID). */
export function isThreadId(s: string): boolean {
  return THREAD_ID.test(s);
}

/** The stored thread id, or undefined when there is none (or it is not a thread id). */
export async function readThreadId(workspace: string): Promise<string | undefined> {
  const text = (await readSmall(`${workspace}/${SESSION_FILE}`))?.trim();
  return text && isThreadId(text) ? text : undefined;
}

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
