/**
 * The `codex app-server` wire, as far as the plugin uses it: the requests it
 * sends ({@linkcode Requests}, method → params and result), the
 * notifications a turn reads ({@linkcode Notifications}) and the items they
 * carry. TYPES ONLY: nothing here exists at run time, and the wire is not
 * validated against them (the mapping reads defensively).
 *
 * Reduced by hand from Codex's own schema of the pinned releases
 * (`codex app-server generate-ts` of 0.135.0, 0.169.0 and 0.171.0, `v2/`):
 * only the fields the plugin sends or reads, under the generated names.
 * A field some release lacks is optional here and says since when.
 * Where the releases differ, and what the recordings show beyond the
 * generated types: fixtures/app-server/VERSIONS.md.
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

// ---------------------------------------------------------------- requests

/** `approvalPolicy` (0.169.0+ reject `"on-failure"`). */
export type AskForApproval = "untrusted" | "on-failure" | "on-request" | "never";

/** `sandbox` of thread/start and thread/resume: a string (an object is rejected). */
export type SandboxMode = "read-only" | "workspace-write" | "danger-full-access";

/** `thread/start` params, the ones the plugin sends. */
export type ThreadStartParams = {
  cwd?: string | null;
  model?: string | null;
  /** Server default `"on-request"`. */
  approvalPolicy?: AskForApproval | null;
  /** Server default read-only. */
  sandbox?: SandboxMode | null;
  /** Sent to the model as a developer message; kept in the thread. */
  developerInstructions?: string | null;
};

/** `thread/resume` params. */
export type ThreadResumeParams = Omit<ThreadStartParams, "developerInstructions"> & {
  threadId: string;
  /** 0.169.0+ (without it they send a `deprecationNotice`); 0.135.0: experimental only. */
  excludeTurns?: boolean;
};

/** The part of a thread the plugin reads. */
export type Thread = {
  /** A UUID (v7); the same id `codex exec` uses, so either backend resumes it. */
  id: string;
  /** The rollout file (../app_server/rollout.ts). */
  path: string | null;
};

/** `thread/start` and `thread/resume` result, the part the plugin reads. */
export type ThreadStartResponse = {
  thread: Thread;
  /** null: Codex's own; else its config's, or (resumed) what a turn's `effort` left. */
  reasoningEffort?: string | null;
};

/** One input item of `turn/start`. */
export type UserInput =
  | { type: "text"; text: string; text_elements: unknown[] }
  /** A URL, here always `data:<mime>;base64,…`. */
  | { type: "image"; url: string };

/** `turn/start` params, the ones the plugin sends. Never with an empty `input`. */
export type TurnStartParams = {
  threadId: string;
  input: UserInput[];
  model?: string | null;
  /** Sticks to the thread. 0.135.0: none…xhigh; 0.169.0+: any non-empty string. */
  effort?: string | null;
  /** A JSON Schema for the final answer, sent as a strict json_schema format; this turn only. */
  outputSchema?: unknown;
};

/** `turn/interrupt` params (the result is `{}`). */
export type TurnInterruptParams = { threadId: string; turnId: string };

/** `initialize` params. */
export type InitializeParams = {
  clientInfo: { name: string; title: string | null; version: string };
  capabilities: { experimentalApi?: boolean } | null;
};

/** `account/login/start` with an API key (the other kinds are never sent). */
export type LoginAccountParams = { type: "apiKey"; apiKey: string };

/** The requests the plugin sends: method → its params and result. */
export interface Requests {
  "initialize": {
    params: InitializeParams;
    /** The server's version appears only inside `userAgent`. */
    result: { userAgent: string };
  };
  "account/login/start": { params: LoginAccountParams; result: { type: string } };
  "thread/start": { params: ThreadStartParams; result: ThreadStartResponse };
  "thread/resume": { params: ThreadResumeParams; result: ThreadStartResponse };
  "turn/start": { params: TurnStartParams; result: { turn: Turn } };
  "turn/interrupt": { params: TurnInterruptParams; result: Record<string, never> };
}

/** A method of {@linkcode Requests}. */
export type Method = keyof Requests;

// ------------------------------------------------------------------ turns

/** A turn's state. */
export type TurnStatus = "completed" | "interrupted" | "failed" | "inProgress";

/** A turn. */
export type Turn = {
  id: string;
  /** 0.135.0: always `[]`; 0.169.0+: the final agentMessage in `turn/completed`. */
  items: ThreadItem[];
  status: TurnStatus;
  /** Set when `status` is `failed`. */
  error: TurnError | null;
};

/**
 * Why Codex failed (`"usageLimitExceeded"`, `"internalServerError"`,
 * `{ httpConnectionFailed: { httpStatusCode: 401 } }`, …); 0.169.0+ allow
 * any string or object.
 */
export type CodexErrorInfo = string | Record<string, { httpStatusCode?: number | null }>;

/** An error of a turn. */
export type TurnError = {
  message: string;
  codexErrorInfo: CodexErrorInfo | null;
  additionalDetails: string | null;
};

// ------------------------------------------------------------------ items

/** Where a command or patch has got (an MCP call is never `declined`). */
export type ItemStatus = "inProgress" | "completed" | "failed" | "declined";

/** One file of a patch. */
export type FileUpdateChange = {
  path: string;
  kind: { type: "add" } | { type: "delete" } | { type: "update"; move_path: string | null };
};

/** The items the plugin maps; any other `type` is passed over. */
export type ThreadItem =
  /** `text` is `""` at item/started, whole at item/completed. */
  | { type: "agentMessage"; id: string; text: string }
  | {
    type: "commandExecution";
    id: string;
    command: string;
    status: ItemStatus;
    /** null until there is output. */
    aggregatedOutput: string | null;
    exitCode: number | null;
  }
  | { type: "fileChange"; id: string; changes: FileUpdateChange[]; status: ItemStatus }
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

// ---------------------------------------------------------- notifications

/** Token counts of a thread (`cacheWriteInputTokens`: 0.169.0+). */
export type TokenUsageBreakdown = {
  totalTokens: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteInputTokens?: number;
  outputTokens: number;
  reasoningOutputTokens: number;
};

/** The notifications a turn reads: method → params. */
export interface Notifications {
  "turn/completed": { threadId: string; turn: Turn };
  "item/started": { threadId: string; turnId: string; item: ThreadItem };
  "item/completed": { threadId: string; turnId: string; item: ThreadItem };
  "item/agentMessage/delta": { threadId: string; turnId: string; itemId: string; delta: string };
  "item/reasoning/summaryTextDelta": {
    threadId: string;
    turnId: string;
    itemId: string;
    delta: string;
    summaryIndex: number;
  };
  /** `willRetry: true` precedes a retry; the final one is followed by a failed `turn/completed`. */
  "error": { threadId: string; turnId: string; error: TurnError; willRetry: boolean };
  /** One per model request, and one right after `thread/resume` (the restored totals). */
  "thread/tokenUsage/updated": {
    threadId: string;
    turnId: string;
    tokenUsage: { total: TokenUsageBreakdown; last: TokenUsageBreakdown };
  };
  /** The model's `update_plan` (exec's `todo_list`). */
  "turn/plan/updated": {
    threadId: string;
    turnId: string;
    plan: { step: string; status: "pending" | "inProgress" | "completed" }[];
  };
}
