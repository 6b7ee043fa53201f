/**
 * Usage and rate limits, as Codex words them: a turn that failed for one is
 * reported as `rate_limited` with `retry_after_s` when Codex said when the
 * limit resets, so the host can wait instead of retrying at once.
 *
 * What the releases print (fixtures/<version>/usage_limit*.jsonl, recorded
 * against the mock answering 429; the same on 0.135.0 and 0.169.0 except
 * for the apostrophe, `'` then `’`):
 *
 * - a ChatGPT plan's usage limit (`usage_limit_reached`): "You've hit your
 *   usage limit. … try again at 11:08 AM." (local time, the minute only; a
 *   reset on another day reads "Nov 30th, 2026 10:58 AM"), or "… try again
 *   later." when the API gave no reset time;
 * - any other 429 once Codex's own retries are spent: "exceeded retry
 *   limit, last status: 429 Too Many Requests" (no reset time).
 *
 * The app-server says the same words and adds `codexErrorInfo:
 * "usageLimitExceeded"` (fixtures/app-server/<version>/usage_limit.jsonl),
 * which is enough on its own.
 *
 * The API's `insufficient_quota` ("Quota exceeded. Check your plan and
 * billing details.") is not a limit that resets, so it stays `turn_failed`.
 *
 * @example
 * ```ts
 * import { rateLimitOf } from "./rate_limit.ts";
 * const now = new Date(2026, 10, 27, 10, 48, 30);
 * rateLimitOf("You've hit your usage limit. … or try again at 11:08 AM.", now);
 * // { retry_after_s: 1230 }
 * rateLimitOf("unexpected status 401 Unauthorized", now); // undefined
 * ```
 *
 * @module
 */

/** A limit Codex reported. */
export interface RateLimit {
  /** Seconds until the limit resets (rounded up to the minute Codex prints), when known. */
  retry_after_s?: number;
}

const USAGE_LIMIT = /hit your usage limit/i;
const TOO_MANY = /\b429 Too Many Requests\b|\brate limit (reached|exceeded)\b/i;
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

/** True for an app-server `codexErrorInfo` that is a usage or rate limit. */
export function isLimitInfo(info: unknown): boolean {
  if (info === "usageLimitExceeded") return true;
  if (typeof info !== "object" || info === null) return false;
  // e.g. { httpConnectionFailed: { httpStatusCode: 429 } }
  return Object.values(info).some((v) =>
    (v as { httpStatusCode?: unknown })?.httpStatusCode === 429
  );
}

/**
 * The limit a failed turn's message (and, on the app-server, its
 * `codexErrorInfo`) reports, or undefined when it is another failure.
 */
export function rateLimitOf(
  message: string,
  now: Date = new Date(),
  errorInfo?: unknown,
): RateLimit | undefined {
  if (!USAGE_LIMIT.test(message) && !TOO_MANY.test(message) && !isLimitInfo(errorInfo)) {
    return undefined;
  }
  const at = resetTime(message, now);
  if (at) {
    // Codex prints the minute: the reset is somewhere within it, so wait for its end.
    const s = Math.ceil((at.getTime() + 60_000 - now.getTime()) / 1000);
    return { retry_after_s: Math.max(0, s) };
  }
  const inMatch = TRY_AGAIN_IN.exec(message);
  if (inMatch) {
    const n = Number(inMatch[1]);
    const unit = inMatch[2].toLowerCase();
    const s = unit === "ms" ? n / 1000 : unit.startsWith("m") ? n * 60 : n;
    return { retry_after_s: Math.ceil(s) };
  }
  return {};
}
