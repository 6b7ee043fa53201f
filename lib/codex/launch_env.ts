/**
 * How Codex is launched, the same by both backends and `doctor` (what doctor
 * checks is what turns get): which executable ({@linkcode locateBinary}) and
 * what it gets on top of the plugin's environment ({@linkcode launchEnv}).
 * systemd's PATH (`/usr/bin:/bin`) lacks nvm, `~/.local/bin` and npm's global
 * prefix, so a bare name not on PATH is also looked for where installs put
 * it ({@linkcode fallbackDirs}); "not found" lists every place searched.
 *
 * @example
 * ```ts
 * import { launchEnv, locateBinary } from "./launch_env.ts";
 * const r = locateBinary("codex");
 * if (r.ok) console.log(r.value.path, launchEnv(r.value.path)); // { PATH: "/opt/codex/bin:…" }
 * else console.error(r.error.message);
 * ```
 *
 * @module
 */
import { err, ok, type Result } from "../result.ts";

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

/** Result of {@linkcode locateBinary}: a path, or a message naming every place searched. */
export type Located = Result<
  { path: string; via: "path" | "explicit" | "fallback"; searched: string[] },
  { message: string; searched: string[] }
>;

function orElse<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}

const isExecutable = (p: string) =>
  orElse(() => {
    const st = Deno.statSync(p);
    return st.isFile && ((st.mode ?? 0o755) & 0o111) !== 0;
  }, false);

/**
 * Compare two versions ("0.169.0", "v22.1.0") part by part: negative when
 * `a` is older, positive when newer, 0 when equal.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, "").split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.replace(/^v/, "").split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}

/** `~/x` and `${VAR}` expanded the way npm expands `.npmrc` values. */
function expand(value: string, env: Env): string {
  const home = env("HOME");
  let v = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k) => env(k) ?? "");
  if (home && (v === "~" || v.startsWith("~/"))) v = home + v.slice(1);
  return v;
}

/**
 * npm's global prefix without running npm: `NPM_CONFIG_PREFIX` (or its
 * lower-case form), else the last `prefix=` line of `~/.npmrc`.
 *
 * @example
 * ```ts
 * npmPrefix((k) => ({ NPM_CONFIG_PREFIX: "/opt/npm" })[k]); // "/opt/npm"
 * ```
 */
export function npmPrefix(env: Env = defaultEnv): string | undefined {
  const fromEnv = env("NPM_CONFIG_PREFIX") ?? env("npm_config_prefix");
  if (fromEnv) return expand(fromEnv, env);
  const home = env("HOME");
  const rc = home ? orElse(() => Deno.readTextFileSync(`${home}/.npmrc`), "") : "";
  let prefix: string | undefined;
  for (const line of rc.split(/\r?\n/)) {
    const m = line.match(/^\s*prefix\s*=\s*(.*?)\s*$/);
    if (m && m[1]) prefix = m[1].replace(/^(["'])(.*)\1$/, "$2");
  }
  return prefix ? expand(prefix, env) : undefined;
}

/**
 * The directories searched after PATH, in order: `~/.local/bin`,
 * `~/.npm-global/bin`, npm's global prefix, nvm's node versions (newest
 * first), `~/.bun/bin`, `~/.volta/bin`, `/usr/local/bin`, `/opt/homebrew/bin`,
 * `/usr/bin`.
 *
 * @example
 * ```ts
 * fallbackDirs((k) => ({ HOME: "/home/u" })[k])[0]; // "/home/u/.local/bin"
 * ```
 */
export function fallbackDirs(env: Env = defaultEnv): string[] {
  const home = env("HOME");
  const dirs: string[] = [];
  if (home) dirs.push(`${home}/.local/bin`, `${home}/.npm-global/bin`);
  const prefix = npmPrefix(env);
  if (prefix) dirs.push(`${prefix.replace(/\/+$/, "")}/bin`);
  const nvm = env("NVM_DIR") ?? (home ? `${home}/.nvm` : undefined);
  if (nvm) {
    const versions = orElse(() => [...Deno.readDirSync(`${nvm}/versions/node`)], [])
      .filter((e) => e.isDirectory || e.isSymlink).map((e) => e.name)
      .sort((a, b) => compareVersions(b, a));
    for (const v of versions) dirs.push(`${nvm}/versions/node/${v}/bin`);
    // Named even when absent, so "not found" tells that nvm was considered.
    if (versions.length === 0) dirs.push(`${nvm}/versions/node/*/bin`);
  }
  if (home) dirs.push(`${home}/.bun/bin`, `${home}/.volta/bin`);
  dirs.push("/usr/local/bin", "/opt/homebrew/bin", "/usr/bin");
  return [...new Set(dirs.filter((d) => d.startsWith("/")))];
}

/**
 * Resolve `binary`: a name with a `/` (or starting with `~/`) is used as is
 * and must be executable; a bare name is looked up on PATH, then in
 * {@linkcode fallbackDirs}.
 */
export function locateBinary(binary: string, env: Env = defaultEnv): Located {
  if (binary.includes("/")) {
    const home = env("HOME");
    const p = absolute(home && binary.startsWith("~/") ? home + binary.slice(1) : binary);
    if (isExecutable(p)) return ok({ path: p, via: "explicit", searched: [p] });
    return err({
      searched: [p],
      message: `codex binary ${p} (the "binary" setting) does not exist or is not executable. ` +
        `Install Codex CLI (npm install -g @openai/codex) and set "binary" in the plugin config ` +
        `to the absolute path of its codex executable.`,
    });
  }
  const searched: string[] = [];
  const pathDirs = (env("PATH") ?? "").split(":").filter(Boolean).map(absolute);
  for (const [dirs, via] of [[pathDirs, "path"], [fallbackDirs(env), "fallback"]] as const) {
    for (const dir of dirs) {
      const p = `${dir.replace(/\/+$/, "")}/${binary}`;
      if (searched.includes(p)) continue;
      searched.push(p);
      if (isExecutable(p)) return ok({ path: p, via, searched });
    }
  }
  return err({
    searched,
    message: `codex binary "${binary}" not found on PATH (${env("PATH") ?? "unset"}) ` +
      `nor in the usual install places. Searched: ${searched.join(", ")}. ` +
      `Install Codex CLI (npm install -g @openai/codex) and set "binary" in the plugin config ` +
      `to its absolute path (as the user the plugin runs as: command -v ${binary}).`,
  });
}
