/**
 * Loads HostConfig from a JSONC file (`--config FILE`; comments and trailing
 * commas through `npm:jsonc-parser`, the one place that knows it). Every
 * error names the file and, where it can, the line and column. Only a
 * regular file of at most {@linkcode MAX_CONFIG_BYTES} is read: a FIFO would
 * block start-up forever and `/dev/zero` never ends.
 *
 * @example
 * ```ts
 * import { loadConfigFile } from "./config_file.ts";
 * const r = await loadConfigFile("/etc/plexum/openai.jsonc");
 * if (!r.ok) console.error(r.error); // config file /etc/…: expected ',' at line 4, column 3
 * ```
 *
 * @module
 */
import {
  findNodeAtLocation,
  parse,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";
import { err, ok, type Result } from "./result.ts";
import { type Config, DEFAULTS, validateConfig } from "./config.ts";

/** Largest config file read (1 MiB): a config is a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Plain words for jsonc-parser's error names. */
const WORDS: Record<string, string> = {
  InvalidSymbol: "invalid symbol",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "expected a property name in double quotes",
  ValueExpected: "expected a value",
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: "expected the end of the file",
  UnexpectedEndOfComment: "unterminated comment",
  UnexpectedEndOfString: "unterminated string",
  InvalidEscapeCharacter: "invalid escape character",
  InvalidCharacter: "invalid character",
};
const OPTIONS = { allowTrailingComma: true, disallowComments: false };

/** 1-based line and column of a character offset. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

/** JSONC text parsed, or why not ("expected ',' at line 3, column 5"). */
export function parseJsonc(text: string): Result<unknown, { message: string }> {
  const errors: ParseError[] = [];
  const value = parse(text, errors, OPTIONS);
  if (errors.length === 0) return ok(value);
  const code = printParseErrorCode(errors[0].error);
  return err({ message: `${WORDS[code] ?? code} at ${lineColumn(text, errors[0].offset)}` });
}

/** The validated config (defaults when `path` is undefined), or what is wrong and where. */
export async function loadConfigFile(path: string | undefined): Promise<Result<Config, string>> {
  if (path === undefined) return ok({ ...DEFAULTS });
  const read = await readConfigText(path);
  if (!read.ok) return read;
  const text = read.value;
  const parsed = parseJsonc(text);
  if (!parsed.ok) return err(`config file ${path}: ${parsed.error.message}`);
  const v = validateConfig(parsed.value);
  if (v.ok) return v;
  const root = parseTree(text, [], OPTIONS);
  const problems = v.error.map((e) => {
    // A property's value node: its parent is the property, which starts at the key.
    const node = e.field === "config" ? undefined : root &&
      findNodeAtLocation(root, [e.field.split(".")[0]]);
    const at = node && (node.parent?.type === "property" ? node.parent.offset : node.offset);
    return `${at !== undefined ? `${lineColumn(text, at)}: ` : ""}${e.field} ${e.message}`;
  });
  return err(`config file ${path}: ${problems.join("; ")}`);
}

/** What a path is, for an error message. */
function kind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** The file's text (TextDecoder drops a leading BOM), or why it cannot be a config file. */
async function readConfigText(path: string): Promise<Result<string, string>> {
  const bad = (why: string) => err(`cannot read config file ${path}: ${why}`);
  try {
    const info = await Deno.stat(path); // first: opening a FIFO would wait for a writer
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
    try {
      return ok(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n)));
    } catch {
      return bad("it is not valid UTF-8");
    }
  } catch (e) {
    return bad((e as Error).message);
  }
}
