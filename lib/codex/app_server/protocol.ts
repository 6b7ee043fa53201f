/**
 * The few `codex app-server` wire types Plexum uses (JSON-RPC over stdio, one
 * JSON object per line). TYPES ONLY: nothing here exists at run time.
 *
 * Checked against codex 0.135.0, 0.169.0 and 0.171.0, in two ways: the
 * bindings each release generates (`codex app-server generate-ts`), and the
 * transcripts of the real app-server in `fixtures/app-server/<version>/`
 * (recorded by `deno task record:app-server`). Each type names the releases
 * it holds for; "all" means the three. Fields a release lacks are optional
 * here. Everything Plexum does not read is left out (the server sends many
 * more fields): read defensively, the wire is not validated against these.
 *
 * Differences between the releases, as recorded:
 *
 * | | 0.135.0 | 0.169.0 | 0.171.0 |
 * |---|---|---|---|
 * | `emittedAtMs` beside `params` on notifications | no | yes | yes |
 * | `turn/completed` `turn.items` / `itemsView` | `[]` / `notLoaded` | the final agentMessage / `summary` (`[]` when failed or interrupted) | as 0.169.0 |
 * | 401 `codexErrorInfo` | `"other"` | `{httpConnectionFailed: {httpStatusCode: 401}}` | as 0.169.0 |
 * | HTTP 500 message | `We're currently…` | `We’re currently…` (U+2019) | as 0.169.0 |
 * | `TokenUsageBreakdown.cacheWriteInputTokens` | absent | present | present |
 * | `TurnError.misalignment`, `Turn.rootTurnId` | absent | present | present |
 * | items carry `startedAtMs`/`completedAtMs` | no | yes | yes |
 * | `thread/resume` without `excludeTurns` | silent | + `deprecationNotice` (full-history hydration) | as 0.169.0 |
 * | `update_plan` offered to the model | always | only with `-c tools.update_plan.enabled=true` | as 0.169.0 |
 * | `CodexErrorInfo` | a closed list | + `rateLimitExceeded`, `modelNotFound`, …, and any string or object | + `bioPolicy` |
 * | `mcpToolCall` item | — | + `appContext`, `mcpAppUi`, `readOnlyHint` | + `environmentId` |
 * | `item/commandExecution/requestApproval` params | — | + `kind: "command"`, `environmentId` | as 0.169.0 |
 * | `codex exec resume` of a thread an app-server holds (probed) | runs (histories diverge) | rc 1, `… already has an active writer (code -32600)` | as 0.169.0 |
 *
 * 0.171.0 against 0.169.0 otherwise: one new client request
 * (`modelProvider/default/set`) and one new notification
 * (`thread/search/partial`); apart from the table's rows every type below
 * generates identically, and the recorded scenarios give the same message
 * sequences (0.171.0 sent one `turn/diff/updated` fewer in `file_change`).
 *
 * Marked "(notes)": taken from `../shared/notes/codex-app-server.md`
 * (0.135.0 and 0.169.0), not recorded here. "(probed)": tried once by hand on all three
 * releases, not kept as a fixture.
 *
 * Same on all three, as recorded: the handshake and thread/turn methods, the
 * notification order of a turn, one `item/agentMessage/delta` per model
 * delta, `error` then `turn/completed {status: "failed"}` for a failed turn
 * (the same error object in both), `willRetry: true` errors before retries,
 * `turn/interrupt` answered `{}` then `turn/completed {status: "interrupted",
 * error: null}` with no `error` notification and no `item/completed` for the
 * message cut short, `thread/resume` of an unknown id failing with -32600
 * `no rollout found for thread id <id>`, and a `thread/tokenUsage/updated`
 * right after `thread/resume` carrying the thread's restored totals under the
 * PREVIOUS turn's `turnId`.
 *
 * @module
 */

// ---------------------------------------------------------------- JSON-RPC

/**
 * A request either way (client→server, or server→client such as approvals).
 * Neither side needs `"jsonrpc": "2.0"`; the server never sends it. All.
 */
export interface RpcRequest<P = unknown> {
  id: number | string;
  method: string;
  /** Required by the server, even as `{}` ("missing field `params`"). */
  params: P;
}

/** A notification either way (no `id`). All. */
export interface RpcNotification<P = unknown> {
  method: string;
  params: P;
  /** When the server emitted it (Unix ms). 0.169.0 and 0.171.0 only. */
  emittedAtMs?: number;
}

