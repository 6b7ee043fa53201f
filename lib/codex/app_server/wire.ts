/**
 * The `codex app-server` wire, as far as the plugin uses it: the requests it
 * sends ({@linkcode Requests}) and the notifications a turn reads
 * ({@linkcode Notifications}). Types only, not validated (the mapping reads
 * defensively). Reduced by hand from `codex app-server generate-ts` of the
 * pinned releases (0.135.0, 0.169.0, 0.171.0, `v2/`), under the generated
 * names; a field some release lacks is optional and says since when. How the
 * releases differ: fixtures/app-server/VERSIONS.md.
 *
 * @example
 * ```ts
 * import type { Notifications, Requests } from "./wire.ts";
 * const start: Requests["turn/start"]["params"] = {
 *   threadId: "0199a0b1-0000-7000-8000-000000000001",
 *   input: [{ type: "text", text: "hi", text_elements: [] }],
 * };
 * const delta: Notifications["item/agentMessage/delta"] = {
 *   threadId: start.threadId, turnId: "t", itemId: "msg_1", delta: "Hel",
 * };
 * ```
 *
 * @module
 */

/** `thread/start` params the plugin sends (approval `never` and the sandbox: ../sandbox.ts). */
export type ThreadStartParams = {
  cwd?: string | null;
  model?: string | null;
  /** Sent to the model as a developer message; kept in the thread. */
  developerInstructions?: string | null;
};

/** `thread/start` and `thread/resume` result: the thread's id (exec's too) and rollout file. */
export type ThreadStartResponse = {
  thread: { id: string; path: string | null };
  /** null: Codex's own; else its config's, or (resumed) what a turn's `effort` left. */
  reasoningEffort?: string | null;
};

/** One input item of `turn/start`; an image's URL is always `data:<mime>;base64,…`. */
export type UserInput =
  | { type: "text"; text: string; text_elements: unknown[] }
  | { type: "image"; url: string };

type ClientInfo = { name: string; title: string | null; version: string };
type TurnStartParams = {
  threadId: string;
  input: UserInput[];
  model?: string | null;
  /** Sticks to the thread. 0.135.0: none…xhigh; 0.169.0+: any non-empty string. */
  effort?: string | null;
  /** A JSON Schema for the final answer, sent as a strict json_schema format; this turn only. */
  outputSchema?: unknown;
};
/** `excludeTurns`: 0.169.0+ (without it they warn); 0.135.0: experimental only. */
type ThreadResumeParams = ThreadStartParams & { threadId: string; excludeTurns?: boolean };

/** The requests the plugin sends: method → its params and result. */
export interface Requests {
  /** The server's version appears only inside `userAgent`. */
  "initialize": {
    params: { clientInfo: ClientInfo; capabilities: null };
    result: { userAgent: string };
  };
  "account/login/start": { params: { type: "apiKey"; apiKey: string }; result: unknown };
  "thread/start": { params: ThreadStartParams; result: ThreadStartResponse };
  "thread/resume": { params: ThreadResumeParams; result: ThreadStartResponse };
  "turn/start": { params: TurnStartParams; result: { turn: Turn } };
  "turn/interrupt": { params: { threadId: string; turnId: string }; result: unknown };
  "turn/steer": {
    params: { threadId: string; expectedTurnId: string; input: UserInput[] };
    result: unknown;
  };
}

export type Method = keyof Requests;

/** A turn; `items`: 0.135.0 always `[]`, 0.169.0+ the final agentMessage in `turn/completed`. */
export type Turn = {
  id: string;
  items: ThreadItem[];
  status: "completed" | "interrupted" | "failed" | "inProgress";
  error: TurnError | null;
};

/**
 * An error of a turn; `codexErrorInfo`: `"usageLimitExceeded"`,
 * `{ httpConnectionFailed: { httpStatusCode: 401 } }`, … (0.169.0+: any).
 */
export type TurnError = {
  message: string;
  codexErrorInfo: string | Record<string, { httpStatusCode?: number | null }> | null;
  additionalDetails: string | null;
};

type ItemStatus = "inProgress" | "completed" | "failed" | "declined";

/** The items the plugin maps; any other `type` is passed over. */
export type ThreadItem =
  /** `text` is `""` at item/started, whole at item/completed. */
  | { type: "agentMessage"; id: string; text: string }
  | {
    type: "commandExecution";
    id: string;
    command: string;
    status: ItemStatus;
    aggregatedOutput: string | null;
    exitCode: number | null;
  }
  | {
    type: "fileChange";
    id: string;
    changes: { path: string; kind: { type: "add" | "delete" | "update" } }[];
    status: ItemStatus;
  }
  | {
    type: "mcpToolCall";
    id: string;
    server: string;
    tool: string;
    status: Exclude<ItemStatus, "declined">;
    error: { message: string } | null;
  }
  | { type: "webSearch"; id: string; query: string }
  /** Summary parts: strings on every pinned release. */
  | { type: "reasoning"; id: string; summary: string[] }
  | { type: "userMessage" | "plan" | "contextCompaction" | "dynamicToolCall"; id: string };

/** Token counts of a thread (`cacheWriteInputTokens`: 0.169.0+). */
export type TokenUsageBreakdown = {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteInputTokens?: number;
  outputTokens: number;
  reasoningOutputTokens: number;
};

type OfTurn = { threadId: string; turnId: string };

/** The notifications a turn reads: method → params. */
export interface Notifications {
  "turn/completed": { threadId: string; turn: Turn };
  "item/started": OfTurn & { item: ThreadItem };
  "item/completed": OfTurn & { item: ThreadItem };
  "item/agentMessage/delta": OfTurn & { itemId: string; delta: string };
  "item/reasoning/summaryTextDelta": OfTurn & {
    itemId: string;
    delta: string;
    summaryIndex: number;
  };
  /** `willRetry: true` precedes a retry; the final one is followed by a failed `turn/completed`. */
  "error": OfTurn & { error: TurnError; willRetry: boolean };
  /** One per model request, and one right after `thread/resume` (the restored totals). */
  "thread/tokenUsage/updated": OfTurn & { tokenUsage: { total: TokenUsageBreakdown } };
  /** The model's `update_plan` (exec's `todo_list`). */
  "turn/plan/updated": OfTurn & {
    plan: { step: string; status: "pending" | "inProgress" | "completed" }[];
  };
}
