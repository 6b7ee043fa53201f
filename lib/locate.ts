/**
 * Finds the codex executable. systemd's PATH lacks nvm, `~/.local/bin` and
 * npm's global prefix, so a bare name that is not on PATH is also looked for
 * where installs put it. When nothing is found the error lists every place
 * searched and says to set `binary` to an absolute path.
 *
 * @example
 * ```ts
 * const r = locateBinary("codex");
 * if (r.path) console.log("using", r.path); else console.error(r.error);
 * ```
 */

/** Result of {@linkcode locateBinary}: a path, or an error naming every place searched. */
export type Located =
  | { path: string; via: "path" | "explicit" | "fallback"; searched: string[]; error?: undefined }
  | { path?: undefined; searched: string[]; error: string };

function isExecutable(p: string): boolean {
  try {
    const st = Deno.statSync(p);
    return st.isFile && ((st.mode ?? 0o755) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Compare two "v1.2.3" names, newest first. */
function byVersionDesc(a: string, b: string): number {
  const pa = a.replace(/^v/, "").split(".").map(Number);
  const pb = b.replace(/^v/, "").split(".").map(Number);
  for (let i = 0; i < 3; i++) if ((pb[i] ?? 0) !== (pa[i] ?? 0)) return (pb[i] ?? 0) - (pa[i] ?? 0);
  return 0;
}

/** The directories searched after PATH, in order. */
export function fallbackDirs(
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): string[] {
  const home = env("HOME");
  const dirs: string[] = [];
  if (home) dirs.push(`${home}/.local/bin`, `${home}/.npm-global/bin`);
  const prefix = env("NPM_CONFIG_PREFIX") ?? env("npm_config_prefix");
  if (prefix) dirs.push(`${prefix}/bin`);
  const nvm = env("NVM_DIR") ?? (home ? `${home}/.nvm` : undefined);
  if (nvm) {
    for (const v of listDir(`${nvm}/versions/node`).sort(byVersionDesc)) {
      dirs.push(`${nvm}/versions/node/${v}/bin`);
    }
  }
  if (home) dirs.push(`${home}/.bun/bin`, `${home}/.volta/bin`);
  dirs.push("/usr/local/bin", "/opt/homebrew/bin", "/usr/bin");
  return [...new Set(dirs)];
}

/**
 * Resolve `binary`: a name with a `/` is used as is (it must be executable);
 * a bare name is looked up on PATH, then in {@linkcode fallbackDirs}.
 */
export function locateBinary(
  binary: string,
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): Located {
  if (binary.includes("/")) {
    if (isExecutable(binary)) return { path: binary, via: "explicit", searched: [binary] };
    return {
      searched: [binary],
      error: `codex binary ${binary} does not exist or is not executable. ` +
        `Install Codex CLI (npm install -g @openai/codex) or fix "binary" in the plugin config.`,
    };
  }
  const searched: string[] = [];
  const pathDirs = (env("PATH") ?? "").split(":").filter(Boolean);
  for (const [dirs, via] of [[pathDirs, "path"], [fallbackDirs(env), "fallback"]] as const) {
    for (const dir of dirs) {
      const p = `${dir}/${binary}`;
      if (searched.includes(p)) continue;
      searched.push(p);
      if (isExecutable(p)) return { path: p, via, searched };
    }
  }
  return {
    searched,
    error: `codex binary "${binary}" not found. Searched PATH and: ${searched.join(", ")}. ` +
      `Install Codex CLI (npm install -g @openai/codex) and set "binary" in the plugin config ` +
      `to its absolute path (find it with: command -v ${binary}).`,
  };
}
