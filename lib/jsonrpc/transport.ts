/**
 * A connection whose messages are lines: read from one byte stream with
 * {@linkcode LineStream} (bounded, UTF-8 checked line by line), written to
 * another in order as JSON lines. A peer that stops reading is noticed, not
 * waited on forever: a host that keeps stdout open but reads nothing would
 * keep the plugin and its Codex processes alive, and a dead app-server's
 * stdin must not throw into a turn. What the lines mean is the user's: the
 * protocol server parses them strictly, a {@linkcode Peer} (lib/jsonrpc/peer.ts)
 * as JSON-RPC, a test driver keeps them raw (dev/plugin.ts).
 *
 * @example
 * ```ts
 * import { LineTransport } from "./transport.ts";
 * const t = new LineTransport({ readable: Deno.stdin.readable, writable: Deno.stdout });
 * for await (const line of t.lines()) if (line) t.send({ echo: line });
 * await t.flush();
 * ```
 *
 * @module
 */
import { type Clock, within } from "../async.ts";
import { LineStream } from "../lines.ts";

/** Where bytes go: `Deno.stdout`, a test's sink. */
export interface ByteSink {
  /** Write some of `p`; resolves how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** End the output (a child's stdin: its EOF). */
  close?(): void | Promise<void>;
}

/** Options of {@linkcode LineTransport}. */
export interface TransportOptions {
  /** What the other side writes. */
  readable: ReadableStream<Uint8Array>;
  /** What the other side reads. */
  writable: WritableStream<Uint8Array> | ByteSink;
  /** Longest line read (default {@linkcode LineStream.DEFAULT_MAX}); longer ones are skipped. */
  maxLineBytes?: number;
  onOverflow?: (bytes: number) => void;
  /** Deliver a line of invalid UTF-8 with U+FFFD (after this call) instead of as `undefined`. */
  onInvalidUtf8?: (bytes: number) => void;
  /** How long one write may stay blocked before the output counts as gone (default: forever). */
  stallMs?: number;
  clock?: Clock;
}

/** One line-framed connection; see the module doc. */
export class LineTransport {
  #o: TransportOptions;
  #out: ByteSink;
  #stop = new AbortController();
  #reading = false;
  #chain: Promise<void> = Promise.resolve();
  #enc = new TextEncoder();
  #broken = false;
  #onClose!: (why: "closed" | "stalled") => void;
  /** Resolves when the output is gone: the other side stopped reading, or stalled. */
  readonly outputClosed: Promise<"closed" | "stalled"> = new Promise((r) => (this.#onClose = r));

  constructor(o: TransportOptions) {
    this.#o = o;
    if (o.writable instanceof WritableStream) {
      const writer = o.writable.getWriter();
      writer.closed.catch(() => {}); // a dead peer's input: reported by the writes, or by reading
      this.#out = {
        write: async (p) => (await writer.write(p), p.length),
        close: () => writer.close(),
      };
    } else this.#out = o.writable;
  }

  /** The lines read (once): invalid UTF-8 is `undefined`; a read error or `close` throws. */
  lines(): ReadableStream<string | undefined> {
    if (this.#reading) throw new Error("a transport is read once");
    this.#reading = true;
    const { maxLineBytes, onOverflow, onInvalidUtf8 } = this.#o;
    return this.#o.readable.pipeThrough(
      new LineStream({ maxLineBytes, onOverflow, onInvalidUtf8 }),
      { signal: this.#stop.signal },
    );
  }

  /** Send one message as a JSON line, after those sent before. */
  send(msg: unknown): Promise<void> {
    return this.sendLine(JSON.stringify(msg));
  }

  /** Send one line as it is (a test sending what no encoder would). */
  sendLine(line: string): Promise<void> {
    if (this.#broken) return Promise.resolve(); // a stalled write may never settle
    const bytes = this.#enc.encode(line + "\n");
    this.#chain = this.#chain.then(async () => {
      if (this.#broken) return;
      const written = (async () => {
        for (let at = 0; at < bytes.length && !this.#broken;) {
          at += await this.#out.write(bytes.subarray(at));
        }
      })().then(() => true, () => false);
      const { stallMs = Infinity, clock } = this.#o;
      const done = Number.isFinite(stallMs)
        ? await within(written, stallMs, "stalled" as const, { clock })
        : await written;
      if (done !== true) this.#close(done === "stalled" ? "stalled" : "closed");
    });
    return this.#chain;
  }

  /** Resolves once everything sent so far is written, or the output is gone. */
  flush(): Promise<void> {
    return Promise.race([this.#chain, this.outputClosed.then(() => {})]);
  }

  /** End the output once what was sent is written (the other side sees EOF). */
  endOutput(): Promise<void> {
    if (this.#broken) return Promise.resolve();
    this.#chain = this.#chain.then(async () => {
      if (this.#broken) return;
      this.#close("closed");
      try {
        await this.#out.close?.();
      } catch { /* already gone */ }
    });
    return this.#chain;
  }

  /** End the output and stop reading. */
  close(): void {
    this.endOutput();
    this.#stop.abort();
  }

  #close(why: "closed" | "stalled") {
    if (this.#broken) return;
    this.#broken = true;
    this.#onClose(why);
  }
}
