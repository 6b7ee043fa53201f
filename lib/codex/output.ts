/**
 * The `output` of a turn that asked for an `output_schema`: its final answer
 * (the last agent message), parsed as JSON. Codex sends the schema to the
 * model as a strict `json_schema` format but does not check the answer, so an
 * answer that is not JSON fails the turn with one `turn_failed` error.
 *
 * @example
 * ```ts
 * import { outputOf } from "./output.ts";
 * outputOf('{"answer": 42}'); // { ok: true, value: { answer: 42 } }
 * outputOf("Sure! Here it is"); // { ok: false, error: TurnFailure turn_failed "…not JSON…" }
 * ```
 *
 * @module
 */
import { cut } from "../cut.ts";
import { err, ok, type Result } from "../result.ts";
import { TurnFailure } from "../turns/outcome.ts";

/** The parsed final answer, or why the turn fails. */
export function outputOf(answer: string | undefined): Result<unknown, TurnFailure> {
  if (answer === undefined || answer.trim() === "") {
    return err(new TurnFailure("turn_failed", "output_schema: the turn ended without an answer"));
  }
  try {
    return ok(JSON.parse(answer));
  } catch (e) {
    const why = cut((e as Error).message, 300);
    return err(
      new TurnFailure("turn_failed", `output_schema: the final answer is not JSON: ${why}`),
    );
  }
}
