/**
 * The environment a codex process gets on top of the plugin's, and where
 * Codex keeps its login. Both backends and `doctor` launch Codex with
 * {@linkcode launchEnv}, so that what doctor checks is what turns get.
 *
 * @example
 * ```ts
 * import { hasStoredLogin, launchEnv } from "./launch_env.ts";
 * const add = launchEnv("/opt/codex/bin/codex"); // { PATH: "/opt/codex/bin:…" } off PATH
 * console.log(add, hasStoredLogin());
 * ```
 *
 * @module
 */

/** Reads an environment variable (injectable for tests). */
export type Env = (name: string) => string | undefined;

/** The plugin's own environment. */
export const defaultEnv: Env = (k) => Deno.env.get(k);

/** `p` made absolute against the working directory. */
export function absolute(p: string): string {
  if (p.startsWith("/")) return p;
  let cwd = "/";
  try {
    cwd = Deno.cwd();
  } catch { /* no read permission for cwd: keep / */ }
  return `${cwd.replace(/\/$/, "")}/${p.replace(/^\.\//, "")}`;
}

/**
 * Environment additions for running `binaryPath`:
 * - its directory first on PATH when it is not there already. npm installs
 *   codex as a `#!/usr/bin/env node` script, and nvm puts `node` beside it, so
 *   a codex found outside PATH (or set as an absolute `binary`) still starts
 *   under systemd's PATH;
 * - `CODEX_API_KEY` from `OPENAI_API_KEY` when Codex has no login of its own
 *   (no `auth.json` in `CODEX_HOME`) and `CODEX_API_KEY` is unset: `codex exec`
 *   does not read `OPENAI_API_KEY` (openai/codex#7323), yet that variable is
 *   how operators give an API key. A stored login is never overridden.
 *
 * @example
 * ```ts
 * import { launchEnv } from "./launch_env.ts";
 * launchEnv("/home/u/.nvm/versions/node/v22.1.0/bin/codex", (k) => ({ PATH: "/usr/bin" })[k]);
 * // { PATH: "/home/u/.nvm/versions/node/v22.1.0/bin:/usr/bin" }
 * ```
 */
export function launchEnv(
  binaryPath: string,
  env: Env = defaultEnv,
): Record<string, string> | undefined {
  const add: Record<string, string> = {};
  const dir = binaryPath.slice(0, binaryPath.lastIndexOf("/")) || "/";
  const path = env("PATH") ?? "";
  const dirs = path.split(":").filter(Boolean).map(absolute);
  if (!dirs.includes(dir)) add.PATH = path ? `${dir}:${path}` : dir;
  const key = env("OPENAI_API_KEY");
  if (key && !env("CODEX_API_KEY") && !hasStoredLogin(env)) add.CODEX_API_KEY = key;
  return Object.keys(add).length ? add : undefined;
}

/** Codex's state directory: `CODEX_HOME`, else `~/.codex`; undefined without either. */
export function codexHome(env: Env = defaultEnv): string | undefined {
  return env("CODEX_HOME") ?? (env("HOME") ? `${env("HOME")}/.codex` : undefined);
}

/** True when {@linkcode codexHome} holds Codex's `auth.json`. */
export function hasStoredLogin(env: Env = defaultEnv): boolean {
  const home = codexHome(env);
  if (!home) return false;
  try {
    return Deno.statSync(`${home}/auth.json`).isFile;
  } catch {
    return false;
  }
}
