/**
 * What the plugin keeps about a workspace, as small private files: the thread
 * id in `<workspace>/.plexum-codex-session` (the id and a newline, the earlier
 * Go plugin's format), the usage baseline (./usage.ts) and the run record
 * (./reap.ts). The agent can write its workspace, so a read never follows a
 * symlink nor reads a non-regular file or more than 4 KiB (anything odd reads
 * as absent), and a write is atomic (a temp file renamed over the old one).
 * When the workspace cannot be written, the baseline and the run record go
 * to the state directory: `$XDG_STATE_HOME/plexum-codex/` (default
 * `~/.local/state/plexum-codex/`, mode 0700), `<kind>-<hash>.json` named by
 * the SHA-256 of the workspace's real path.
 *
 * @example
 * ```ts
 * import { readThreadId, writeThreadId } from "./session.ts";
 * await writeThreadId("/srv/agent", "0199a0b1-0000-7000-8000-000000000001");
 * const id = await readThreadId("/srv/agent"); // string | undefined
 * ```
 *
 * @module
 */
import type { Logger } from "../log.ts";

/** File name of the thread id inside the workspace. */
export const SESSION_FILE = ".plexum-codex-session";

/** True for a Codex thread id (a UUID). */
export const isThreadId = (s: string): boolean =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** The stored thread id, or undefined when there is none (or it is not a thread id). */
export async function readThreadId(workspace: string): Promise<string | undefined> {
  const text = (await readSmall(`${workspace}/${SESSION_FILE}`))?.trim();
  return text && isThreadId(text) ? text : undefined;
}

/**
 * Store a new thread id. When the workspace cannot keep it, say so and make
 * sure no older id is left, so the next turn starts a new thread instead of
 * resuming the wrong one.
 */
export async function saveThreadId(workspace: string, threadId: string, log: Logger) {
  try {
    await writeThreadId(workspace, threadId);
  } catch (e) {
    log.warn("could not save the codex thread id; the next turn starts a new thread", {
      workspace,
      error: (e as Error).message,
    });
    await Deno.remove(`${workspace}/${SESSION_FILE}`).catch(() => {});
  }
}

/** Store the thread id (atomically). Throws when the workspace is not writable. */
export function writeThreadId(workspace: string, threadId: string): Promise<void> {
  return writeAtomic(`${workspace}/${SESSION_FILE}`, `${threadId}\n`);
}

const MAX_BYTES = 4096;

/** Read a small regular file without following symlinks; undefined if odd or absent. */
export async function readSmall(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile || info.size > MAX_BYTES) return undefined;
    using f = await Deno.open(path, { read: true });
    const st = await f.stat();
    if (!st.isFile || st.ino !== info.ino) return undefined; // swapped under us
    const buf = new Uint8Array(MAX_BYTES);
    const n = (await f.read(buf)) ?? 0;
    return new TextDecoder().decode(buf.subarray(0, n));
  } catch {
    return undefined;
  }
}

/** Write `text` to `path` atomically: temp file in the same directory, then rename. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true, mode: 0o600 });
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** `workspace`'s real path (the name as given when it is gone). */
export async function realPath(workspace: string): Promise<string> {
  return await Deno.realPath(workspace).catch(() => workspace);
}

/** Where file `name` of `workspace` may be kept: in it, then in the state directory. */
export async function keptPlaces(workspace: string, name: string): Promise<string[]> {
  const places = [`${workspace}/${name}`];
  const xdg = Deno.env.get("XDG_STATE_HOME"), home = Deno.env.get("HOME");
  const dir = xdg?.startsWith("/")
    ? `${xdg.replace(/\/+$/, "")}/plexum-codex`
    : home?.startsWith("/")
    ? `${home.replace(/\/+$/, "")}/.local/state/plexum-codex`
    : undefined;
  if (!dir) return places;
  const real = new TextEncoder().encode(await realPath(workspace));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", real));
  const hash = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("").slice(0, 32);
  // `.plexum-codex-usage` → `usage-<hash>.json`
  return [...places, `${dir}/${name.replace(/^\.plexum-codex-/, "")}-${hash}.json`];
}

/**
 * Write `text` as file `name` of `workspace` (atomically), or, when the
 * workspace cannot be written, in the state directory; resolves the path
 * written. Throws when neither could be.
 */
export async function keepFile(workspace: string, name: string, text: string): Promise<string> {
  const [inWorkspace, state] = await keptPlaces(workspace, name);
  try {
    await writeAtomic(inWorkspace, text);
    return inWorkspace;
  } catch (e) {
    if (!state) throw e;
    await Deno.mkdir(state.slice(0, state.lastIndexOf("/")), { recursive: true, mode: 0o700 });
    await writeAtomic(state, text);
    return state;
  }
}
