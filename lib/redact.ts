/**
 * Masks secrets in text the plugin passes on: every log line (lib/log.ts) and
 * every event sent to the host (lib/protocol/outbound.ts). Codex may print
 * an API key (in an error message, a command it ran, the model's own text),
 * and neither the journal nor the host should get it.
 *
 * Masked as `***`: the value of every environment variable whose name ends in
 * `KEY`, `TOKEN`, `SECRET` or `PASSWORD` (6 characters or more), as is and as
 * it appears inside a JSON string; and anything shaped like an OpenAI key
 * (`sk-` followed by 16 or more letters, digits, `-` or `_`).
 *
 * @example
 * ```ts
 * import { Redactor } from "./redact.ts";
 * const r = new Redactor({ OPENAI_API_KEY: "abcdef123456" });
 * r.text("key=abcdef123456 and sk-proj-0123456789abcdefXYZ"); // "key=*** and ***"
 * r.deep({ type: "error", message: "abcdef123456" }); // { type: "error", message: "***" }
 * ```
 *
 * @module
 */

/** Environment variable names whose values are secrets. */
export const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD)$/i;
/** An OpenAI-style API key. */
export const KEY_SHAPE = /sk-[A-Za-z0-9_-]{16,}/g;
/** What a secret is replaced with. */
export const MASK = "***";

/** Masks known secret values and key-shaped tokens. */
export class Redactor {
  /** Longest first, so a secret that contains another is masked whole. */
  readonly #values: string[];

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
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.deep(x);
      return out as T;
    }
    return v;
  }
}
