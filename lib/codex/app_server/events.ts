/**
 * The notifications of one `codex app-server` turn (already demultiplexed by
 * thread and turn id) mapped to Plexum's events (lib/turns/backend.ts), so
 * that a host gets from this backend what exec gives, only sooner.
 *
 * - **Text**: one `text_delta` per `item/agentMessage/delta`, in order. An
 *   agent message's `item/completed` sends only what its deltas did not: the
 *   whole text when no delta came, the missing suffix when the completed text
 *   extends what was streamed, nothing when they are equal (the usual case).
 *   A completed text that contradicts what was streamed is noted, not sent:
 *   what the host has cannot be taken back. Every agent message after the
 *   first that sent text starts with `"\n\n"`, as on exec. The final
 *   agentMessage 0.169.0+ repeat in `turn/completed` goes through the same
 *   rule (so it is never sent twice).
 * - **Errors**: nothing is emitted. `error` with `willRetry: true` is only
 *   noted; the final one and `turn/completed`'s `turn.error` are remembered
 *   in {@linkcode AppServerTurnMapper.failure} and `errorInfo`: the backend
 *   emits the turn's one error.
 * - **Usage**: the last `thread/tokenUsage/updated` `total` (the thread's
 *   running totals, one update per model request) in exec's field names.
 * - **Activity** (only with `emitActivity`): `commandExecution`,
 *   `fileChange`, `mcpToolCall` and `webSearch` items at item/started and
 *   item/completed, converted to exec's item shape and then to the neutral
 *   item by the shared `toActivity` (lib/codex/activity.ts), so both backends
 *   give the same shape (the same output cut to 4096 characters). `turn/plan/updated` is exec's
 *   `todo_list`: `started` at the first plan, `updated` at each later one,
 *   `completed` (the last plan) when the turn completes, as exec prints it.
 *   Progress notifications (`item/commandExecution/outputDelta`,
 *   `item/mcpToolCall/progress`) are not sent: exec shows no command output
 *   before completion either, and a chatty command would flood the host.
 *
 * @example
 * ```ts
 * import { AppServerTurnMapper } from "./events.ts";
 * const m = new AppServerTurnMapper({ emitActivity: false });
 * m.push("item/agentMessage/delta", { itemId: "msg_1", delta: "Hel" }); // [{ type: "text_delta", text: "Hel" }]
 * m.push("item/agentMessage/delta", { itemId: "msg_1", delta: "lo" }); // [{ type: "text_delta", text: "lo" }]
 * m.push("item/completed", { item: { type: "agentMessage", id: "msg_1", text: "Hello" } }); // []
 * m.push("turn/completed", { turn: { id: "t", status: "completed", items: [], error: null } });
 * m.done; // true
 * m.status; // "completed"
 * ```
 *
 * @module
 */
import type { ActivityItem, PlexumEvent } from "../../turns/backend.ts";
import type { Totals } from "../usage.ts";
import { ReasoningMapper } from "./reasoning.ts";
import { type CodexItem, toActivity } from "../activity.ts";
import type {
  ErrorNotification,
  ThreadItem,
  TokenUsageBreakdown,
  TurnError,
  TurnPlanNotification,
} from "./protocol.ts";

/** Options of {@linkcode AppServerTurnMapper}. */
export interface TurnMapperOptions {
  /** Send activity events (config `emit_activity`). */
  emitActivity: boolean;
  /** Send `reasoning_delta` events (config `emit_reasoning`; mapped by ./reasoning.ts). */
  emitReasoning?: boolean;
  /** Told about what is received but not sent (retries, unknown notifications, …). */
  onNote?: (msg: string, data: unknown) => void;
}

/** How a turn ended, from `turn/completed`. */
export type TurnEndStatus = "completed" | "failed" | "interrupted";

type Params = Record<string, unknown>;

const isObject = (v: unknown): v is Params => typeof v === "object" && v !== null;
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The notifications of a turn that carry nothing for the host. */
const QUIET = new Set([
  "turn/started",
  "thread/status/changed",
  "turn/diff/updated",
  "serverRequest/resolved",
  "account/rateLimits/updated",
]);

/**
 * `TokenUsageBreakdown` (camelCase) → exec's `turn.completed.usage` names.
 * `cache_write_input_tokens` only when reported (0.169.0+).
 */
