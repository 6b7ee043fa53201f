/**
 * The `chat` fields that shape how Codex runs one turn, validated: the
 * reasoning effort (`reasoning_effort`, else config `reasoning_effort`, else
 * Codex's own). Each applies to its turn only: a later turn without it is
 * back to the default, whatever the backend.
 *
 * @example
 * ```ts
 * import { parseTurnOptions } from "./turn_options.ts";
 * const errors: { field: string; message: string }[] = [];
 * const o = parseTurnOptions({ reasoning_effort: "high" }, (field, message) =>
 *   errors.push({ field, message }));
 * // o: { reasoningEffort: "high" }, errors: []
 * ```
 *
 * @module
 */
import { REASONING_EFFORTS, type ReasoningEffort } from "../config.ts";

/** What {@linkcode parseTurnOptions} gives a turn. */
export interface TurnOptions {
  /** Absent: the configured default, else Codex's own. */
  reasoningEffort?: ReasoningEffort;
}

/** What `initialize` advertises in `capabilities` for these fields. */
export const TURN_OPTION_CAPABILITIES = { reasoning_effort: true } as const;

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
  return o;
}
