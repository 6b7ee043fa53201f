/**
 * The params of a `chat` request: validated field by field (one error per
 * bad field, as `-32602` `data.errors` wants them) and reduced to what a turn
 * needs. The prompt is the last user message (Codex keeps the history; a new
 * thread gets the earlier messages, lib/protocol/messages.ts); the
 * system messages, joined, become developer instructions for a new thread.
 *
 * @example
 * ```ts
 * import { parseChatParams } from "./chat_params.ts";
 * const params = { turn_id: "t1", agent: { id: "a", workspace: "/srv/agent" }, messages: [] };
 * const r = parseChatParams(params, { models: ["codex"], inFlight: () => false });
 * if (!r.ok) console.error(r.error); // [{ field: "messages", message: "…" }]
 * else console.log(r.value.prompt);
 * ```
 *
 * @module
 */
import { err, ok, type Result } from "../result.ts";
import type { FieldError } from "../config.ts";
import { addError, addErrors } from "./field_errors.ts";
import { workspaceProblem } from "./workspace.ts";
import type { HistoryMessage, ImageInput } from "../turns/backend.ts";
import { type ParsedMessages, parseMessages } from "./messages.ts";
import { parseTurnOptions, type TurnOptions } from "./turn_options.ts";

/** A valid chat request, ready to run. */
export interface ChatParams extends TurnOptions {
  turnId: string;
  /** Absolute path of an existing directory. */
  workspace: string;
  prompt: string;
  /** Images of the last user message. */
  images?: ImageInput[];
  /** User and assistant messages before the prompt (lib/protocol/messages.ts). */
  history?: HistoryMessage[];
  system?: string;
  /** An advertised model id (the first advertised when the request names none). */
  model: string;
  reset: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validate `p`; `models` are the advertised ids, `inFlight` tells a turn id in use. */
export function parseChatParams(
  p: Record<string, unknown>,
  opts: { models: string[]; inFlight: (turnId: string) => boolean },
): Result<ChatParams, FieldError[]> {
  const errors: FieldError[] = [];
  const bad = (field: string, message: string) => addError(errors, { field, message }); // bounded
  if (typeof p.turn_id !== "string" || p.turn_id === "") {
    bad("turn_id", "must be a non-empty string");
  } else if (opts.inFlight(p.turn_id)) bad("turn_id", "is already in flight");
  const agent = p.agent;
  if (!isObject(agent)) {
    bad("agent", "must be an object {id, workspace}");
  } else {
    if (typeof agent.id !== "string" || agent.id === "") {
      bad("agent.id", "must be a non-empty string");
    }
    const wsProblem = workspaceProblem(agent.workspace);
    if (wsProblem) bad("agent.workspace", wsProblem);
  }
  const { models } = opts;
  if (p.model !== undefined && (typeof p.model !== "string" || !models.includes(p.model))) {
    bad("model", `must be one of the advertised models: ${models.join(", ")}`);
  }
  if (p.reset !== undefined && typeof p.reset !== "boolean") bad("reset", "must be a boolean");
  const options = parseTurnOptions(p, bad); // reasoning_effort, output_schema (./turn_options.ts)
  let msgs: ParsedMessages | undefined;
  if (!Array.isArray(p.messages)) bad("messages", "must be an array");
  else {
    // Roles, content parts (text, images), the prompt: lib/protocol/messages.ts.
    const m = parseMessages(p.messages);
    if (!m.ok) addErrors(errors, m.error);
    else msgs = m.value;
  }
  if (errors.length) return err(errors);
  const { prompt, images, system, history } = msgs!;
  return ok({
    turnId: p.turn_id as string,
    workspace: (agent as { workspace: string }).workspace,
    prompt,
    ...(images.length > 0 && { images }),
    ...(history.length > 0 && { history }),
    system,
    model: (p.model as string | undefined) ?? models[0],
    reset: p.reset === true,
    ...options,
  });
}