export function totalsFromWire(t: TokenUsageBreakdown): Totals {
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const totals: Totals = {
    input_tokens: n(t.inputTokens),
    cached_input_tokens: n(t.cachedInputTokens),
    output_tokens: n(t.outputTokens),
    reasoning_output_tokens: n(t.reasoningOutputTokens),
  };
  if (typeof t.cacheWriteInputTokens === "number") {
    totals.cache_write_input_tokens = t.cacheWriteInputTokens;
  }
  return totals;
}

/**
 * An app-server item in the shape `codex exec --json` prints, for the item
 * types that are activity; undefined for the others.
 */
export function execShapedItem(item: ThreadItem): CodexItem | undefined {
  const it = item as Params;
  const id = str(it.id);
  // camelCase statuses ("inProgress") become "in_progress" in toActivity.
  switch (it.type) {
    case "commandExecution":
      return {
        id,
        type: "command_execution",
        command: str(it.command),
        aggregated_output: str(it.aggregatedOutput),
        exit_code: typeof it.exitCode === "number" ? it.exitCode : null,
        status: it.status,
      };
    case "fileChange":
      return {
        id,
        type: "file_change",
        changes: (Array.isArray(it.changes) ? it.changes : []).map((c) => ({
          path: str(c?.path),
          kind: isObject(c?.kind) ? c.kind.type : c?.kind,
        })),
        status: it.status,
      };
    case "mcpToolCall":
      return {
        id,
        type: "mcp_tool_call",
        server: str(it.server),
        tool: str(it.tool),
        status: it.status,
        error: it.error ?? null,
      };
    case "webSearch":
      return { id, type: "web_search", query: str(it.query) };
  }
  return undefined;
}

/** Folds one app-server turn's notifications into Plexum events. */
export class AppServerTurnMapper {
  #done = false;
  #status: TurnEndStatus | undefined;
  #failure: string | undefined;
  #errorInfo: unknown;
  #totals: Totals | undefined;
  /** Text sent so far per agentMessage item id. */
  #sent = new Map<string, string>();
  /** agentMessage items whose item/completed was seen. */
  #completed = new Set<string>();
  /** Agent messages that have sent text (the second one on starts with a blank line). */
  #messages = 0;
  /** exec's todo_list for turn/plan/updated, once a plan came. */
  #todo: (ActivityItem & { type: "todo_list" }) | undefined;
  #reasoning = new ReasoningMapper();

  constructor(private o: TurnMapperOptions) {}

  /** `turn/completed` seen. */
  get done(): boolean {
    return this.#done;
  }
  /** How the turn ended (`turn/completed`'s `turn.status`). */
  get status(): TurnEndStatus | undefined {
    return this.#status;
  }
  /**
   * The turn's final error message: `turn.error.message` of a failed
   * `turn/completed`, else that of the last `error` with `willRetry: false`.
   * Undefined once a turn completed or was interrupted.
   */
  get failure(): string | undefined {
    return this.#failure;
  }
  /** `codexErrorInfo` of that error (e.g. `{ httpConnectionFailed: { httpStatusCode: 401 } }`). */
  get errorInfo(): unknown {
    return this.#errorInfo;
  }
  /** The thread's running totals from the last `thread/tokenUsage/updated`, exec's names. */
  get totals(): Totals | undefined {
    return this.#totals;
  }

  /** One server notification of this turn; returns the events to send now. */
  push(method: string, params: Record<string, unknown>): PlexumEvent[] {
    const p = isObject(params) ? params : {};
    switch (method) {
      case "item/agentMessage/delta":
        return this.#delta(str(p.itemId), str(p.delta));
      case "item/reasoning/summaryTextDelta":
        return this.o.emitReasoning ? this.#reasoning.delta(p) : [];
      case "item/started":
      case "item/completed":
        return isObject(p.item) ? this.#item(method, p.item as unknown as ThreadItem) : [];
      case "error":
        this.#error(p as unknown as ErrorNotification);
        return [];
      case "thread/tokenUsage/updated": {
        const total = isObject(p.tokenUsage) ? p.tokenUsage.total : undefined;
        if (isObject(total)) this.#totals = totalsFromWire(total as unknown as TokenUsageBreakdown);
        return [];
      }
      case "turn/plan/updated":
        return this.#plan(p as unknown as TurnPlanNotification);
      case "turn/completed":
        return this.#turnCompleted(isObject(p.turn) ? p.turn : {});
      default:
        if (!QUIET.has(method)) this.o.onNote?.(`app-server ${method}`, params);
        return [];
    }
  }

