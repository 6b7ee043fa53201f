/**
 * The notifications of one `codex app-server` turn (demultiplexed by thread
 * and turn) mapped to Plexum's events, so a host gets what exec gives, sooner:
 *
 * - **Text**: one `text_delta` per `item/agentMessage/delta`. An agent
 *   message's `item/completed` (and the final one 0.169.0+ repeat in
 *   `turn/completed`) sends only what its deltas did not; one that
 *   contradicts them is noted, not sent. Each message after the first that
 *   sent text starts with `"\n\n"`, as on exec. A message that never
 *   completed (Codex abandons the one it streams when steered) is retracted
 *   (`text_retracted`, exactly what was sent of it) when the next one starts,
 *   or at the end of a steered turn. **Reasoning** (with
 *   `emitReasoning`) likewise, per summary part.
 * - **Errors**: none emitted; the final one is kept in `failure`, `errorInfo`
 *   (with the reset of a limit `account/rateLimits/updated` shows reached).
 *   **Usage**: the last `thread/tokenUsage/updated` `total`, exec's names.
 * - **Activity** (with `emitActivity`): items straight to the neutral item by
 *   exec's rules (../turn_runner.ts); `turn/plan/updated` is exec's `todo_list`.
 *
 * Read defensively: the wire is typed (./wire.ts), not validated.
 *
 * @example
 * ```ts
 * import { AppServerTurnMapper } from "./notifications.ts";
 * const m = new AppServerTurnMapper({ emitActivity: false });
 * m.push("item/agentMessage/delta", { itemId: "msg_1", delta: "Hel" }); // [{ type: "text_delta", text: "Hel" }]
 * m.push("item/completed", { item: { type: "agentMessage", id: "msg_1", text: "Hello" } }); // [{ type: "text_delta", text: "lo" }]
 * m.push("turn/completed", { turn: { id: "t", status: "completed", items: [], error: null } });
 * m.status; // "completed"
 * ```
 *
 * @module
 */
import type { ActivityItem } from "../../turns/backend.ts";
import { activityStatus, commandOutput, type Streamed } from "../turn_runner.ts";
import { type LimitInfo, limitReset } from "../codex_errors.ts";
import type { Totals } from "../usage.ts";
import type { Notifications, ThreadItem, TokenUsageBreakdown, Turn, TurnError } from "./wire.ts";

type Params = Record<string, unknown>;

const isObject = (v: unknown): v is Params => typeof v === "object" && v !== null;
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The notifications of a turn that carry nothing for the host. */
const QUIET = new Set([
  "turn/started",
  "thread/status/changed",
  "turn/diff/updated",
  "serverRequest/resolved",
]);

/** The params of notification `M`, as the wire types say (read defensively all the same). */
const wire = <M extends keyof Notifications>(_m: M, p: Params) => p as Notifications[M];

/** The thread's totals in exec's names; `cache_write_input_tokens` only when reported (0.169.0+). */
export function totalsFromWire(t: TokenUsageBreakdown): Totals {
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    input_tokens: n(t.inputTokens),
    cached_input_tokens: n(t.cachedInputTokens),
    output_tokens: n(t.outputTokens),
    reasoning_output_tokens: n(t.reasoningOutputTokens),
    ...(typeof t.cacheWriteInputTokens === "number" &&
      { cache_write_input_tokens: t.cacheWriteInputTokens }),
  };
}

/** The neutral activity item of an app-server item; undefined for items that are not activity. */
function activityOf(item: ThreadItem): ActivityItem | undefined {
  const id = str(item.id);
  switch (item.type) {
    case "commandExecution":
      return {
        id,
        type: "command_execution",
        command: str(item.command),
        ...commandOutput(str(item.aggregatedOutput)),
        exit_code: typeof item.exitCode === "number" ? item.exitCode : null,
        status: activityStatus(item.status),
      };
    case "fileChange":
      return {
        id,
        type: "file_change",
        changes: (Array.isArray(item.changes) ? item.changes : []).map((c) => ({
          path: str(c?.path),
          kind: c?.kind?.type === "add" || c?.kind?.type === "delete" ? c.kind.type : "update",
        })),
        status: activityStatus(item.status),
      };
    case "mcpToolCall":
      return {
        id,
        type: "mcp_tool_call",
        server: str(item.server),
        tool: str(item.tool),
        status: activityStatus(item.status),
        ...(item.error && { error: str(item.error.message) || "tool call failed" }),
      };
    case "webSearch":
      return { id, type: "web_search", query: str(item.query) };
  }
}