/** The error of a failed request. All. */
export interface RpcError {
  /**
   * -32600 for invalid requests and unknown threads (recorded: "no rollout
   * found for thread id …"), unknown methods (probed: "Invalid request:
   * unknown variant `…`"), and on 0.169.0+ a thread held by another writer
   * (probed: "thread <id> already has an active writer"); (notes) also
   * "thread not found: …" from turn/start. -32603 for internal failures
   * (notes: 0.169.0 "failed to submit turn input: EmptyInput").
   */
  code: number;
  message: string;
  data?: unknown;
}

/** A response to a request. All. */
export type RpcResponse<R = unknown> =
  | { id: number | string; result: R }
  | { id: number | string; error: RpcError };

// -------------------------------------------------------------- handshake

/** `initialize` params. All (0.169.0+ add optional capability fields). */
export interface InitializeParams {
  clientInfo: { name: string; title: string | null; version: string };
  capabilities: {
    experimentalApi?: boolean;
    /** Notification methods the server should not send. */
    optOutNotificationMethods?: string[];
  } | null;
}

/** `initialize` result. All: the server's version appears only inside `userAgent`. */
export interface InitializeResponse {
  /** e.g. `plexum/0.171.0 (Debian 12.0.0; x86_64) xterm (plexum; 0.1.0)`. */
  userAgent: string;
  codexHome?: string;
  platformFamily?: string;
  platformOs?: string;
}

// ---------------------------------------------------------------- threads

/** `approvalPolicy` values. All ((notes) 0.169.0+ reject `"on-failure"`). */
export type AskForApproval = "untrusted" | "on-failure" | "on-request" | "never";

/** `sandbox` of thread/start and thread/resume: a string (an object is rejected). All. */
export type SandboxMode = "read-only" | "workspace-write" | "danger-full-access";

/** `thread/start` params (the ones Plexum may send). All. */
export interface ThreadStartParams {
  cwd?: string | null;
  model?: string | null;
  /** Server default `"on-request"`: pass `"never"` for exec's behaviour. */
  approvalPolicy?: AskForApproval | null;
  /** Server default read-only: pass `"danger-full-access"` for exec's behaviour. */
  sandbox?: SandboxMode | null;
  /** Config overrides for this thread, e.g. `{ model_reasoning_effort: "low" }`. */
  config?: Record<string, unknown> | null;
  /** Sent to the model as a developer message; kept in the thread. */
  developerInstructions?: string | null;
  baseInstructions?: string | null;
  ephemeral?: boolean | null;
}

/**
 * `thread/resume` params. All; `excludeTurns` 0.169.0+ (without it 0.169.0+
 * send a `deprecationNotice` about full-history hydration). (notes) A new
 * `developerInstructions` here was ignored (the thread's first one is kept).
 */
export interface ThreadResumeParams extends Omit<ThreadStartParams, "ephemeral"> {
  threadId: string;
  excludeTurns?: boolean;
}

/** The part of a thread Plexum reads. All. */
export interface Thread {
  /** A UUID (v7); the same id `codex exec` uses, so either backend resumes it. */
  id: string;
  cwd?: string;
  /** The rollout file. */
  path?: string | null;
  cliVersion?: string;
  /** Filled by thread/resume (without `excludeTurns`), empty from thread/start. */
  turns?: Turn[];
}

/** `thread/start` and `thread/resume` result (trimmed). All. */
export interface ThreadStartResponse {
  thread: Thread;
  model: string;
  cwd: string;
  approvalPolicy: unknown;
  /** e.g. `{ type: "dangerFullAccess" }`. */
  sandbox: unknown;
}

/** `thread/resume` result. All. */
export type ThreadResumeResponse = ThreadStartResponse;

// ------------------------------------------------------------------ turns

/** One input item of `turn/start`. All. */
export type UserInput =
  | { type: "text"; text: string; text_elements?: unknown[] }
  /** A URL, including `data:image/png;base64,…`. */
  | { type: "image"; url: string }
  /** An absolute path; a missing file becomes a text note to the model, not an error. */
  | { type: "localImage"; path: string };

/** `turn/start` params (the ones Plexum may send). All. */
export interface TurnStartParams {
  threadId: string;
  /**
   * Never send it empty. Probed on a fresh thread: all three accept `[]` and
   * run a turn (0.169.0+ even call the model); (notes) 0.169.0 answered
   * -32603 EmptyInput in another case.
   */
  input: UserInput[];
  cwd?: string | null;
  approvalPolicy?: AskForApproval | null;
  /** An object here, e.g. `{ type: "dangerFullAccess" }` (a string is rejected). */
  sandboxPolicy?: { type: string; [k: string]: unknown } | null;
  model?: string | null;
}

