/**
 * A hermetic environment for every Codex that tests and dev scripts start,
 * directly or through the plugin: its own empty `HOME` and `CODEX_HOME`, and
 * nothing else from the developer's environment but `PATH` (node and codex
 * must be found), `TMPDIR` and the locale.
 *
 * Why: Codex runs the model's commands, and its environment snapshot, in a
 * login shell (`bash -lc`), which reads `~/.bash_profile`, `~/.profile` and,
 * on many systems, `~/.bashrc`. A profile that runs `pyenv init` or waits on a
 * lock stalls every command turn past a test's timeout. With `HOME` an empty
 * directory the shell reads only the system's files. Dropping the rest keeps
 * the developer's API keys, `CODEX_*`, `PLEXUM_LOG`, proxies and `NVM_DIR` out
 * of the tests. (The plugin itself passes its real environment to Codex:
 * operators rely on that.)
 *
 * Spawn with `clearEnv: true` and the env {@linkcode hermeticEnv} returns.
 *
 * @example
 * ```ts
 * import { hermetic } from "./hermetic.ts";
 * using h = hermetic(); // a temp dir holding home/ and codex-home/, removed at scope end
 * const out = await new Deno.Command("codex", {
 *   args: ["login", "status"],
 *   clearEnv: true,
 *   env: h.env({ MOCK_KEY: "x" }),
 * }).output();
 * ```
 *
 * @module
 */

/** Variables copied from this process's environment; everything else is dropped. */
export const KEPT_VARIABLES: readonly string[] = ["PATH", "TMPDIR", "LANG", "LANGUAGE", "TZ"];
/** Prefixes of variables copied too (the locale's `LC_*`). */
export const KEPT_PREFIXES: readonly string[] = ["LC_"];

/** The two empty directories Codex gets. */
export interface HermeticDirs {
  /** `HOME`: empty, so a login shell reads no profile of the developer's. */
  home: string;
  /** `CODEX_HOME`: empty (Codex requires it to exist). */
  codexHome: string;
}

let cachedDenoDir: string | undefined;

/**
 * This process's Deno cache (`DENO_DIR`), so a `deno` child with another
 * `HOME` still finds the npm packages already downloaded.
 *
 * @example
 * ```ts
 * import { denoDir } from "./hermetic.ts";
 * const env = { HOME: "/tmp/empty", DENO_DIR: denoDir() };
 * ```
 */
export function denoDir(): string {
  if (cachedDenoDir === undefined) {
    const set = Deno.env.get("DENO_DIR");
    if (set) cachedDenoDir = set;
    else {
      const o = new Deno.Command(Deno.execPath(), {
        args: ["info", "--json"],
        stdin: "null",
        stderr: "null",
      }).outputSync();
      cachedDenoDir = JSON.parse(new TextDecoder().decode(o.stdout)).denoDir as string;
    }
  }
  return cachedDenoDir!;
}

/**
 * The complete environment for a child: the kept variables, `DENO_DIR`,
 * `HOME`, `CODEX_HOME`, then `extra` (which may override any of them, e.g. a
 * test's own `PATH` or `HOME`). Spawn with `clearEnv: true`.
 *
 * @example
 * ```ts
 * import { hermeticEnv } from "./hermetic.ts";
 * const env = hermeticEnv({ home: "/tmp/t/home", codexHome: "/tmp/t/codex-home" }, {
 *   MOCK_KEY: "x",
 * });
 * ```
 */
export function hermeticEnv(
  dirs: HermeticDirs,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (KEPT_VARIABLES.includes(k) || KEPT_PREFIXES.some((p) => k.startsWith(p))) env[k] = v;
  }
  return {
    ...env,
    DENO_DIR: denoDir(),
    HOME: dirs.home,
    CODEX_HOME: dirs.codexHome,
    ...extra,
  };
}

/** Hermetic directories and their environment; disposing removes `root`. */
export interface Hermetic extends HermeticDirs, Disposable, AsyncDisposable {
  /** The directory holding `home/` and `codex-home/`. */
  root: string;
  /** {@linkcode hermeticEnv} of these directories. */
  env(extra?: Record<string, string>): Record<string, string>;
}

/**
 * Make `home/` and `codex-home/` (both empty) in `root`, a new temp dir by
 * default. Disposing removes `root`, whoever made it.
 *
 * @example
 * ```ts
 * import { hermetic } from "./hermetic.ts";
 * await using h = hermetic();
 * h.env().HOME === h.home; // true
 * ```
 */
export function hermetic(root = Deno.makeTempDirSync({ prefix: "plexum-hermetic-" })): Hermetic {
  const dirs = { home: `${root}/home`, codexHome: `${root}/codex-home` };
  Deno.mkdirSync(dirs.home, { recursive: true });
  Deno.mkdirSync(dirs.codexHome, { recursive: true });
  const remove = () => {
    try {
      Deno.removeSync(root, { recursive: true });
    } catch { /* already gone */ }
  };
  return {
    root,
    ...dirs,
    env: (extra) => hermeticEnv(dirs, extra),
    [Symbol.dispose]: remove,
    [Symbol.asyncDispose]: () => Promise.resolve(remove()),
  };
}
