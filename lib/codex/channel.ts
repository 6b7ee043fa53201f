/**
 * A queue from callbacks to an async iterable: a Codex process reports by
 * callback (a line on stdout, a notification), a driver yields happenings.
 * Pushed values are kept in order until read; {@linkcode Channel.close} ends
 * the iteration once they have all been read.
 *
 * @example
 * ```ts
 * import { Channel } from "./channel.ts";
 * const ch = new Channel<number>();
 * ch.push(1);
 * ch.push(2);
 * ch.close();
 * for await (const n of ch) console.log(n); // 1, 2
 * ```
 *
 * @module
 */

/** See the module doc. */
export class Channel<T> implements AsyncIterable<T> {
  #buf: T[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  /** Queue `v` (ignored once closed). */
  push(v: T): void {
    if (this.#closed) return;
    this.#buf.push(v);
    this.#wake?.();
  }

  /** No more values: the iteration ends after those queued. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      while (this.#buf.length) yield this.#buf.shift()!;
      if (this.#closed) return;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }
}
