/**
 * What Codex says of a thread it cannot run, the same on both backends
 * (exec's stderr, the app-server's JSON-RPC errors): a stored thread it no
 * longer knows, which the turn runner replaces, and a thread another live
 * process writes, which is never replaced but is the turn's clear error.
 *
 * @example
 * ```ts
 * import { STALE_THREAD, THREAD_HELD } from "./thread_errors.ts";
 * STALE_THREAD.test("no rollout found for thread id 0199…"); // true
 * THREAD_HELD.test("thread 0199… already has an active writer"); // true
 * ```
 *
 * @module
 */

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
