/**
 * Whether a path can be an agent's workspace, and if not, what is wrong with
 * it in words a host's operator can act on. `/proc`, `/sys` and `/dev` (with
 * `/dev/shm`) exist but are the kernel's pseudo filesystems and device nodes:
 * Codex would run commands and the plugin would keep its session files there.
 * Deno refuses to look into them without `--allow-all`, which used to come
 * out as "does not exist".
 *
 * @example
 * ```ts
 * import { workspaceProblem } from "./workspace.ts";
 * workspaceProblem("/proc"); // "is /proc, the kernel's pseudo filesystem, not a workspace directory"
 * workspaceProblem("/tmp");  // undefined: fine
 * ```
 *
 * @module
 */

/** Pseudo filesystems and device trees, never a workspace. */
const PSEUDO: Record<string, string> = {
  "/proc": "/proc, the kernel's pseudo filesystem",
  "/sys": "/sys, the kernel's pseudo filesystem",
  "/dev": "/dev, the device tree",
};

/** `path` with `.`, `..` and repeated slashes resolved (no symlinks followed). */
function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** The pseudo filesystem `path` is in, described, or undefined. */
function pseudo(path: string): string | undefined {
  const p = normalize(path);
  for (const [root, what] of Object.entries(PSEUDO)) {
    if (p === root || p.startsWith(`${root}/`)) {
      return p === root ? what : `${p}, inside ${what}`;
    }
  }
  return undefined;
}

/**
 * What is wrong with `path` as a workspace (to follow `agent.workspace`), or
 * undefined when it is an absolute path of an existing directory outside the
 * pseudo filesystems.
 */
export function workspaceProblem(path: unknown): string | undefined {
  if (typeof path !== "string" || !path.startsWith("/")) return "must be an absolute path";
  if (path.includes("\0")) return "must not contain a NUL character";
  const named = pseudo(path);
  if (named) return `is ${named}, not a workspace directory`;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "does not exist";
    if (e instanceof Deno.errors.PermissionDenied) {
      return "cannot be reached: permission denied (the plugin's user needs search access to every directory on the path)";
    }
    if (e instanceof Deno.errors.NotADirectory) {
      return "does not exist (a part of the path is a file)";
    }
    return `cannot be used: ${(e as Error).message}`;
  }
  if (!info.isDirectory) return "is not a directory";
  try {
    const real = pseudo(Deno.realPathSync(path));
    if (real) return `leads to ${real} (through a symlink), not a workspace directory`;
  } catch { /* checked by stat above; a race is harmless here */ }
  return undefined;
}
