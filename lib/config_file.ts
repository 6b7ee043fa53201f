/**
 * Loads HostConfig from a JSONC file (`--config FILE`).
 *
 * @example
 * ```ts
 * const r = await loadConfigFile("/etc/plexum/openai.jsonc");
 * if (!r.ok) console.error(r.message);
 * ```
 */
import { type Config, DEFAULTS, validateConfig } from "./config.ts";
import { parseJsonc } from "./jsonc.ts";

/** The validated config, or one message saying what is wrong and where. */
export async function loadConfigFile(
  path: string | undefined,
): Promise<{ ok: true; config: Config } | { ok: false; message: string }> {
  if (path === undefined) return { ok: true, config: { ...DEFAULTS } };
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    return { ok: false, message: `cannot read config file ${path}: ${(e as Error).message}` };
  }
  const parsed = parseJsonc(text);
  if (!parsed.ok) return { ok: false, message: `config file ${path}: ${parsed.message}` };
  const v = validateConfig(parsed.value);
  if (!v.ok) {
    return {
      ok: false,
      message: `config file ${path}: ${v.errors.map((e) => `${e.field} ${e.message}`).join("; ")}`,
    };
  }
  return v;
}
