/**
 * An exclusive lock on `<workspace>/.plexum-codex.lock` (flock), held for a
 * turn, so two plugin processes never run Codex in one workspace at once.
 * Waiting can be abandoned through an AbortSignal.
 *
 * @example
 * ```ts
 * import { lockWorkspace } from "./lock.ts";
 * const lock = await lockWorkspace(await Deno.makeTempDir(), AbortSignal.timeout(5000));
 * try {
 *   // run the turn
 * } finally {
 *   lock?.release();
 * }
 * ```
 *
 * @module
 */

import { abortable } from "../async.ts";

/** File name of the lock inside the workspace. */
export const LOCK_FILE = ".plexum-codex.lock";

/** A held lock. */
export interface WorkspaceLock {
  release(): void;
}

/**
 * Take the lock, waiting for another process to release it. Resolves
 * `undefined` when the lock file cannot be created (read-only workspace: there
 * is nothing to protect) and rejects with the signal's reason when aborted.
 */
export async function lockWorkspace(
  workspace: string,
  signal?: AbortSignal,
): Promise<WorkspaceLock | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${workspace}/${LOCK_FILE}`, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
  } catch {
    return undefined;
  }
  const release = () => {
    try {
      file.close(); // closing drops the flock
    } catch { /* closed */ }
  };
  const locked = file.lock(true).then(() => ({ release }));
  if (!signal) return locked;
  try {
    // A lock already asked for must be given back when the wait is abandoned, even at once
    // (a turn cancelled at once would otherwise keep the workspace locked for good).
    return await abortable(locked, signal);
  } catch (e) {
    locked.then(release, release); // give it back whenever it arrives
    throw e;
  }
}
