/**
 * Command-line flags, through `node:util`'s `parseArgs` (the one place that
 * knows it, so a switch to `@std/cli` is a one-line change).
 *
 * @example
 * ```ts
 * const { values, positionals } = parseFlags(["chat", "--workspace", "/w", "hi"]);
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Every flag the CLI accepts. */
export const FLAGS = {
  config: { type: "string" },
  workspace: { type: "string" },
  model: { type: "string" },
  reset: { type: "boolean" },
  version: { type: "boolean", short: "V" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parsed flags and positionals; throws a readable error on unknown flags. */
export function parseFlags(args: string[]) {
  return parseArgs({ args, options: FLAGS, allowPositionals: true, strict: true });
}
