/**
 * An API key from the environment, for the app-server. `codex exec` reads
 * `CODEX_API_KEY` (and the plugin hands it `OPENAI_API_KEY` under that name
 * when Codex has no login: lib/codex/launch_env.ts `launchEnv`), but `codex
 * app-server` reads neither: a turn went out without an `Authorization`
 * header (0.135.0 and 0.169.0, against the mock). So the key is given to it
 * with `account/login/start {type: "apiKey"}`, and, so that this login is not
 * written to `CODEX_HOME/auth.json` (it would then outlive the environment
 * and override it later), the process is started with
 * `-c cli_auth_credentials_store="ephemeral"`: both releases then keep it in
 * memory only (checked: no auth.json afterwards; without the option both
 * wrote the key there).
 *
 * Which key: `CODEX_API_KEY` when set (what exec would use), else
 * `OPENAI_API_KEY` when Codex has no stored login (a login is never
 * overridden). The key is never logged.
 *
 * @example
 * ```ts
 * import { envApiKey, EPHEMERAL_AUTH_ARGS } from "./auth.ts";
 * const key = envApiKey((k) => ({ OPENAI_API_KEY: "sk-..." })[k]);
 * const args = key ? ["app-server", ...EPHEMERAL_AUTH_ARGS] : ["app-server"];
 * ```
 *
 * @module
 */
import type { Logger } from "../../log.ts";
import { type Env, hasStoredLogin } from "../launch_env.ts";
import type { AppServerClient } from "./client.ts";

/** Keeps an API-key login in the app-server's memory, out of `auth.json`. */
export const EPHEMERAL_AUTH_ARGS: readonly string[] = [
  "-c",
  'cli_auth_credentials_store="ephemeral"',
];

const defaultEnv: Env = (k) => Deno.env.get(k);

/** The API key the app-server should log in with, or undefined (see the module doc). */
export function envApiKey(env: Env = defaultEnv): string | undefined {
  const codexKey = env("CODEX_API_KEY");
  if (codexKey) return codexKey;
  const openaiKey = env("OPENAI_API_KEY");
  return openaiKey && !hasStoredLogin(env) ? openaiKey : undefined;
}

/** Log the app-server in with `key`; a failure is logged (turns then fail with Codex's 401). */
export async function loginWithApiKey(
  client: AppServerClient,
  key: string,
  log: Logger,
): Promise<void> {
  try {
    await client.request("account/login/start", { type: "apiKey", apiKey: key });
  } catch (e) {
    log.warn("codex app-server refused the API key from the environment", {
      error: (e as Error).message,
    });
  }
}
