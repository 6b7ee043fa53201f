/**
 * A place outside the workspace for what the plugin must keep about a
 * workspace when the workspace itself cannot be written (read-only, or not
 * owned by the plugin's user): the usage baseline (lib/codex/usage_file.ts) and
 * the record of a running Codex (lib/codex/run_record.ts).
 *
 * `$XDG_STATE_HOME/plexum-codex/` (default `~/.local/state/plexum-codex/`),
 * mode 0700, one file per workspace and kind, named by the SHA-256 of the
 * workspace's real path: `<kind>-<hash>.json`.
 *
 * @example
 * ```ts
 * import { stateFile } from "./state_dir.ts";
 * const path = await stateFile("/srv/agents/alice", "usage");
 * // "/home/plexum/.local/state/plexum-codex/usage-3f2a….json" (undefined without HOME)
 * ```
 *
 * @module
 */

/** The plugin's state directory, or undefined when neither XDG_STATE_HOME nor HOME is set. */
export function stateDir(env: (k: string) => string | undefined = (k) => Deno.env.get(k)) {
  const xdg = env("XDG_STATE_HOME");
  if (xdg?.startsWith("/")) return `${xdg.replace(/\/+$/, "")}/plexum-codex`;
  const home = env("HOME");
  if (home?.startsWith("/")) return `${home.replace(/\/+$/, "")}/.local/state/plexum-codex`;
  return undefined;
}

/** The state file of `kind` for `workspace` (resolved to its real path). */
export async function stateFile(workspace: string, kind: string): Promise<string | undefined> {
  const dir = stateDir();
  if (!dir) return undefined;
  let real = workspace;
  try {
    real = await Deno.realPath(workspace);
  } catch { /* gone: the name as given */ }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(real));
  const hash = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${dir}/${kind}-${hash.slice(0, 32)}.json`;
}

/** Create the state directory (0700) if needed; throws when it cannot be. */
export async function ensureStateDir(file: string): Promise<void> {
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true, mode: 0o700 });
}
