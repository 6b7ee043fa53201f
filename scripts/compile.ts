/**
 * `deno task compile`: the plugin for this machine, `./plexum-openai-provider-plugin`,
 * built by the `compile:raw` task's `deno compile` line (the one place the
 * permissions are written). A wrapper, so that where Deno's runtime cannot be
 * downloaded (no network) the operator gets the same help `compile:all`
 * prints, not a DNS error with a stack trace.
 *
 * Needs only `--allow-run --allow-read` (deno compile writes the binary itself).
 *
 * @example
 * ```sh
 * deno task compile
 * # ./plexum-openai-provider-plugin
 * ```
 *
 * @module
 */
import { compile, readCompileTask } from "./compile_all.ts";

if (import.meta.main) {
  const { flags, output, entry } = readCompileTask();
  if (!await compile(["compile", ...flags, "-o", output, entry], Deno.build.target)) Deno.exit(1);
}
