/**
 * A turn's `output_schema`, Codex's side: the file `codex exec
 * --output-schema` reads ({@linkcode writeSchema}: a private temp file, mode
 * 0600, never in the workspace, that the caller removes when the turn ends,
 * however it ends), and the turn's `output` ({@linkcode outputOf}: the final
 * answer, parsed). Codex sends the schema to the model as a strict
 * `json_schema` format but does not check the answer, so an answer that is not
 * JSON fails the turn with one `turn_failed` error.
 *
 * @example
 * ```ts
 * import { outputOf, writeSchema } from "./output_schema.ts";
 * await using file = await writeSchema({ type: "object" }); // file.path: /tmp/plexum-schema-….json
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

/** Write `schema` to a new private file; dispose of the result to delete it (no path: none). */
export async function writeSchema(
  schema: object | undefined,
): Promise<{ path?: string } & AsyncDisposable> {
  if (!schema) return { [Symbol.asyncDispose]: () => Promise.resolve() };
  const path = await Deno.makeTempFile({ prefix: "plexum-schema-", suffix: ".json" });
  const dispose = () => Deno.remove(path).catch(() => {});
  try {
    await Deno.chmod(path, 0o600);
    await Deno.writeTextFile(path, JSON.stringify(schema));
    return { path, [Symbol.asyncDispose]: dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
