/**
 * Loads HostConfig from a JSONC file (`--config FILE`), the same keys as the
 * `config` of `initialize` (which overrides the file key by key). Every error
 * names the file and, where it can, the line and column.
 *
 * Only a regular file (or a symlink to one) of at most
 * {@linkcode MAX_CONFIG_BYTES} is read: a FIFO would block start-up forever
 * and a device such as `/dev/zero` never ends. A leading UTF-8 BOM is
 * skipped, as editors on other systems write one.
 *
 * @example
 * ```ts
 * import { loadConfigFile } from "./config_file.ts";
 * const r = await loadConfigFile("/etc/plexum/openai.jsonc");
 * if (!r.ok) console.error(r.error);
 * // config file /etc/plexum/openai.jsonc: expected ',' at line 4, column 3
 * ```
 *
 * @module
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
  const read = await readConfigText(path);
  if (!read.ok) return read;
  const text = read.value;
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

/** Largest config file read (1 MiB): a config is a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** What a path is, for an error message. */
function kind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** The file's text (BOM dropped), or why it cannot be a config file. */
async function readConfigText(path: string): Promise<Result<string, string>> {
  const bad = (why: string) => err(`cannot read config file ${path}: ${why}`);
  try {
    // stat first: opening a FIFO would wait for a writer.
    const info = await Deno.stat(path);
    if (!info.isFile) return bad(`it is ${kind(info)}; a regular file is needed`);
    if (info.size > MAX_CONFIG_BYTES) {
      return bad(`it has ${info.size} bytes, over the ${MAX_CONFIG_BYTES} byte limit`);
    }
    using f = await Deno.open(path, { read: true });
    const opened = await f.stat(); // the file may have been swapped since
    if (!opened.isFile) return bad(`it is ${kind(opened)}; a regular file is needed`);
    const buf = new Uint8Array(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let r; n < buf.length && (r = await f.read(buf.subarray(n))) !== null;) n += r;
    if (n > MAX_CONFIG_BYTES) return bad(`it is over the ${MAX_CONFIG_BYTES} byte limit`);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      return bad("it is not valid UTF-8");
    }
    return ok(text); // TextDecoder drops a leading BOM
  } catch (e) {
    return bad((e as Error).message);
  }
}
