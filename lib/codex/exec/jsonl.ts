/**
 * Codex's `exec --json` lines (see openai/codex `codex-rs/exec`) and their
 * mapping for one turn: what the host sees as it streams (text, reasoning,
 * activity: exec's items as the contract's neutral activity items, which
 * protocol v1 first documented from exec's shape), and what the driver
 * (./driver.ts) reads at the end (thread id, totals, failure).
 *
 * One failure gives one error: Codex prints `error` then `turn.failed` with the
 * same message, and non-fatal `error` events ("Reconnecting...") precede
 * retries; so `error` events are only remembered and logged, and the turn's
 * error is decided when it ends.
 *
 * @example
 * ```ts
 * import { TurnMapper } from "./jsonl.ts";
 * const m = new TurnMapper({ emitActivity: false });
 * m.push({ type: "item.completed", item: { id: "i", type: "agent_message", text: "hi" } });
 * // [{ type: "text_delta", text: "hi" }]
 * ```
 *
 * @module
 */

import type { ActivityItem } from "../../turns/backend.ts";
import { activityStatus, commandOutput, type Streamed } from "../turn_runner.ts";
import type { Totals } from "../usage.ts";

/** A Codex item (`agent_message`, `command_execution`, `file_change`, ...). */
export interface CodexItem {
  id: string;
  type: string;
  text?: string;
  [k: string]: unknown;
}

/** A line of `codex exec --json` output. */
export type CodexEvent =
  | { type: "thread.started"; thread_id: string }
  | { type: "turn.started" }
  /** `usage`: the thread's running totals (validated where they are used: ../usage.ts). */
  | { type: "turn.completed"; usage?: Totals }
  | { type: "turn.failed"; error?: { message?: string } }
  | { type: "item.started" | "item.updated" | "item.completed"; item: CodexItem }
  | { type: "error"; message?: string };

/**
 * Folds one turn's Codex events into Plexum events, and keeps what the end
 * needs: the thread id, the running totals, `turn.failed`'s message, the last
 * `error` event's (for a crash without `turn.failed`).
 */
export class TurnMapper {
  threadId: string | undefined;
  totals: Totals | undefined;
  failure: string | undefined;
  lastError: string | undefined;
  completed = false;
  /** The text of the last completed agent message (the final answer once the turn completed). */
  answer: string | undefined;
  #count = { text_delta: 0, reasoning_delta: 0 };

  constructor(
    private opts: {
      emitActivity: boolean;
      /** Send each completed `reasoning` item as one `reasoning_delta`. */
      emitReasoning?: boolean;
      onNote?: (msg: string, ev: unknown) => void;
    },
  ) {}

  /** Feed one parsed line; returns the events to send now. */
  push(ev: CodexEvent): Streamed[] {
    switch (ev.type) {
      case "thread.started":
        if (typeof ev.thread_id === "string") this.threadId = ev.thread_id;
        return [];
      case "turn.completed":
        this.completed = true;
        if (ev.usage && typeof ev.usage === "object") this.totals = ev.usage;
        return [];
      case "turn.failed":
        this.failure = ev.error?.message ?? this.lastError ?? "turn failed";
        return [];
      case "error":
        this.lastError = ev.message;
        this.opts.onNote?.("codex reported an error (may be retried)", ev);
        return [];
      case "item.started":
      case "item.updated":
      case "item.completed":
        return this.#item(ev.type, ev.item);
      default:
        this.opts.onNote?.("codex event", ev);
        return [];
    }
  }

  #item(type: string, item: CodexItem | undefined): Streamed[] {
    if (!item || typeof item !== "object") return [];
    // exec prints messages and reasoning only whole (item.completed).
    const kind = item.type === "agent_message"
      ? "text_delta"
      : item.type === "reasoning" && this.opts.emitReasoning
      ? "reasoning_delta"
      : undefined;
    if (kind && type === "item.completed") {
      const text = typeof item.text === "string" ? item.text : "";
      this.answer = text;
      if (!text) return [];
      return [{ type: kind, text: this.#count[kind]++ > 0 ? `\n\n${text}` : text }];
    }
    if (item.type === "error") this.opts.onNote?.("codex reported a non-fatal error item", item);
    const activity = this.opts.emitActivity ? toActivity(item) : undefined;
    if (activity) {
      const phase = type.slice("item.".length) as "started" | "updated" | "completed";
      return [{ type: "activity", phase, item: activity }];
    }
    this.opts.onNote?.(`codex ${type}`, item);
    return [];
  }
}

/** The neutral activity item for an exec item, or undefined for items that are not activity. */
export function toActivity(item: CodexItem): ActivityItem | undefined {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const id = str(item.id);
  switch (item.type) {
    case "command_execution":
      return {
        id,
        type: "command_execution",
        command: str(item.command),
        ...commandOutput(str(item.aggregated_output)),
        exit_code: typeof item.exit_code === "number" ? item.exit_code : null,
        status: activityStatus(item.status),
      };
    case "file_change": {
      const changes = Array.isArray(item.changes) ? item.changes : [];
      return {
        id,
        type: "file_change",
        changes: changes.map((c) => ({
          path: str(c?.path),
          kind: c?.kind === "add" || c?.kind === "delete" ? c.kind : "update",
        })),
        status: activityStatus(item.status),
      };
    }
    case "mcp_tool_call": {
      const err = item.error as { message?: unknown } | null | undefined;
      return {
        id,
        type: "mcp_tool_call",
        server: str(item.server),
        tool: str(item.tool),
        status: activityStatus(item.status),
        ...(err && { error: str(err.message) || "tool call failed" }),
      };
    }
    case "web_search":
      return { id, type: "web_search", query: str(item.query) };
    case "todo_list": {
      const items = Array.isArray(item.items) ? item.items : [];
      return {
        id,
        type: "todo_list",
        items: items.map((t) => ({ text: str(t?.text), completed: t?.completed === true })),
      };
    }
  }
  return undefined;
}
