/**
 * What a turn's event becomes on the wire: secrets masked (lib/redact.ts:
 * Codex may print an API key in an error, a command or the model's text), and
 * no line longer than {@linkcode MAX_OUTBOUND_LINE_BYTES}, the limit the
 * plugin itself accepts: Codex can print a line of any size, and a host's
 * reader has a limit too.
 *
 * - `text_delta`: split into deltas of at most {@linkcode MAX_TEXT_DELTA_CHARS}
 *   characters (a surrogate pair is never split); concatenated they are the
 *   text.
 * - `error`: `message` cut to {@linkcode MAX_EVENT_ERROR_CHARS} characters.
 * - `activity`: an item whose line could exceed the limit has each string cut
 *   to {@linkcode MAX_ACTIVITY_STRING_CHARS} characters and each list to
 *   {@linkcode MAX_ACTIVITY_LIST} entries (a cut string ends with
 *   `… (cut from N characters)`).
 *
 * @example
 * ```ts
 * import { outboundEvents } from "./outbound.ts";
 * outboundEvents({ type: "text_delta", text: "x".repeat(5_000_000) }).length; // 3
 * ```
 *
 * @module
 */
import type { PlexumEvent } from "../turns/backend.ts";
import { Redactor } from "../redact.ts";
import { cut } from "../cut.ts";

/** Longest line the plugin sends (and accepts): 64 MiB. */
export const MAX_OUTBOUND_LINE_BYTES = 64 * 1024 * 1024;
/** Longest text of one `text_delta` (at most 6 bytes a character as JSON: 12 MiB). */
export const MAX_TEXT_DELTA_CHARS = 2 * 1024 * 1024;
/** Longest `message` of an `error` event. */
export const MAX_EVENT_ERROR_CHARS = 64 * 1024;
/** Longest string in an activity item that had to be cut. */
export const MAX_ACTIVITY_STRING_CHARS = 16 * 1024;
/** Most entries of a list in an activity item that had to be cut. */
export const MAX_ACTIVITY_LIST = 256;

let shared: Redactor | undefined;

/** The events to send for `ev`, masked and within the line limit. */
export function outboundEvents(
  ev: PlexumEvent,
  redactor: Redactor = shared ??= new Redactor(),
): PlexumEvent[] {
  switch (ev.type) {
    case "text_delta":
      return split(redactor.text(ev.text)).map((text) => ({ type: "text_delta", text }));
    case "error":
      return [{ ...ev, message: cut(redactor.text(ev.message), MAX_EVENT_ERROR_CHARS) }];
    case "activity": {
      const item = redactor.deep(ev.item);
      // A UTF-16 code unit of JSON text is at most 3 bytes of UTF-8.
      if (JSON.stringify(item).length * 3 + 1024 <= MAX_OUTBOUND_LINE_BYTES) {
        return [{ ...ev, item }];
      }
      return [{ ...ev, item: shrink(item) as typeof item }];
    }
    default:
      return [ev];
  }
}

/** `text` in pieces of at most {@linkcode MAX_TEXT_DELTA_CHARS}, surrogate pairs whole. */
function split(text: string): string[] {
  if (text.length <= MAX_TEXT_DELTA_CHARS) return [text];
  const out: string[] = [];
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + MAX_TEXT_DELTA_CHARS);
    const c = text.charCodeAt(end - 1);
    if (end < text.length && c >= 0xd800 && c <= 0xdbff) end--;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

/** Every string cut, every list shortened. */
function shrink(v: unknown): unknown {
  if (typeof v === "string") return cut(v, MAX_ACTIVITY_STRING_CHARS);
  if (Array.isArray(v)) return v.slice(0, MAX_ACTIVITY_LIST).map(shrink);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shrink(x)]));
  }
  return v;
}