/** Agent text or reasoning: what was sent per item and part; a new part after text gets `\n\n`. */
class Streamer {
  readonly completed = new Set<string>();
  #sent = new Map<string, string[]>();
  #any = false;
  /** What each item sent, as sent, and whether anything had been sent before it. */
  #wire = new Map<string, { text: string; anyBefore: boolean }>();

  constructor(
    private type: "text_delta" | "reasoning_delta",
    private note?: (msg: string, d: { id: string; streamed: string; completed: string }) => void,
  ) {}

  delta(id: string, index: number, text: string): Streamed[] {
    if (!text || this.completed.has(id)) return [];
    const parts = this.#sent.get(id) ?? [];
    const newPart = !parts[index];
    parts[index] = (parts[index] ?? "") + text;
    this.#sent.set(id, parts);
    if (newPart && this.#any) text = `\n\n${text}`;
    const wire = this.#wire.get(id) ?? { text: "", anyBefore: this.#any };
    this.#wire.set(id, { ...wire, text: wire.text + text });
    this.#any = true;
    return [{ type: this.type, text }];
  }

  /** Take back what items that never completed sent, but those `kept`; latest first. */
  retract(kept: (id: string) => boolean): Streamed[] {
    const gone = [...this.#wire].filter(([id]) => !this.completed.has(id) && !kept(id));
    for (const [id, w] of gone) {
      this.#wire.delete(id);
      this.#sent.delete(id);
      this.#any = w.anyBefore && this.#any;
    }
    return gone.reverse().map(([, w]) => ({ type: "text_retracted", text: w.text }));
  }

  /** The item's final parts; one that contradicts what was streamed goes to `note`, unsent. */
  complete(id: string, parts: string[]): Streamed[] {
    if (this.completed.has(id)) return [];
    const sent = this.#sent.get(id) ?? [];
    const out = parts.flatMap((text, i) => {
      const already = sent[i] ?? "";
      if (text.startsWith(already)) return this.delta(id, i, text.slice(already.length));
      const d = { id, streamed: already, completed: text };
      this.note?.("app-server completed text differs from its deltas (kept the deltas)", d);
      return [];
    });
    this.completed.add(id);
    return out;
  }
}

/** Folds one app-server turn's notifications into Plexum events. */
export class AppServerTurnMapper {
  /** `turn/completed` came, with `status`; the final error (`codexErrorInfo` in `errorInfo`). */
  done = false;
  status: "completed" | "failed" | "interrupted" | undefined;
  failure: string | undefined;
  errorInfo: LimitInfo | undefined;
  #limits: unknown[] = [];
  /** The thread's running totals from the last `thread/tokenUsage/updated`. */
  totals: Totals | undefined;
  /** The turn was steered: a message that never completed was abandoned. */
  steered = false;
  /** The text of the last completed agentMessage (the final answer once the turn completed). */
  answer: string | undefined;
  #text = new Streamer("text_delta", (msg, d) => this.o.onNote?.(msg, d));
  #reasoning = new Streamer("reasoning_delta");
  /** exec's todo_list for turn/plan/updated, once a plan came. */
  #todo: (ActivityItem & { type: "todo_list" }) | undefined;

  /** `onNote` is told what is received but not sent (retries, unknown notifications, …). */
  constructor(
    private o: {
      emitActivity: boolean;
      emitReasoning?: boolean;
      onNote?: (msg: string, data: unknown) => void;
    },
  ) {}

  /** One server notification of this turn; returns the events to send now. */
  push(method: string, params: Record<string, unknown>): Streamed[] {
    const p = isObject(params) ? params : {};
    switch (method) {
      case "item/agentMessage/delta": {
        const d = wire(method, p);
        const [id, delta] = [str(d.itemId), str(d.delta)];
        if (!this.#text.completed.has(id)) return this.#text.delta(id, 0, delta);
        this.o.onNote?.("app-server delta after its message completed (dropped)", { id, delta });
        return [];
      }
      case "item/reasoning/summaryTextDelta": {
        const d = wire(method, p);
        if (!this.o.emitReasoning) return [];
        const index = typeof d.summaryIndex === "number" ? d.summaryIndex : 0;
        return this.#reasoning.delta(str(d.itemId), index, str(d.delta));
      }
      case "item/started":
      case "item/completed": {
        const item = wire(method, p).item;
        return isObject(item) ? this.#item(method, item) : [];
      }
      case "error": {
        const e = wire(method, p);
        const retry = e.willRetry === true;
        this.o.onNote?.(retry ? "app-server error, codex will retry" : "app-server error", e);
        if (!retry && isObject(e.error)) this.#remember(e.error);
        return [];
      }
      case "account/rateLimits/updated":
        this.#limits.push(p.rateLimits);
        return [];
      case "thread/tokenUsage/updated": {
        const total = wire(method, p).tokenUsage?.total;
        if (isObject(total)) this.totals = totalsFromWire(total);
        return [];
      }
      case "turn/plan/updated": {
        const { plan, turnId } = wire(method, p);
        const items = (Array.isArray(plan) ? plan : []).map((s) => ({
          text: str(s?.step),
          completed: s?.status === "completed",
        }));
        const phase = this.#todo ? "updated" : "started";
        this.#todo = { id: this.#todo?.id ?? `todo_${str(turnId)}`, type: "todo_list", items };
        return this.o.emitActivity ? [{ type: "activity", phase, item: this.#todo }] : [];
      }
      case "turn/completed": {
        const turn = wire(method, p).turn;
        return this.#turnCompleted(isObject(turn) ? turn : undefined);
      }
      default:
        if (!QUIET.has(method)) this.o.onNote?.(`app-server ${method}`, params);
        return [];
    }
  }

  #item(method: string, item: ThreadItem): Streamed[] {
    const completed = method === "item/completed";
    if (item.type === "agentMessage") {
      const id = str(item.id);
      return completed ? this.#agentMessage(item) : this.#text.retract((i) => i === id);
    }
    if (item.type === "reasoning" && this.o.emitReasoning) {
      if (!completed) return [];
      // Releases give strings; a {text} part is taken too.
      const parts = (Array.isArray(item.summary) ? item.summary : []).map((part: unknown) =>
        typeof part === "string" ? part : str((part as { text?: unknown })?.text)
      );
      return this.#reasoning.complete(str(item.id), parts);
    }
    const activity = this.o.emitActivity ? activityOf(item) : undefined;
    if (activity) {
      return [{ type: "activity", phase: completed ? "completed" : "started", item: activity }];
    }
    if (item.type !== "userMessage") this.o.onNote?.(`app-server ${method}`, item);
    return [];
  }

  #agentMessage(item: ThreadItem & { type: "agentMessage" }): Streamed[] {
    this.answer = str(item.text);
    return this.#text.complete(str(item.id), [this.answer]);
  }

  #remember(err: TurnError) {
    this.failure = str(err.message) || "turn failed";
    this.errorInfo = { codexErrorInfo: err.codexErrorInfo, resetsAt: limitReset(this.#limits) };
  }

  #turnCompleted(turn: Partial<Turn> | undefined): Streamed[] {
    if (this.done) return [];
    this.done = true;
    const status = turn?.status;
    this.status = status === "completed" || status === "interrupted" ? status : "failed";
    if (this.status === "failed") {
      if (isObject(turn?.error)) this.#remember(turn.error);
      else this.failure ??= status === "failed" ? "turn failed" : `turn ended ${String(status)}`;
    } else {
      this.failure = undefined;
      this.errorInfo = undefined;
    }
    // 0.169.0+ repeat the final agentMessage here: sent only if never seen.
    const messages = (Array.isArray(turn?.items) ? turn.items : []).filter((item) =>
      isObject(item) && item.type === "agentMessage"
    ) as (ThreadItem & { type: "agentMessage" })[];
    const final = new Set(messages.map((m) => str(m.id)));
    const out = this.steered ? this.#text.retract((id) => final.has(id)) : [];
    out.push(...messages.flatMap((m) => this.#agentMessage(m)));
    if (this.#todo && this.o.emitActivity) {
      out.push({ type: "activity", phase: "completed", item: this.#todo });
    }
    return out;
  }
}
