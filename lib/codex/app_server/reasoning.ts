/**
 * The app-server's reasoning, as `reasoning_delta` events (config
 * `emit_reasoning`): each `item/reasoning/summaryTextDelta` as it comes, and
 * at a reasoning item's `item/completed` only what its deltas did not carry
 * (the whole summary when none came, as when the API sends the item whole).
 * Separate parts of a summary are joined with a blank line. Never mixed into
 * `text_delta`: the agent message mapping lives in ./notifications.ts.
 *
 * Seen on 0.135.0 and 0.169.0 (the mock streaming a summary in three parts):
 * `item/reasoning/summaryPartAdded {itemId, summaryIndex}`, then
 * `item/reasoning/summaryTextDelta {itemId, delta, summaryIndex}` per part,
 * then `item/completed {item: {type: "reasoning", id, summary: [string],
 * content: []}}`.
 *
 * @example
 * ```ts
 * import { ReasoningMapper } from "./reasoning.ts";
 * const r = new ReasoningMapper();
 * r.delta({ itemId: "rs_1", delta: "The user ", summaryIndex: 0 }); // [{type:"reasoning_delta", text:"The user "}]
 * r.completed({ id: "rs_1", summary: ["The user wants a greeting."] }); // the rest: "wants a greeting."
 * ```
 *
 * @module
 */
import type { Streamed } from "../turn_runner.ts";
import type { Notifications, ThreadItem } from "./wire.ts";

type Params = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Folds one turn's reasoning notifications into `reasoning_delta` events. */
export class ReasoningMapper {
  /** Text sent per item id, per summary index. */
  #sent = new Map<string, string[]>();
  #completed = new Set<string>();

  /** `item/reasoning/summaryTextDelta`. */
  delta(
    p: Pick<Notifications["item/reasoning/summaryTextDelta"], "itemId" | "delta" | "summaryIndex">,
  ): Streamed[] {
    const id = str(p.itemId);
    if (this.#completed.has(id)) return [];
    const index = typeof p.summaryIndex === "number" ? p.summaryIndex : 0;
    return this.#send(id, index, str(p.delta));
  }

  /** A reasoning item's `item/completed`: whatever of its summary was not streamed. */
  completed(item: Pick<Extract<ThreadItem, { type: "reasoning" }>, "id" | "summary">): Streamed[] {
    const id = str(item.id);
    if (this.#completed.has(id)) return [];
    this.#completed.add(id);
    const summary = Array.isArray(item.summary) ? item.summary : [];
    const sent = this.#sent.get(id) ?? [];
    const out: Streamed[] = [];
    summary.forEach((part, i) => {
      // 0.135.0 and 0.169.0 give strings; a {text} object is taken too.
      const text = typeof part === "string" ? part : str((part as { text?: unknown } | null)?.text);
      const already = sent[i] ?? "";
      if (text.startsWith(already)) out.push(...this.#send(id, i, text.slice(already.length)));
    });
    return out;
  }

  #send(id: string, index: number, text: string): Streamed[] {
    if (!text) return [];
    const parts = this.#sent.get(id) ?? [];
    const anyBefore = [...this.#sent.values()].some((p) => p.some(Boolean));
    // A new part (or a new item) after text already sent starts on a new paragraph.
    const newPart = !parts[index];
    parts[index] = (parts[index] ?? "") + text;
    this.#sent.set(id, parts);
    return [{ type: "reasoning_delta", text: newPart && anyBefore ? `\n\n${text}` : text }];
  }
}
