/**
 * A {@linkcode Clock} that moves only when a test says so: timers fire in
 * order of their due time during {@linkcode FakeClock.tick}, so a test of an
 * idle timeout, a crash-loop window or a deadline takes no wall-clock time.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./fake_clock.ts";
 * import { within } from "../lib/async.ts";
 * const clock = new FakeClock();
 * const r = within(new Promise(() => {}), 5_000, "late", { clock });
 * await clock.tick(5_000);
 * console.log(await r); // "late"
 * ```
 *
 * @module
 */
import type { Clock } from "../lib/async.ts";

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/** Time that moves by {@linkcode FakeClock.tick} only. */
export class FakeClock implements Clock {
  #now = 0;
  #next = 1;
  #timers: Timer[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.push({ id, due: this.#now + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Move time forward by `ms`, firing each timer that falls due, earliest
   * first; pending promise callbacks run between timers.
   */
  async tick(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await flush();
      const due = this.#timers.filter((t) => t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.due;
      due.fn();
    }
    this.#now = end;
    await flush();
  }
}

/** Let queued promise callbacks run. */
async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}
