/**
 * Framing apart from the protocol: a connection whose messages are lines,
 * read from one byte stream and written to another. Reading splits lines
 * with {@linkcode LineStream} (bounded, UTF-8 checked line by line); writing
 * goes through one ordered {@linkcode MessageWriter}. What the lines mean is
 * up to the user: the Plexum protocol server parses each strictly
 * (lib/protocol/stdio.ts), a {@linkcode Peer} reads them as JSON-RPC
 * (lib/jsonrpc/peer.ts), a test driver keeps them raw (dev/plugin.ts).
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
import type { Clock } from "../async.ts";
import { LineStream } from "../lines.ts";
import { type ByteSink, MessageWriter, sinkOf, type WriterClosed } from "./writer.ts";

/** Options of {@linkcode LineTransport}. */
export interface TransportOptions {
  /** What the other side writes. */
  readable: ReadableStream<Uint8Array>;
  /** What the other side reads: a stream, or a sink such as `Deno.stdout`. */
  writable: WritableStream<Uint8Array> | ByteSink;
  /** Longest line read (default {@linkcode LineStream.DEFAULT_MAX}); longer ones are skipped. */
  maxLineBytes?: number;
  /** A line over `maxLineBytes` was skipped. */
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
  #writer: MessageWriter;
  #stop = new AbortController();
  #reading = false;

  constructor(o: TransportOptions) {
    this.#o = o;
    const sink = o.writable instanceof WritableStream ? sinkOf(o.writable) : o.writable;
    this.#writer = new MessageWriter(sink, { stallMs: o.stallMs, clock: o.clock });
  }

  /** Resolves when the output is gone (the other side stopped reading, or stalled). */
  get outputClosed(): Promise<WriterClosed> {
    return this.#writer.closed;
  }

  /**
   * The lines read, until the input ends or {@linkcode close} is called; a
   * line of invalid UTF-8 is `undefined` (unless `onInvalidUtf8` is set).
   * A read error (also the one {@linkcode close} causes) ends the iteration
   * by throwing: it is how the other side goes away. Read once.
   */
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
    return this.#writer.send(msg);
  }

  /** Send one line as it is (a test sending what no encoder would). */
  sendLine(line: string): Promise<void> {
    return this.#writer.sendLine(line);
  }

  /** Resolves once everything sent so far is written, or the output is gone. */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /** End the output once what was sent is written (the other side sees EOF). */
  endOutput(): Promise<void> {
    return this.#writer.end();
  }

  /** End the output and stop reading. */
  close(): void {
    this.#writer.end();
    this.#stop.abort();
  }
}
