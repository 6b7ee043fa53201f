/**
 * Loads HostConfig from a JSONC file (`--config FILE`), the same keys as the
 * `config` of `initialize` (which overrides the file key by key). Every error
 * names the file and, where it can, the line and column.
 *
 * @example
 * ```ts
 * const r = await loadConfigFile("/etc/plexum/openai.jsonc");
 * if (!r.ok) console.error(r.message);
 * // config file /etc/plexum/openai.jsonc: expected ',' at line 4, column 3
 * ```
 */
import { err, ok, type Result } from "./result.ts";
import { type Config, DEFAULTS, validateConfig } from "./config.ts";
import { parseJsonc, positionOf } from "./jsonc.ts";

/**
 * The validated config (defaults when `path` is undefined), or one message
 * saying what is wrong and where.
 *
 * @example
 * ```ts
 * import { loadConfigFile } from "./config_file.ts";
 * const r = await loadConfigFile(undefined); // { ok: true, value: DEFAULTS }
 * ```
 */
export async function loadConfigFile(
  path: string | undefined,
): Promise<Result<Config, string>> {
  if (path === undefined) return ok({ ...DEFAULTS });
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    return err(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  const parsed = parseJsonc(text);
  if (!parsed.ok) return err(`config file ${path}: ${parsed.error.message}`);
  const v = validateConfig(parsed.value);
  if (!v.ok) {
    const problems = v.error.map((e) => {
      const at = e.field === "config" ? undefined : positionOf(text, [e.field.split(".")[0]]);
      return `${at ? `line ${at.line}, column ${at.column}: ` : ""}${e.field} ${e.message}`;
    });
    return err(`config file ${path}: ${problems.join("; ")}`);
  }
  return v;
}
