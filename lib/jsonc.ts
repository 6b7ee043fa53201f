/**
 * JSONC (comments, trailing commas) through `npm:jsonc-parser`, the one place
 * that knows it. Errors carry 1-based line and column.
 *
 * @example
 * ```ts
 * import { parseJsonc } from "./jsonc.ts";
 * parseJsonc('{ "a": 1, // note\n }'); // { ok: true, value: { a: 1 } }
 * parseJsonc('{ "a" 1 }'); // { ok: false, message: "expected ':' at line 1, column 7", ... }
 * ```
 *
 * @module
 */
import { err, ok, type Result } from "./result.ts";
import {
  findNodeAtLocation,
  parse,
  type ParseError,
  parseTree,
  printParseErrorCode,
} from "jsonc-parser";

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

/** 1-based line and column of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** Where and why JSONC text does not parse. */
export interface JsoncError {
  message: string;
  line: number;
  column: number;
}

/**
 * The parsed value, or the first error with its line and column.
 *
 * @example
 * ```ts
 * const r = parseJsonc(await Deno.readTextFile("plugin.jsonc"));
 * if (!r.ok) console.error(r.error.message); // "expected ',' at line 3, column 5"
 * ```
 */
export function parseJsonc(
  text: string,
): Result<unknown, JsoncError> {
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length === 0) return ok(value);
  const e = errors[0];
  const { line, column } = lineColumn(text, e.offset);
  const code = printParseErrorCode(e.error);
  const what = WORDS[code] ?? code;
  return err({ message: `${what} at line ${line}, column ${column}`, line, column });
}

/**
 * Where the property at `path` starts (its key), if the text has it.
 *
 * @example
 * ```ts
 * positionOf('{\n  "binary": 1\n}', ["binary"]); // { line: 2, column: 3 }
 * ```
 */
export function positionOf(
  text: string,
  path: (string | number)[],
): { line: number; column: number } | undefined {
  const root = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  const node = root && findNodeAtLocation(root, path);
  if (!node) return undefined;
  // A property's value node: its parent is the property, whose first child is the key.
  const at = node.parent?.type === "property" ? node.parent.offset : node.offset;
  return lineColumn(text, at);
}
