/**
 * Splits a byte stream into text lines like `@std/streams`' `TextLineStream`
 * (`\n`, an optional `\r` before it, a last line without one), but checks
 * each line as strict UTF-8 on its own: an invalid line is `undefined` (one
 * skipped line, not a corrupted stream), or with `onInvalidUtf8` its text
 * with U+FFFD (Codex's answers must not be lost). Chunks are decoded loosely
 * as they arrive (a piece holding U+FFFD is checked again strictly), so
 * memory follows the longest line's text. A line over `maxLineBytes` is
 * dropped (its length goes to `onOverflow`).
 *
 * @example
 * ```ts
 * import { LineStream } from "./lines.ts";
 * for await (const line of Deno.stdin.readable.pipeThrough(new LineStream())) console.log(line);
 * ```
 *
 * @module
 */
export class LineStream extends TransformStream<Uint8Array, string | undefined> {
  /** Default bound for one line: 256 MiB. */
  static readonly DEFAULT_MAX = 256 * 1024 * 1024;

  constructor(
    options: {
      maxLineBytes?: number;
      onOverflow?: (bytes: number) => void;
      /** Deliver invalid lines with U+FFFD (calling this first) instead of as `undefined`. */
      onInvalidUtf8?: (bytes: number) => void;
    } = {},
  ) {
    const max = options.maxLineBytes ?? LineStream.DEFAULT_MAX;
    const loose = new TextDecoder("utf-8");
    let text = ""; // the pending line so far (a rope of decoded pieces)
    let pending = 0; // its length in bytes
    let invalid = false;
    let overflowed = false;
    let carry: Uint8Array = EMPTY; // an incomplete UTF-8 sequence at the end of the last piece

    const add = (seg: Uint8Array) => {
      pending += seg.length;
      if (overflowed || seg.length === 0) return;
      if (pending > max) {
        overflowed = true;
        text = "";
        loose.decode(); // drop the decoder's state
        return;
      }
      const piece = loose.decode(seg, { stream: true });
      if (!invalid && piece.includes(FFFD)) invalid = !validUtf8(join(carry, seg), true);
      carry = incompleteTail(carry, seg);
      text += piece;
    };

    const end = (c: TransformStreamDefaultController<string | undefined>, seg: Uint8Array) => {
      const cr = seg.length > 0 && seg[seg.length - 1] === 13;
      add(cr ? seg.subarray(0, -1) : seg);
      if (cr) pending++;
      if (overflowed) {
        options.onOverflow?.(pending);
      } else {
        const rest = loose.decode(); // an incomplete sequence at the end comes out as U+FFFD
        if (rest) {
          invalid ||= rest.includes(FFFD);
          text += rest;
        }
        // A `\r` that ended the previous chunk, right before this line's `\n`.
        if (!cr && seg.length === 0 && text.endsWith("\r")) text = text.slice(0, -1);
        if (invalid && options.onInvalidUtf8) {
          options.onInvalidUtf8(pending);
          c.enqueue(text);
        } else c.enqueue(invalid ? undefined : text);
      }
      text = "";
      pending = 0;
      invalid = false;
      overflowed = false;
      carry = EMPTY;
    };

    super({
      transform(chunk, c) {
        let start = 0;
        for (;;) {
          const nl = chunk.indexOf(10, start);
          if (nl < 0) break;
          end(c, chunk.subarray(start, nl));
          start = nl + 1;
        }
        add(chunk.subarray(start));
      },
      flush(c) {
        if (pending > 0 || overflowed) end(c, EMPTY);
      },
    });
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);
const FFFD = "\uFFFD";

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The bytes of a UTF-8 sequence left incomplete at the end of `carry` + `seg` (at most 3). */
function incompleteTail(carry: Uint8Array, seg: Uint8Array): Uint8Array {
  const last = seg.length >= 3 ? seg.subarray(-3) : join(carry, seg).subarray(-3);
  for (let k = 1; k <= last.length; k++) {
    const b = last[last.length - k];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return k < need ? last.slice(-k) : EMPTY;
  }
  return EMPTY;
}

/** Strict UTF-8 check; `stream` allows an incomplete sequence at the end. */
function validUtf8(bytes: Uint8Array, stream: boolean): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream });
    return true;
  } catch {
    return false;
  }
}
