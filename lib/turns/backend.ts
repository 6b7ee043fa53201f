/**
 * The contract between the protocol and a way of running Codex: what a turn
 * asks for ({@linkcode TurnRequest}), what it reports while it runs
 * ({@linkcode PlexumEvent}) and how it ends ({@linkcode TurnResult}); types
 * and the constants PROTOCOL.md documents. Both backends map their wire to
 * these, so a host cannot tell which one ran a turn.
 *
 * @example
 * ```ts
 * import type { Backend, TurnRequest, TurnResult } from "./backend.ts";
 * const echo: Backend = {
 *   runTurn(req: TurnRequest): Promise<TurnResult> {
 *     req.emit({ type: "text_delta", text: req.prompt });
 *     return Promise.resolve({ stop_reason: "end_turn", thread_id: null, usage: null });
 *   },
 *   close: () => Promise.resolve(),
 * };
 * ```
 *
 * @module
 */
import type { ReasoningEffort } from "../config.ts";

/** Token usage of one turn, as Plexum gets it. */
export interface Usage {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  /** Only when Codex reports it. */
  cache_write_input_tokens?: number;
}

/** Codes of `error` events, as documented in PROTOCOL.md. */
export const ERROR_CODES = [
  "codex_not_found",
  "codex_exit",
  "turn_failed",
  "timeout",
  "rate_limited",
  "internal",
] as const;
/** The code of an `error` event. */
export type ErrorCode = typeof ERROR_CODES[number];

/** How far an activity item has got. */
export type ActivityStatus = "in_progress" | "completed" | "failed" | "declined";

/** What Codex does besides talking; field names follow `codex exec --json`, protocol v1's first. */
export type ActivityItem =
  | {
    id: string;
    type: "command_execution";
    command: string;
    /** The last 4096 characters of the output so far. */
    aggregated_output: string;
    exit_code: number | null;
    status: ActivityStatus;
    /** Present when `aggregated_output` was cut. */
    output_truncated?: true;
  }
  | {
    id: string;
    type: "file_change";
    changes: { path: string; kind: "add" | "delete" | "update" }[];
    status: ActivityStatus;
  }
  | {
    id: string;
    type: "mcp_tool_call";
    server: string;
    tool: string;
    status: ActivityStatus;
    /** The error text of a failed call. */
    error?: string;
  }
  | { id: string; type: "web_search"; query: string }
  | { id: string; type: "todo_list"; items: { text: string; completed: boolean }[] };

/** Activity item types, as documented in PROTOCOL.md. */
export const ACTIVITY_TYPES: readonly ActivityItem["type"][] = [
  "command_execution",
  "file_change",
  "mcp_tool_call",
  "web_search",
  "todo_list",
];

/** Plexum's events, sent as `event` notifications. */
export type PlexumEvent =
  | { type: "text_delta"; text: string }
  /** The end of the text sent so far was abandoned by Codex (after a steer): drop `text`. */
  | { type: "text_retracted"; text: string }
  /** The model's reasoning (summary) text; only with config `emit_reasoning`. */
  | { type: "reasoning_delta"; text: string }
  | ({ type: "usage" } & Usage)
  | {
    type: "error";
    code: ErrorCode;
    message: string;
    /** `rate_limited` only: seconds until the limit resets, when Codex said. */
    retry_after_s?: number;
  }
  | { type: "activity"; phase: "started" | "updated" | "completed"; item: ActivityItem };

/** Event types, as documented in PROTOCOL.md. */
export const EVENT_TYPES: readonly PlexumEvent["type"][] = [
  "text_delta",
  "text_retracted",
  "reasoning_delta",
  "usage",
  "error",
  "activity",
];

/** Image types a user message may carry, as documented in PROTOCOL.md. */
export const IMAGE_MIME_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"] as const;
/** The mime type of an image. */
export type ImageMimeType = typeof IMAGE_MIME_TYPES[number];

/** An image of the prompt, checked, in standard padded base64 as the host sent it. */
export interface ImageInput {
  mime_type: ImageMimeType;
  base64: string;
}

/** An earlier message, for a new thread; images are placeholders in `text`. */
export interface HistoryMessage {
  role: "user" | "assistant";
  text: string;
}

/** What one turn needs. */
export interface TurnRequest {
  /** Absolute path of an existing directory. */
  workspace: string;
  /** The last user message, its text and images. */
  prompt: string;
  images?: ImageInput[];
  /** Earlier user and assistant messages, oldest first; only for a new thread without `reset`. */
  history?: HistoryMessage[];
  /** Plexum model id (advertised). */
  model: string;
  /** Developer instructions for a new thread. */
  system?: string;
  /** Start a new thread even when one is stored. */
  reset: boolean;
  /** This turn's reasoning effort; absent: config `reasoning_effort`, else Codex's own. */
  reasoningEffort?: ReasoningEffort;
  /** A JSON Schema the final answer must follow (for this turn only). */
  outputSchema?: Record<string, unknown>;
  /** Aborted when the host cancels the turn or the plugin stops. */
  signal: AbortSignal;
  /** Send an event to the host (dropped once the turn has been answered). */
  emit(ev: PlexumEvent): void;
  /** The backend tells how to steer the turn while it runs (`undefined`: no longer). */
  steerable?(steer: Steer | undefined): void;
}

/** Put a user message into a running turn; resolves with its thread id, or undefined if it ended. */
export type Steer = (input: Pick<TurnRequest, "prompt" | "images">) => Promise<string | undefined>;

/** How a turn ended. */
export interface TurnResult {
  stop_reason: "end_turn" | "cancelled" | "error" | "steered";
  /** `steered`: the host's turn id of the running turn that got the messages. */
  steered_into?: string;
  /** A `steer` request that ran as an ordinary turn: why (PROTOCOL.md). */
  steer?: "not_running" | "unsupported";
  thread_id: string | null;
  usage: Usage | null;
  /** How many `history` messages the turn sent to a new thread (absent: none). */
  replayed_messages?: number;
  /** With `outputSchema`: the final answer, parsed (only when the turn ended `end_turn`). */
  output?: unknown;
}

/** A way of running turns; a failed turn emits one `error` event (see outcome.ts). */
export interface Backend {
  runTurn(req: TurnRequest): Promise<TurnResult>;
  /** Release what the backend holds (processes); turns have ended by then. */
  close(): Promise<void>;
}
