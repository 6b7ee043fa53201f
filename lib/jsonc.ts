/**
 * JSONC (comments, trailing commas) through `npm:jsonc-parser`, the one place
 * that knows it. Errors carry line and column.
 *
 * @example
 * ```ts
 * parseJsonc('{ "a": 1, // note\n }'); // { ok: true, value: { a: 1 } }
 * ```
 */
import { parse, type ParseError, printParseErrorCode } from "jsonc-parser";

/** The parsed value, or the first error with its 1-based line and column. */
export function parseJsonc(
  text: string,
): { ok: true; value: unknown } | { ok: false; message: string; line: number; column: number } {
  const errors: ParseError[] = [];
  const value = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length === 0) return { ok: true, value };
  const e = errors[0];
  const before = text.slice(0, e.offset).split("\n");
  const line = before.length;
  const column = before[before.length - 1].length + 1;
  return {
    ok: false,
    message: `${printParseErrorCode(e.error)} at line ${line}, column ${column}`,
    line,
    column,
  };
}
