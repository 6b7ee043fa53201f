/**
 * Small private files in a directory the agent can also write (its
 * workspace): read without ever following a symlink, reading a non-regular
 * file or reading more than 4 KiB (anything odd reads as absent), written
 * atomically (a temp file renamed over the old one, so a file is never
 * torn). The thread id file, the usage baseline and the run record use it.
 *
 * @example
 * ```ts
 * import { readSmall, writeAtomic } from "./small_file.ts";
 * await writeAtomic("/srv/agent/.plexum-codex-session", "019a...\n");
 * const text = await readSmall("/srv/agent/.plexum-codex-session"); // string | undefined
 * ```
 *
 * @module
 */

/** The most a small file may hold. */
const MAX_BYTES = 4096;

/** Read a small regular file (4 KiB at most) without following symlinks; undefined if odd or absent. */
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
