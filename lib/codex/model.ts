/**
 * The model Codex gets for a Plexum model id, the same on both backends
 * (exec's `--model`, the app-server's `model` param): `model_args` first,
 * `codex` means Codex's own default, anything else is passed as is.
 *
 * @example
 * ```ts
 * import { modelArg } from "./model.ts";
 * import { DEFAULTS } from "../config.ts";
 * modelArg({ ...DEFAULTS, model_args: { fast: "gpt-5-codex-mini" } }, "fast"); // "gpt-5-codex-mini"
 * modelArg({ ...DEFAULTS }, "codex"); // undefined
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";

/** The model value for Plexum model id `model`, or undefined for Codex's default. */
export function modelArg(config: Config, model: string): string | undefined {
  if (Object.hasOwn(config.model_args, model)) return config.model_args[model];
  return model === "codex" ? undefined : model;
}