/** `turn/start` result: the turn, `inProgress`. All. */
export interface TurnStartResponse {
  turn: Turn;
}

/** `turn/interrupt` params; the result is `{}`. All. */
export interface TurnInterruptParams {
  threadId: string;
  turnId: string;
}

/** A turn's state. All. */
export type TurnStatus = "completed" | "interrupted" | "failed" | "inProgress";

/** A turn. All; `rootTurnId` 0.169.0+. */
export interface Turn {
  id: string;
  rootTurnId?: string | null;
  /**
   * 0.135.0: always `[]` in notifications. 0.169.0+: the final agentMessage
   * in `turn/completed` of a completed turn.
   */
  items: ThreadItem[];
  itemsView?: "notLoaded" | "summary" | "full";
  status: TurnStatus;
  /** Set when `status` is `failed`; null when interrupted. */
  error: TurnError | null;
  /** Unix seconds. */
  startedAt?: number | null;
  completedAt?: number | null;
  durationMs?: number | null;
}

/**
 * Why Codex failed, as recorded:
 * - HTTP 500: `"internalServerError"` (all);
 * - HTTP 401: `"other"` (0.135.0), `{ httpConnectionFailed: { httpStatusCode: 401 } }` (0.169.0+);
 * - a retry: `{ responseStreamDisconnected: { httpStatusCode: null } }` (all).
 * Generated types list more (`usageLimitExceeded`, `contextWindowExceeded`,
 * 0.169.0+ `rateLimitExceeded`, …); 0.169.0+ also allow any string or object.
 */
export type CodexErrorInfo = string | Record<string, { httpStatusCode?: number | null }>;

/** An error of a turn. All; `misalignment` 0.169.0+. */
export interface TurnError {
  message: string;
  codexErrorInfo: CodexErrorInfo | null;
  /** For a retry: the underlying message (e.g. the 500's text). */
  additionalDetails: string | null;
  misalignment?: unknown;
}

// ------------------------------------------------------------------ items

/** Where a command, patch or tool call has got. All (mcpToolCall has no `declined`). */
export type ItemStatus = "inProgress" | "completed" | "failed" | "declined";

/**
 * The items Plexum maps (others pass as {@linkcode OtherItem}). All; 0.169.0+
 * add `startedAtMs`/`completedAtMs` to every item.
 */
export type ThreadItem =
  | AgentMessageItem
  | CommandExecutionItem
  | FileChangeItem
  | McpToolCallItem
  | WebSearchItem
  | ReasoningItem
  | OtherItem;

/** Common to every item. */
interface ItemBase {
  id: string;
  startedAtMs?: number | null;
  completedAtMs?: number | null;
}

/** A reply of the model. `text` is `""` in item/started, whole in item/completed. All. */
export interface AgentMessageItem extends ItemBase {
  type: "agentMessage";
  text: string;
  phase?: string | null;
}

/** A shell command. All. */
export interface CommandExecutionItem extends ItemBase {
  type: "commandExecution";
  /** e.g. `/bin/bash -lc 'echo hi'`: the same string exec reports. */
  command: string;
  cwd: string;
  processId: string | null;
  /** e.g. `"unifiedExecStartup"`, `"agent"`. */
  source?: string;
  status: ItemStatus;
  /** null until output exists (exec reports `""`). */
  aggregatedOutput: string | null;
  exitCode: number | null;
  durationMs: number | null;
}

/** One file of a patch. All. */
export interface FileUpdateChange {
  path: string;
  kind: { type: "add" } | { type: "delete" } | { type: "update"; move_path: string | null };
  diff: string;
}

/** A patch applied by the model (`apply_patch`). All. */
export interface FileChangeItem extends ItemBase {
  type: "fileChange";
  changes: FileUpdateChange[];
  status: ItemStatus;
}

/** A call of an MCP server's tool. All (generated types only: not recorded). */
export interface McpToolCallItem extends ItemBase {
  type: "mcpToolCall";
  server: string;
  tool: string;
  status: Exclude<ItemStatus, "declined">;
  arguments?: unknown;
  result?: unknown;
  error: { message: string } | null;
  durationMs?: number | null;
}

/** A web search of the model. All; `results` 0.169.0+. */
export interface WebSearchItem extends ItemBase {
  type: "webSearch";
  query: string;
  action?: { type: string; query?: string; [k: string]: unknown } | null;
}