  /** More text of agentMessage `id`; its first text after another message's gets a blank line. */
  #text(id: string, text: string): PlexumEvent[] {
    if (!text) return [];
    const sent = this.#sent.get(id);
    this.#sent.set(id, (sent ?? "") + text);
    const first = !sent;
    if (first && this.#messages++ > 0) text = `\n\n${text}`;
    return [{ type: "text_delta", text }];
  }

  #delta(id: string, delta: string): PlexumEvent[] {
    if (this.#completed.has(id)) {
      this.o.onNote?.("app-server delta after its message completed (dropped)", { id, delta });
      return [];
    }
    return this.#text(id, delta);
  }

  /** An agentMessage's final text: send what the deltas did not. */
  #agentMessage(id: string, text: string): PlexumEvent[] {
    if (this.#completed.has(id)) return [];
    this.#completed.add(id);
    const sent = this.#sent.get(id) ?? "";
    if (text === sent) return [];
    if (!text.startsWith(sent)) {
      this.o.onNote?.("app-server completed text differs from its deltas (kept the deltas)", {
        id,
        streamed: sent,
        completed: text,
      });
      return [];
    }
    return this.#text(id, text.slice(sent.length));
  }

  #item(method: string, item: ThreadItem): PlexumEvent[] {
    const completed = method === "item/completed";
    if (item.type === "agentMessage") {
      return completed ? this.#agentMessage(str(item.id), str(item.text)) : [];
    }
    if (item.type === "reasoning" && this.o.emitReasoning) {
      return completed ? this.#reasoning.completed(item as Params) : [];
    }
    const shaped = execShapedItem(item);
    const activity = shaped && this.o.emitActivity ? toActivity(shaped) : undefined;
    if (!activity) {
      if (item.type !== "userMessage") this.o.onNote?.(`app-server ${method}`, item);
      return [];
    }
    return [{ type: "activity", phase: completed ? "completed" : "started", item: activity }];
  }

  #error(p: ErrorNotification) {
    const err = isObject(p.error) ? p.error : undefined;
    if (p.willRetry === true) {
      this.o.onNote?.("app-server error, codex will retry", p);
      return;
    }
    this.o.onNote?.("app-server error", p);
    if (err) this.#remember(err);
  }

  #remember(err: TurnError) {
    this.#failure = str(err.message) || "turn failed";
    this.#errorInfo = err.codexErrorInfo ?? undefined;
  }

  #plan(p: TurnPlanNotification): PlexumEvent[] {
    const items = (Array.isArray(p.plan) ? p.plan : []).map((s) => ({
      text: str(s?.step),
      completed: s?.status === "completed",
    }));
    const phase = this.#todo ? "updated" : "started";
    this.#todo = { id: this.#todo?.id ?? `todo_${str(p.turnId)}`, type: "todo_list", items };
    return this.o.emitActivity ? [{ type: "activity", phase, item: this.#todo }] : [];
  }

  #turnCompleted(turn: Params): PlexumEvent[] {
    if (this.#done) return [];
    this.#done = true;
    const status = turn.status;
    this.#status = status === "completed" || status === "interrupted" ? status : "failed";
    if (this.#status === "failed") {
      if (isObject(turn.error)) this.#remember(turn.error as unknown as TurnError);
      else this.#failure ??= status === "failed" ? "turn failed" : `turn ended ${String(status)}`;
    } else {
      this.#failure = undefined;
      this.#errorInfo = undefined;
    }
    const out: PlexumEvent[] = [];
    // 0.169.0+ repeat the final agentMessage here: sent only if never seen.
    for (const item of Array.isArray(turn.items) ? turn.items : []) {
      if (isObject(item) && item.type === "agentMessage") {
        out.push(...this.#agentMessage(str(item.id), str(item.text)));
      }
    }
    if (this.#todo && this.o.emitActivity) {
      out.push({ type: "activity", phase: "completed", item: this.#todo });
    }
    return out;
  }
}
