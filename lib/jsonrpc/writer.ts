/**
 * The ordered writer of a line-framed connection: messages go out as JSON
 * lines, one after the other, without blocking the event loop, and a peer
 * that stops reading is noticed instead of waited on forever. That matters
 * both ways: a Plexum host that keeps stdout open but reads nothing would
 * keep the plugin and its Codex processes alive, and a dead app-server's
 * stdin must not throw into a turn.
 *
 * @example
 * ```ts
 * import { MessageWriter } from "./writer.ts";
 * const out = new MessageWriter(Deno.stdout, { stallMs: 60_000 });
 * out.send({ jsonrpc: "2.0", method: "event", params: {} });
 * await out.flush();
 * ```
 *
 * @module
 */
import { type Clock, within } from "../async.ts";

/** Why a {@linkcode MessageWriter}'s output is gone. */
export type WriterClosed = "closed" | "stalled";

/** Where bytes go: `Deno.stdout`, or a stream through {@linkcode sinkOf}. */
export interface ByteSink {
  /** Write some of `p`; resolves how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** End the output (a child's stdin: its EOF). */
  close?(): void | Promise<void>;
}

/** A {@linkcode ByteSink} over a `WritableStream` (a child's stdin, a pipe in a test). */
export function sinkOf(w: WritableStream<Uint8Array>): ByteSink {
  const writer = w.getWriter();
  writer.closed.catch(() => {}); // a dead peer's input: reported by the writes, or by reading
  return {
    write: async (p) => (await writer.write(p), p.length),
    close: () => writer.close(),
  };
}

/** Options of {@linkcode MessageWriter}. */
export interface WriterOptions {
  /** How long one message may take to write before the output counts as gone (default: forever). */
  stallMs?: number;
  clock?: Clock;
}

/**
 * Writes messages as lines, in order. When the peer stops reading (EPIPE),
 * or one write has not completed for `stallMs` (the peer keeps the pipe open
 * but reads nothing), `closed` resolves and later sends are dropped.
 */
export class MessageWriter {
  #chain: Promise<void> = Promise.resolve();
  #enc = new TextEncoder();
  #broken = false;
  #onClose!: (why: WriterClosed) => void;
  #o: WriterOptions;
  /** Resolves when the output is gone, with why. */
  readonly closed = new Promise<WriterClosed>((r) => (this.#onClose = r));

  constructor(private out: ByteSink, o: WriterOptions = {}) {
    this.#o = o;
  }

  /** Queue one message (serialized as one JSON line). */
  send(msg: unknown): Promise<void> {
    return this.sendLine(JSON.stringify(msg));
  }

  /** Queue one line as it is (a newline is added). */
  sendLine(line: string): Promise<void> {
    if (this.#broken) return Promise.resolve(); // a stalled write may never settle
    const bytes = this.#enc.encode(line + "\n");
    this.#chain = this.#chain.then(async () => {
      if (this.#broken) return;
      const written = this.#write(bytes).then(() => true, () => false);
      const stallMs = this.#o.stallMs ?? Infinity;
      const done = Number.isFinite(stallMs)
        ? await within(written, stallMs, "stalled" as const, { clock: this.#o.clock })
        : await written;
      if (done !== true) this.#close(done === "stalled" ? "stalled" : "closed");
    });
    return this.#chain;
  }

  /** Resolves when everything queued so far is written, or the output is gone. */
  flush(): Promise<void> {
    return Promise.race([this.#chain, this.closed.then(() => {})]);
  }

  /** End the output once everything queued so far is written; later sends are dropped. */
  end(): Promise<void> {
    if (this.#broken) return Promise.resolve();
    this.#chain = this.#chain.then(async () => {
      if (this.#broken) return;
      this.#close("closed");
      try {
        await this.out.close?.();
      } catch { /* already gone */ }
    });
    return this.#chain;
  }

  async #write(bytes: Uint8Array) {
    for (let at = 0; at < bytes.length && !this.#broken;) {
      at += await this.out.write(bytes.subarray(at));
    }
  }

  #close(why: WriterClosed) {
    if (this.#broken) return;
    this.#broken = true;
    this.#onClose(why);
  }
}
