/**
 * What a turn's event becomes on the wire: secrets masked (lib/redact.ts),
 * and no line over {@linkcode MAX_OUTBOUND_LINE_BYTES} (Codex can print a line
 * of any size; a host's reader has a limit too): a `text_delta` is split, an
 * `error` message cut, an oversized `activity` item has its strings cut and
 * lists shortened. Each turn's streamed text is masked as one stream
 * ({@linkcode OutboundTurns}), so a key split across deltas is masked whole;
 * a `text_retracted` takes back exactly what the host got of that text.
 *
 * @example
 * ```ts
 * import { OutboundTurns } from "./outbound.ts";
 * const turns = new OutboundTurns((turnId, ev) => console.log(turnId, ev));
 * turns.send("t1", { type: "text_delta", text: "the key is sk-abc" }); // "the key is "
 * turns.send("t1", { type: "text_delta", text: "defghijklmnopqrstuvw." }); // "***."
 * ```
 *
 * @module
 */
import type { PlexumEvent } from "../turns/backend.ts";
import { Redactor, StreamRedactor } from "../redact.ts";
import { cut } from "../cut.ts";

/** Longest line the plugin sends (and accepts): 64 MiB. */
export const MAX_OUTBOUND_LINE_BYTES = 64 * 1024 * 1024;
/** Longest text of one `text_delta` (at most 6 bytes a character as JSON: 12 MiB). */
export const MAX_TEXT_DELTA_CHARS = 2 * 1024 * 1024;
/** Longest `message` of an `error` event. */
export const MAX_EVENT_ERROR_CHARS = 64 * 1024;
/** Longest string, most list entries of an activity item that had to be shrunk. */
const [MAX_ACTIVITY_STRING_CHARS, MAX_ACTIVITY_LIST] = [16 * 1024, 256];

let shared: Redactor | undefined;

/** The events to send for `ev`, masked and within the line limit. */
export function outboundEvents(
  ev: PlexumEvent,
  redactor: Redactor = shared ??= new Redactor(),
): PlexumEvent[] {
  switch (ev.type) {
    case "text_delta":
    case "reasoning_delta":
      return split(redactor.text(ev.text)).map((text) => ({ type: ev.type, text }));
    case "error":
      return [{ ...ev, message: cut(redactor.text(ev.message), MAX_EVENT_ERROR_CHARS) }];
    case "activity": {
      const item = redactor.deep(ev.item);
      // A UTF-16 code unit of JSON text is at most 3 bytes of UTF-8.
      const fits = JSON.stringify(item).length * 3 + 1024 <= MAX_OUTBOUND_LINE_BYTES;
      return [{ ...ev, item: fits ? item : shrink(item) as typeof item }];
    }
    default:
      return [ev];
  }
}

/** A turn's streamed text waiting to be masked whole: which kind, and its stream. */
type Held = { type: "text_delta" | "reasoning_delta"; stream: StreamRedactor };

/** Events of the turns in flight, in order: held text goes first, and at `end`. */
export class OutboundTurns {
  readonly #held = new Map<string, Held>();
  /** Each turn's `text_delta` text: as Codex sent it, and as the host got it. */
  readonly #texts = new Map<string, { raw: string; sent: string }>();
  readonly #redactor: Redactor;

  constructor(
    readonly emit: (turnId: string, ev: PlexumEvent) => void,
    redactor: Redactor = shared ??= new Redactor(),
  ) {
    this.#redactor = redactor;
  }

  /** Pass `ev` of turn `turnId` on, masked; streamed text may wait for its next piece. */
  send(turnId: string, ev: PlexumEvent): void {
    let held = this.#held.get(turnId);
    if (held && held.type !== ev.type) {
      this.#flush(turnId);
      held = undefined;
    }
    if (ev.type === "text_retracted") return this.#retract(turnId, ev.text);
    if (ev.type !== "text_delta" && ev.type !== "reasoning_delta") {
      for (const out of outboundEvents(ev, this.#redactor)) this.emit(turnId, out);
      return;
    }
    if (!held) {
      held = { type: ev.type, stream: new StreamRedactor(this.#redactor) };
      this.#held.set(turnId, held);
    }
    if (!this.#texts.has(turnId)) this.#texts.set(turnId, { raw: "", sent: "" });
    if (ev.type === "text_delta") this.#texts.get(turnId)!.raw += ev.text;
    this.#text(turnId, ev.type, held.stream.push(ev.text));
  }

  /** Send what turn `turnId` still holds back, and forget the turn. */
  end(turnId: string): void {
    this.#flush(turnId);
    this.#texts.delete(turnId);
  }

  /** Codex's text ends with `raw`, abandoned: the host's is made to end as the rest, masked. */
  #retract(turnId: string, raw: string) {
    const t = this.#texts.get(turnId);
    if (!t?.raw.endsWith(raw)) return;
    t.raw = t.raw.slice(0, t.raw.length - raw.length);
    const keep = this.#redactor.text(t.raw);
    let same = 0;
    while (same < keep.length && keep[same] === t.sent[same]) same++;
    const gone = t.sent.slice(same);
    t.sent = t.sent.slice(0, same);
    for (const text of split(gone).reverse()) {
      if (text) this.emit(turnId, { type: "text_retracted", text });
    }
    this.#text(turnId, "text_delta", keep.slice(same));
  }

  #flush(turnId: string) {
    const held = this.#held.get(turnId);
    if (!held) return;
    this.#held.delete(turnId);
    this.#text(turnId, held.type, held.stream.flush());
  }

  #text(turnId: string, type: Held["type"], masked: string) {
    if (masked && type === "text_delta") this.#texts.get(turnId)!.sent += masked;
    if (masked) { for (const text of split(masked)) this.emit(turnId, { type, text }); }
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
