/**
 * The `chat` fields that shape how Codex runs one turn, validated: the
 * reasoning effort (`reasoning_effort`, else config `reasoning_effort`, else
 * Codex's own) and a JSON Schema the final answer must follow
 * (`output_schema`: an object of at most {@linkcode MAX_OUTPUT_SCHEMA_BYTES}
 * as JSON). Each applies to its turn only: a later turn without it is back to
 * the default, whatever the backend. `steer: true` asks for the request's
 * last user message to go into the workspace's running turn (scheduler.ts).
 *
 * @example
 * ```ts
 * import { parseTurnOptions } from "./turn_options.ts";
 * parseTurnOptions({ reasoning_effort: "high" }, console.error); // { reasoningEffort: "high" }
 * ```
 *
 * @module
 */
import { REASONING_EFFORTS, type ReasoningEffort } from "../config.ts";

/** What {@linkcode parseTurnOptions} gives a turn. */
export interface TurnOptions {
  /** Absent: the configured default, else Codex's own. */
  reasoningEffort?: ReasoningEffort;
  /** The final answer must be JSON of this schema; the result carries it parsed as `output`. */
  outputSchema?: Record<string, unknown>;
  /** Steer the workspace's running turn instead of waiting for it. */
  steer?: boolean;
}

/** The largest `output_schema`, in bytes of its JSON (UTF-8). */
export const MAX_OUTPUT_SCHEMA_BYTES = 64 * 1024;

/** What `initialize` advertises in `capabilities` for these fields. */
export const TURN_OPTION_CAPABILITIES = { reasoning_effort: true, output_schema: true } as const;

/** Validate the turn option fields of chat params `p`; each bad one goes to `bad`. */
export function parseTurnOptions(
  p: Record<string, unknown>,
  bad: (field: string, message: string) => void,
): TurnOptions {
  const o: TurnOptions = {};
  const effort = p.reasoning_effort;
  if (effort !== undefined && effort !== null) {
    if (REASONING_EFFORTS.includes(effort as ReasoningEffort)) {
      o.reasoningEffort = effort as ReasoningEffort;
    } else bad("reasoning_effort", `must be one of ${REASONING_EFFORTS.join(", ")}`);
  }
  const schema = p.output_schema;
  if (schema !== undefined && schema !== null) {
    const size = typeof schema === "object" && !Array.isArray(schema) &&
      new TextEncoder().encode(JSON.stringify(schema)).length;
    const max = MAX_OUTPUT_SCHEMA_BYTES;
    if (size === false) bad("output_schema", "must be a JSON Schema object");
    else if (size > max) bad("output_schema", `is ${size} bytes as JSON; at most ${max} are taken`);
    else o.outputSchema = schema as Record<string, unknown>;
  }
  if (p.steer !== undefined && p.steer !== null && typeof p.steer !== "boolean") {
    bad("steer", "must be a boolean");
  } else if (p.steer === true) o.steer = true;
  return o;
}
