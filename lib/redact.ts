/**
 * Masks secrets in what the plugin passes on (every log line, every event to
 * the host): Codex may print an API key in an error, a command or the
 * model's text. Masked as `***`: the value of every environment variable
 * whose name ends in `KEY`, `TOKEN`, `SECRET` or `PASSWORD` (6 characters or
 * more), as is and as inside a JSON string; and `sk-` followed by 16 or more
 * key characters.
 *
 * @example
 * ```ts
 * import { Redactor, StreamRedactor } from "./redact.ts";
 * const r = new Redactor({ OPENAI_API_KEY: "abcdef123456" });
 * r.text("key=abcdef123456 and sk-proj-0123456789abcdefXYZ"); // "key=*** and ***"
 * const s = new StreamRedactor(r);
 * s.push("key: abc") + s.push("def123456!"); // "key: " + "***!"
 * ```
 *
 * @module
 */

const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD)$/i;
const KEY_SHAPE = /sk-[A-Za-z0-9_-]{16,}/g;
/** The end of a text a key may still grow from: `s`, `sk`, or `sk-` and key characters. */
const KEY_RUN = /sk?$|sk-[A-Za-z0-9_-]*$/;
/** What a secret is replaced with. */
export const MASK = "***";

/** Masks known secret values and key-shaped tokens. */
export class Redactor {
  readonly #values: string[]; // longest first: a secret holding another is masked whole

  /** `env` defaults to the process environment (nothing when it cannot be read). */
  constructor(env?: Record<string, string>) {
    if (!env) {
      try {
        env = Deno.env.toObject();
      } catch {
        env = {};
      }
    }
    const values = Object.entries(env)
      .filter(([k, v]) => SECRET_NAME.test(k) && v.length >= 6)
      .flatMap(([, v]) => [v, JSON.stringify(v).slice(1, -1)]);
    this.#values = [...new Set(values)].sort((a, b) => b.length - a.length);
  }

  /**
   * Where a stream may cut `buf`: `buf.slice(0, end)` can be masked and sent
   * now; the rest may still become a secret (a proper prefix of a secret
   * value, or `s`, `sk`, `sk-…`) and waits. No whole secret is cut in two.
   */
  safeEnd(buf: string): number {
    let end = buf.length;
    for (const v of this.#values) {
      for (let n = Math.min(v.length - 1, buf.length); n > 0; n--) {
        if (buf.length - n < end && buf.endsWith(v.slice(0, n))) {
          end = buf.length - n;
          break;
        }
      }
    }
    const run = KEY_RUN.exec(buf);
    if (run) end = Math.min(end, run.index);
    // A secret the text holds whole, across the cut, moves the cut to its start.
    for (let moved = true; moved && end > 0;) {
      moved = false;
      for (const [at, len] of this.#matches(buf)) {
        if (at < end && at + len > end) [end, moved] = [at, true];
      }
    }
    return end;
  }

  /** Start and length of every secret value and key-shaped token in `s`. */
  *#matches(s: string): Generator<[number, number]> {
    for (const v of this.#values) {
      for (let at = s.indexOf(v); at >= 0; at = s.indexOf(v, at + 1)) yield [at, v.length];
    }
    if (s.includes("sk-")) { for (const m of s.matchAll(KEY_SHAPE)) yield [m.index, m[0].length]; }
  }

  /** `s` with every secret masked. */
  text(s: string): string {
    for (const v of this.#values) if (s.includes(v)) s = s.split(v).join(MASK);
    return s.includes("sk-") ? s.replace(KEY_SHAPE, MASK) : s;
  }

  /** A copy of `v` with every string in it masked (objects and arrays walked). */
  deep<T>(v: T): T {
    if (typeof v === "string") return this.text(v) as T;
    if (Array.isArray(v)) return v.map((x) => this.deep(x)) as T;
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.deep(x)])) as T;
    }
    return v;
  }
}

/** Masks text arriving in pieces: only a tail that may still become a secret waits. */
export class StreamRedactor {
  #held = "";

  constructor(readonly redactor: Redactor) {}

  /** The masked text that can be passed on now, `piece` included ("" when all of it waits). */
  push(piece: string): string {
    const buf = this.#held + piece;
    const end = this.redactor.safeEnd(buf);
    this.#held = buf.slice(end);
    return end === 0 ? "" : this.redactor.text(buf.slice(0, end));
  }

  /** Whatever waits, masked: the stream ended. */
  flush(): string {
    const rest = this.#held;
    this.#held = "";
    return rest && this.redactor.text(rest);
  }
}
