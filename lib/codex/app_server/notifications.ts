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
 *   running totals, one update per model request), as {@linkcode Totals}.
 * - **Activity** (only with `emitActivity`): `commandExecution`,
 *   `fileChange`, `mcpToolCall` and `webSearch` items at item/started and
 *   item/completed, mapped straight to the neutral item (./items.ts).
 *   `turn/plan/updated` is exec's `todo_list`: `started` at the first plan,
 *   `updated` at each later one, `completed` (the last plan) when the turn
 *   completes, as exec prints it. Progress notifications
 *   (`item/commandExecution/outputDelta`, `item/mcpToolCall/progress`) are
 *   not sent: exec shows no command output before completion either, and a
 *   chatty command would flood the host.
 *
 * @example
 * ```ts
 * import { AppServerTurnMapper } from "./notifications.ts";
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
import type { ActivityItem } from "../../turns/backend.ts";
import type { Streamed } from "../turn_runner.ts";
import type { Totals } from "../usage.ts";
import { ReasoningMapper } from "./reasoning.ts";
import { activityOf, totalsFromWire } from "./items.ts";
import type { Notifications, ThreadItem, Turn, TurnError } from "./wire.ts";

export { totalsFromWire } from "./items.ts";

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

/** The params of notification `M`, as the wire types say (read defensively all the same). */
const wire = <M extends keyof Notifications>(_m: M, p: Params) => p as Notifications[M];

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
  /** The text of the last completed agentMessage (the final answer once the turn completed). */
  answer: string | undefined;

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
  push(method: string, params: Record<string, unknown>): Streamed[] {
    const p = isObject(params) ? params : {};
    switch (method) {
      case "item/agentMessage/delta": {
        const d = wire(method, p);
        return this.#delta(str(d.itemId), str(d.delta));
      }
      case "item/reasoning/summaryTextDelta":
        return this.o.emitReasoning ? this.#reasoning.delta(wire(method, p)) : [];
      case "item/started":
      case "item/completed": {
        const item = wire(method, p).item;
        return isObject(item) ? this.#item(method, item) : [];
      }
      case "error":
        this.#error(wire(method, p));
        return [];
      case "thread/tokenUsage/updated": {
        const total = wire(method, p).tokenUsage?.total;
        if (isObject(total)) this.#totals = totalsFromWire(total);
        return [];
      }
      case "turn/plan/updated":
        return this.#plan(wire(method, p));
      case "turn/completed": {
        const turn = wire(method, p).turn;
        return this.#turnCompleted(isObject(turn) ? turn : undefined);
      }
      default:
        if (!QUIET.has(method)) this.o.onNote?.(`app-server ${method}`, params);
        return [];
    }
  }

  /** More text of agentMessage `id`; its first text after another message's gets a blank line. */
  #text(id: string, text: string): Streamed[] {
    if (!text) return [];
    const sent = this.#sent.get(id);
    this.#sent.set(id, (sent ?? "") + text);
    const first = !sent;
    if (first && this.#messages++ > 0) text = `\n\n${text}`;
    return [{ type: "text_delta", text }];
  }

  #delta(id: string, delta: string): Streamed[] {
    if (this.#completed.has(id)) {
      this.o.onNote?.("app-server delta after its message completed (dropped)", { id, delta });
      return [];
    }
    return this.#text(id, delta);
  }

  /** An agentMessage's final text: send what the deltas did not. */
  #agentMessage(id: string, text: string): Streamed[] {
    if (this.#completed.has(id)) return [];
    this.#completed.add(id);
    this.answer = text;
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

  #item(method: string, item: ThreadItem): Streamed[] {
    const completed = method === "item/completed";
    if (item.type === "agentMessage") {
      return completed ? this.#agentMessage(str(item.id), str(item.text)) : [];
    }
    if (item.type === "reasoning" && this.o.emitReasoning) {
      return completed ? this.#reasoning.completed(item) : [];
    }
    const activity = this.o.emitActivity ? activityOf(item) : undefined;
    if (!activity) {
      if (item.type !== "userMessage") this.o.onNote?.(`app-server ${method}`, item);
      return [];
    }
    return [{ type: "activity", phase: completed ? "completed" : "started", item: activity }];
  }

  #error(p: Notifications["error"]) {
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

  #plan(p: Notifications["turn/plan/updated"]): Streamed[] {
    const items = (Array.isArray(p.plan) ? p.plan : []).map((s) => ({
      text: str(s?.step),
      completed: s?.status === "completed",
    }));
    const phase = this.#todo ? "updated" : "started";
    this.#todo = { id: this.#todo?.id ?? `todo_${str(p.turnId)}`, type: "todo_list", items };
    return this.o.emitActivity ? [{ type: "activity", phase, item: this.#todo }] : [];
  }

  #turnCompleted(turn: Partial<Turn> | undefined): Streamed[] {
    if (this.#done) return [];
    this.#done = true;
    const status = turn?.status;
    this.#status = status === "completed" || status === "interrupted" ? status : "failed";
    if (this.#status === "failed") {
      if (isObject(turn?.error)) this.#remember(turn.error);
      else this.#failure ??= status === "failed" ? "turn failed" : `turn ended ${String(status)}`;
    } else {
      this.#failure = undefined;
      this.#errorInfo = undefined;
    }
    const out: Streamed[] = [];
    // 0.169.0+ repeat the final agentMessage here: sent only if never seen.
    for (const item of Array.isArray(turn?.items) ? turn.items : []) {
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
