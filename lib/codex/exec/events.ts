/**
 * Codex's `exec --json` events (see openai/codex `codex-rs/exec`), Plexum's
 * canonical events, and the mapping between them for one turn.
 *
 * One failure gives one error: Codex prints `error` then `turn.failed` with the
 * same message, and non-fatal `error` events ("Reconnecting...") precede
 * retries; so `error` events are only remembered and logged, and the turn's
 * error is decided when it ends.
 *
 * @example
 * ```ts
 * const m = new TurnMapper({ emitActivity: false });
 * m.push({ type: "item.completed", item: { id: "i", type: "agent_message", text: "hi" } });
 * // [{ type: "text_delta", text: "hi" }]
 * ```
 */

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
  | { type: "turn.completed"; usage?: Record<string, number> }
  | { type: "turn.failed"; error?: { message?: string } }
  | { type: "item.started" | "item.updated" | "item.completed"; item: CodexItem }
  | { type: "error"; message?: string };

/** Token usage of one turn, as Plexum gets it. */
export interface Usage {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cache_write_input_tokens?: number;
}

/** Error codes of `error` events (documented in PROTOCOL.md). */
export type ErrorCode =
  | "codex_not_found"
  | "codex_exit"
  | "turn_failed"
  | "timeout"
  | "internal";

/** Plexum's canonical events, sent as `event` notifications. */
export type PlexumEvent =
  | { type: "text_delta"; text: string }
  | ({ type: "usage" } & Usage)
  | { type: "error"; code: ErrorCode; message: string }
  | { type: "activity"; phase: "started" | "updated" | "completed"; item: CodexItem };

const ACTIVITY = new Set([
  "command_execution",
  "file_change",
  "mcp_tool_call",
  "web_search",
  "todo_list",
  "plan",
]);
const MAX_ACTIVITY_OUTPUT = 4096;

/** Codex's running totals → this turn's usage, given the totals before the turn. */
export function usageDelta(total: Record<string, number>, before?: Record<string, number>): Usage {
  const d = (k: string) => Math.max(0, (total[k] ?? 0) - (before?.[k] ?? 0));
  const u: Usage = {
    input_tokens: d("input_tokens"),
    cached_input_tokens: d("cached_input_tokens"),
    output_tokens: d("output_tokens"),
    reasoning_tokens: d("reasoning_output_tokens"),
  };
  if (typeof total.cache_write_input_tokens === "number") {
    u.cache_write_input_tokens = d("cache_write_input_tokens");
  }
  return u;
}

function forActivity(item: CodexItem): CodexItem {
  const out = item.aggregated_output;
  if (typeof out === "string" && out.length > MAX_ACTIVITY_OUTPUT) {
    return { ...item, aggregated_output: out.slice(-MAX_ACTIVITY_OUTPUT), output_truncated: true };
  }
  return item;
}

/** Folds one turn's Codex events into Plexum events. */
export class TurnMapper {
  /** Thread id from `thread.started`. */
  threadId: string | undefined;
  /** Cumulative totals from `turn.completed`. */
  totals: Record<string, number> | undefined;
  /** Message of `turn.failed`, if any. */
  failure: string | undefined;
  /** Last `error` event message (for a crash without `turn.failed`). */
  lastError: string | undefined;
  completed = false;
  #texts = 0;

  constructor(
    private opts: { emitActivity: boolean; onNote?: (msg: string, ev: unknown) => void },
  ) {}

  /** Feed one parsed line; returns the events to send now. */
  push(ev: CodexEvent): PlexumEvent[] {
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

  #item(type: string, item: CodexItem | undefined): PlexumEvent[] {
    if (!item || typeof item !== "object") return [];
    if (item.type === "agent_message" && type === "item.completed") {
      const text = typeof item.text === "string" ? item.text : "";
      if (!text) return [];
      return [{ type: "text_delta", text: this.#texts++ > 0 ? `\n\n${text}` : text }];
    }
    if (item.type === "error") this.opts.onNote?.("codex reported a non-fatal error item", item);
    if (this.opts.emitActivity && ACTIVITY.has(item.type)) {
      const phase = type.slice("item.".length) as "started" | "updated" | "completed";
      return [{ type: "activity", phase, item: forActivity(item) }];
    }
    this.opts.onNote?.(`codex ${type}`, item);
    return [];
  }
}
