/**
 * Which backend a config gets. Today there is one: a `codex exec` process
 * per turn (lib/codex/exec/).
 *
 * @example
 * ```ts
 * import { selectBackend } from "./select.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const backend = selectBackend({ ...DEFAULTS }, createLogger());
 * await backend.close();
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Backend } from "../turns/backend.ts";
import { ExecBackend } from "./exec/backend.ts";

/** The backend for `config`. */
export function selectBackend(config: Config, log: Logger): Backend {
  return new ExecBackend(config, log);
}
