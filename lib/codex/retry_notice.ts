/**
 * Codex's retry notices are not progress. When the API cannot be reached
 * Codex retries on its own and says so each time (exec: an `error` line
 * "Reconnecting... waiting for network (...)" or "Reconnecting... 2/5 (...)";
 * app-server: the `error` notification with `willRetry: true`). Counting
 * those as activity let a turn without network outlive `idle_timeout_s`
 * many times over (issue 21: 10 s → 37 s, 600 s → still running at 652 s).
 * So both backends ask this module whether what Codex said is a retry
 * notice: one is not activity for the idle timer, and a turn that times out
 * while Codex is still retrying gets one `timeout` error that says Codex
 * could not reach the API, quoting its last notice.
 *
 * @example
 * ```ts
 * import { execRetryNotice, idleTimeoutMessage, RetryWatch } from "./retry_notice.ts";
 * const watch = new RetryWatch();
 * const ev = { type: "error", message: "Reconnecting... waiting for network" };
 * watch.progress(execRetryNotice(ev)); // false: not activity
 * idleTimeoutMessage({ idleS: 10, silence: "printed nothing", lastRetry: watch.last });
 * // "codex could not reach the API: no progress for 10s, only retries (last: ...); turn ended"
 * ```
 *
 * @module
 */

/** Longest quote of Codex's retry message in an error, in characters. */
export const MAX_RETRY_QUOTE = 300;

const RETRYING = /^\s*reconnecting\b/i;

/** The message of an exec `--json` event when it is a retry notice, else undefined. */
export function execRetryNotice(ev: Record<string, unknown>): string | undefined {
  if (ev.type !== "error" || typeof ev.message !== "string") return undefined;
  return RETRYING.test(ev.message) ? ev.message : undefined;
}

/**
 * The message of an app-server notification when it is a retry notice
 * (`error` with `willRetry: true`), else undefined; the details Codex puts
 * apart (`additionalDetails`) are added in parentheses, as exec prints them.
 */
export function appServerRetryNotice(
  method: string,
  params: Record<string, unknown>,
): string | undefined {
  if (method !== "error" || params.willRetry !== true) return undefined;
  const err = (params.error ?? {}) as Record<string, unknown>;
  const msg = typeof err.message === "string" ? err.message : "retrying";
  const more = typeof err.additionalDetails === "string" ? err.additionalDetails : "";
  return more ? `${msg} (${more})` : msg;
}

/** Remembers the retry notices since Codex last made progress. */
export class RetryWatch {
  /** The last retry notice since the last progress, if any. */
  last: string | undefined;

  /**
   * Feed what Codex said: its retry notice, or undefined for anything else.
   * True when it is progress (resets the idle timer), false for a notice.
   */
  progress(notice: string | undefined): boolean {
    if (notice === undefined) {
      this.last = undefined;
      return true;
    }
    this.last = notice;
    return false;
  }
}

/** Inputs of {@linkcode idleTimeoutMessage}. */
export interface IdleTimeoutOptions {
  idleS: number;
  /** What the silence was, e.g. "printed nothing" (exec) or "sent nothing" (app-server). */
  silence: string;
  /** Codex's last retry notice since its last progress, if any. */
  lastRetry?: string;
}

/** The one `timeout` error's message of a turn ended by its idle timeout. */
export function idleTimeoutMessage(o: IdleTimeoutOptions): string {
  if (o.lastRetry === undefined) return `codex ${o.silence} for ${o.idleS}s; turn ended`;
  const quote = o.lastRetry.replace(/\s+/g, " ").trim();
  const cut = quote.length > MAX_RETRY_QUOTE ? `${quote.slice(0, MAX_RETRY_QUOTE)}…` : quote;
  return `codex could not reach the API: no progress for ${o.idleS}s, only retries ` +
    `(last: ${JSON.stringify(cut)}); turn ended. Check the host's network and the provider`;
}
