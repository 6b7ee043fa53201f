/**
 * What Codex's words about trouble mean, the same on both backends:
 *
 * - a retry notice (exec: an `error` line "Reconnecting..."; app-server:
 *   `error` with `willRetry: true`) is not progress for the idle timer
 *   (issue 21: a turn without network outlived `idle_timeout_s` many times),
 *   and a turn that times out while Codex retries says it could not reach
 *   the API;
 * - a usage or rate limit is `rate_limited`, with `retry_after_s` when Codex
 *   said when it resets ("… try again at 11:08 AM." in local time, "Nov 30th,
 *   2026 10:58 AM" on another day: fixtures/<version>/usage_limit*.jsonl);
 *   the app-server adds `codexErrorInfo`, and the reset to the second of a
 *   limit its `account/rateLimits/updated` shows reached, which wins over
 *   the words. `insufficient_quota` does not reset: `turn_failed`;
 * - a stored thread Codex no longer knows is replaced; one another live
 *   process writes is the turn's clear error.
 *
 * @example
 * ```ts
 * import { rateLimitOf } from "./codex_errors.ts";
 * const now = new Date(2026, 10, 27, 10, 48, 30);
 * rateLimitOf("You've hit your usage limit. … or try again at 11:08 AM.", now);
 * // { retry_after_s: 1230 }
 * rateLimitOf("unexpected status 401 Unauthorized", now); // undefined
 * ```
 *
 * @module
 */

/** What Codex says of a stored thread it no longer knows (exec's stderr, the app-server's -32600). */
export const STALE_THREAD = /no rollout found for thread id|thread not found|no such thread/i;
/** What Codex (0.169 and later) says of a thread another live process writes. */
export const THREAD_HELD = /already has an active writer/i;

/** Longest quote of Codex's retry message in an error, in characters. */
export const MAX_RETRY_QUOTE = 300;

/** The message of an exec `--json` event when it is a retry notice, else undefined. */
export function execRetryNotice(ev: Record<string, unknown>): string | undefined {
  if (ev.type !== "error" || typeof ev.message !== "string") return undefined;
  return /^\s*reconnecting\b/i.test(ev.message) ? ev.message : undefined;
}

/** An app-server notification's retry notice (details in parentheses, as exec prints them). */
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

  /** Feed Codex's retry notice, or undefined for anything else; true when it is progress. */
  progress(notice: string | undefined): boolean {
    this.last = notice;
    return notice === undefined;
  }
}

/** The `timeout` error of a turn ended by its idle timeout (`silence`: "printed nothing"). */
export function idleTimeoutMessage(o: { idleS: number; silence: string; lastRetry?: string }) {
  if (o.lastRetry === undefined) return `codex ${o.silence} for ${o.idleS}s; turn ended`;
  const quote = o.lastRetry.replace(/\s+/g, " ").trim();
  const cut = quote.length > MAX_RETRY_QUOTE ? `${quote.slice(0, MAX_RETRY_QUOTE)}…` : quote;
  return `codex could not reach the API: no progress for ${o.idleS}s, only retries ` +
    `(last: ${JSON.stringify(cut)}); turn ended. Check the host's network and the provider`;
}

const TRY_AGAIN_AT =
  /try again at (?:([A-Z][a-z]{2}) (\d{1,2})(?:st|nd|rd|th), (\d{4}) )?(\d{1,2}):(\d{2}) ?([AP]M)/i;
const TRY_AGAIN_IN = /try again in (\d+(?:\.\d+)?) ?(ms|s|sec|seconds?|m|min|minutes?)\b/i;
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/** The reset time in a "try again at …" message, in local time; undefined when there is none. */
export function resetTime(message: string, now: Date = new Date()): Date | undefined {
  const m = TRY_AGAIN_AT.exec(message);
  if (!m) return undefined;
  const [, mon, day, year, hh, mm, ampm] = m;
  let hour = Number(hh) % 12;
  if (ampm.toUpperCase() === "PM") hour += 12;
  if (mon) {
    const month = MONTHS.indexOf(mon.toLowerCase());
    if (month < 0) return undefined;
    return new Date(Number(year), month, Number(day), hour, Number(mm));
  }
  const t = new Date(now.getFullYear(), now.getMonth(), now.getDate(), hour, Number(mm));
  // Codex prints the time alone for a reset today; one "before" now is past midnight.
  if (t.getTime() + 60_000 < now.getTime()) t.setDate(t.getDate() + 1);
  return t;
}

/** A failed app-server turn's `codexErrorInfo`, and when (Unix s) a limit it saw reached resets. */
export type LimitInfo = { codexErrorInfo?: unknown; resetsAt?: number };

type Window = { usedPercent?: unknown; remainingPercent?: unknown; resetsAt?: unknown } | null;
/** When (Unix s) the limits that `account/rateLimits/updated` snapshots show reached reset. */
export function limitReset(snapshots: unknown[]): number | undefined {
  const at = ["primary", "secondary", "individualLimit"] // the last non-null of each (sparse)
    .map((k) => snapshots.map((s) => (s as Record<string, Window> | null)?.[k]).findLast((w) => w))
    .filter((w) => Number(w?.usedPercent) >= 100 || Number(w?.remainingPercent ?? 1) <= 0)
    .map((w) => w?.resetsAt).filter((t) => typeof t === "number");
  return at.length ? Math.max(...at) : undefined;
}

/** True for an app-server `codexErrorInfo` that is a usage or rate limit. */
export function isLimitInfo(info: unknown): boolean {
  if (info === "usageLimitExceeded" || info === "rateLimitExceeded") return true;
  if (typeof info !== "object" || info === null) return false;
  // e.g. { httpConnectionFailed: { httpStatusCode: 429 } }
  return Object.values(info).some((v) =>
    (v as { httpStatusCode?: unknown })?.httpStatusCode === 429
  );
}

/** The limit a failed turn's message (and the app-server's {@linkcode LimitInfo}) reports, if any. */
export function rateLimitOf(
  message: string,
  now: Date = new Date(),
  info?: LimitInfo,
): { retry_after_s?: number } | undefined {
  const limit = /hit your usage limit|\b429 Too Many Requests\b|\brate limit (reached|exceeded)\b/i;
  if (!limit.test(message) && !isLimitInfo(info?.codexErrorInfo)) return undefined;
  // Codex prints the minute: the reset is somewhere within it, so wait for its end.
  const inText = resetTime(message, now)?.getTime();
  const at = typeof info?.resetsAt === "number" ? info.resetsAt * 1000 : inText && inText + 60_000;
  if (at) return { retry_after_s: Math.max(0, Math.ceil((at - now.getTime()) / 1000)) };
  const inMatch = TRY_AGAIN_IN.exec(message);
  if (inMatch) {
    const n = Number(inMatch[1]);
    const unit = inMatch[2].toLowerCase();
    const s = unit === "ms" ? n / 1000 : unit.startsWith("m") ? n * 60 : n;
    return { retry_after_s: Math.ceil(s) };
  }
  return {};
}