/** The model's reasoning: never sent as text or activity. All. */
export interface ReasoningItem extends ItemBase {
  type: "reasoning";
  summary: string[];
  content: string[];
}

/** Any other item (`userMessage`, `plan`, `dynamicToolCall`, `contextCompaction`, …). */
export interface OtherItem extends ItemBase {
  type: string;
  [k: string]: unknown;
}

// ---------------------------------------------------------- notifications

/** `turn/started` and `turn/completed`. All. */
export interface TurnNotification {
  threadId: string;
  turn: Turn;
}

/** `item/started` (`startedAtMs`) and `item/completed` (`completedAtMs`). All. */
export interface ItemNotification {
  item: ThreadItem;
  threadId: string;
  turnId: string;
  startedAtMs?: number;
  completedAtMs?: number;
}

/**
 * `item/agentMessage/delta`, `item/commandExecution/outputDelta` (not seen
 * with the mock's instant commands) and the other `…/delta`s. All.
 */
export interface DeltaNotification {
  threadId: string;
  turnId: string;
  itemId: string;
  delta: string;
}

/**
 * `error`. All. `willRetry: true` ("Reconnecting... 1/2") precedes a retry;
 * the final one (`false`) is followed by `turn/completed` with the same error.
 */
export interface ErrorNotification {
  error: TurnError;
  willRetry: boolean;
  threadId: string;
  turnId: string;
}

/** Token counts of a thread. All; `cacheWriteInputTokens` 0.169.0+. */
export interface TokenUsageBreakdown {
  totalTokens: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteInputTokens?: number;
  outputTokens: number;
  reasoningOutputTokens: number;
}

/**
 * `thread/tokenUsage/updated`: one per model request (a tool turn sends
 * several), and one right after `thread/resume` (the restored totals, with
 * the previous turn's id). `total` runs over the whole thread; `last` is the
 * latest request. All.
 */
export interface TokenUsageNotification {
  threadId: string;
  turnId: string;
  tokenUsage: {
    total: TokenUsageBreakdown;
    last: TokenUsageBreakdown;
    modelContextWindow: number | null;
  };
}

/**
 * `turn/plan/updated`: the model's `update_plan` call (exec shows it as a
 * `todo_list` item). All; 0.169.0+ offer the tool only when
 * `tools.update_plan.enabled` is set.
 */
export interface TurnPlanNotification {
  threadId: string;
  turnId: string;
  explanation: string | null;
  plan: { step: string; status: "pending" | "inProgress" | "completed" }[];
}

/** Notification methods and their params, for the ones Plexum reads. All. */
export interface ServerNotifications {
  "turn/started": TurnNotification;
  "turn/completed": TurnNotification;
  "item/started": ItemNotification;
  "item/completed": ItemNotification;
  "item/agentMessage/delta": DeltaNotification;
  "item/commandExecution/outputDelta": DeltaNotification;
  "error": ErrorNotification;
  "thread/tokenUsage/updated": TokenUsageNotification;
  "turn/plan/updated": TurnPlanNotification;
  /** After the client answered a server request. */
  "serverRequest/resolved": { threadId: string; requestId: number | string };
  /** No thread: not part of any turn. */
  "account/rateLimits/updated": { rateLimits: Record<string, unknown> };
  "thread/started": { thread: Thread };
  "thread/status/changed": { threadId: string; status: { type: string } };
}

// ------------------------------------------------ server→client requests

/**
 * The requests the server may send (ids start at 0), all releases: the
 * client must answer each one or the turn waits.
 */
export type ServerRequestMethod =
  | "item/commandExecution/requestApproval"
  | "item/fileChange/requestApproval"
  | "item/permissions/requestApproval"
  | "item/tool/requestUserInput"
  | "item/tool/call"
  | "mcpServer/elicitation/request"
  | "account/chatgptAuthTokens/refresh"
  | "attestation/generate"
  | "execCommandApproval"
  | "applyPatchApproval";

/**
 * `item/commandExecution/requestApproval` params (trimmed). All; 0.169.0+
 * add `kind: "command"` and `environmentId`.
 */
export interface CommandApprovalParams {
  threadId: string;
  turnId: string;
  itemId: string;
  command: string;
  cwd: string;
  availableDecisions?: unknown[];
  kind?: string;
}

/**
 * The answer to an approval. `"decline"` is accepted even when not listed in
 * `availableDecisions`: the item ends `declined` and the model is told
 * "rejected by user". All.
 */
export interface ApprovalResponse {
  decision: "accept" | "acceptForSession" | "decline" | "cancel";
}
