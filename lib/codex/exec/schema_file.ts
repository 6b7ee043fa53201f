/**
 * A turn's `output_schema` as the file `codex exec --output-schema` reads: a
 * private temp file (mode 0600, in the system temp directory, never in the
 * workspace) that the caller removes when the turn ends, however it ends
 * (`await using`).
 *
 * @example
 * ```ts
 * import { writeSchema } from "./schema_file.ts";
 * await using file = await writeSchema({ type: "object" });
 * file.path; // "/tmp/plexum-schema-ab12cd.json"
 * ```
 *
 * @module
 */

/** The schema's file; no path (and nothing to remove) for a turn without one. */
export interface SchemaFile extends AsyncDisposable {
  path?: string;
}

/** Write `schema` to a new private file; dispose of the result to delete it. */
export async function writeSchema(schema: object | undefined): Promise<SchemaFile> {
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
