/**
 * The `codex app-server` command line, and which `extra_args` it can take.
 *
 * `extra_args` were written for `codex exec`. The app-server accepts only
 * config overrides on its command line: `-c/--config key=value`,
 * `--enable/--disable FEATURE` and `--strict-config`, on every release this
 * plugin supports (checked with `codex app-server --help` of 0.135.0, 0.169.0
 * and 0.171.0; later releases add options, e.g. `--listen`, that make no
 * sense for a plugin). Anything else (`--model`, `--profile`,
 * `--skip-git-repo-check`, `--oss`, …) only `codex exec` understands:
 * {@linkcode appServerArgs} names the first such argument so that `auto`
 * can choose exec and `app-server` can refuse the config.
 *
 * @example
 * ```ts
 * import { appServerArgs } from "./args.ts";
 * appServerArgs(["-c", "model_reasoning_effort=low", "--disable", "shell_snapshot"]);
 * // { ok: true, value: ["app-server", "-c", "model_reasoning_effort=low", "--disable", "shell_snapshot"] }
 * appServerArgs(["--profile", "work"]);
 * // { ok: false, error: "--profile" }
 * ```
 *
 * @module
 */
import { err, ok, type Result } from "../../result.ts";

/** Options of `codex app-server` that take a value (as the next argument or after `=`). */
const WITH_VALUE = ["-c", "--config", "--enable", "--disable"];
/** Flags without a value. */
const FLAGS = ["--strict-config"];

/**
 * argv of `codex app-server` (without the binary) for these `extra_args`, or
 * the first argument the app-server does not take.
 */
export function appServerArgs(extraArgs: readonly string[]): Result<string[], string> {
  const args = ["app-server"];
  for (let i = 0; i < extraArgs.length; i++) {
    const a = extraArgs[i];
    if (FLAGS.includes(a)) {
      args.push(a);
      continue;
    }
    if (WITH_VALUE.includes(a)) {
      const value = extraArgs[i + 1];
      if (value === undefined) return err(a);
      args.push(a, value);
      i++;
      continue;
    }
    const eq = a.indexOf("=");
    if (eq > 0 && WITH_VALUE.includes(a.slice(0, eq)) && a.startsWith("--")) {
      args.push(a);
      continue;
    }
    // `-ckey=value`: clap's short form with the value attached.
    if (a.startsWith("-c") && !a.startsWith("--") && a.length > 2) {
      args.push(a);
      continue;
    }
    return err(a);
  }
  return ok(args);
}

/** Why `arg` keeps a config off the app-server (for logs and -32602). */
export function unsupportedArgMessage(arg: string): string {
  return `${JSON.stringify(arg)} is a codex exec argument that codex app-server does not take ` +
    `(it takes only -c/--config, --enable, --disable and --strict-config)`;
}
