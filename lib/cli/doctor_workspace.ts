/**
 * doctor's `workspace` and `session` lines: the workspace must be a directory
 * the plugin's user can write (the thread id is saved there, Codex edits
 * files there), and its `.plexum-codex-session`, read by the very reader a
 * turn uses, says which thread the next turn resumes; the thread's rollout is
 * looked up (read only) in `CODEX_HOME/sessions`.
 *
 * @example
 * ```ts
 * import { workspaceChecks } from "./doctor_workspace.ts";
 * const lines = await workspaceChecks("/srv/agents/alice", (k) => Deno.env.get(k));
 * // [{ ok: true, name: "workspace", ... }, { ok: true, name: "session", ... }]
 * ```
 *
 * @module
 */
import { codexHome, type Env } from "../codex/launch_env.ts";
import { readThreadId, SESSION_FILE } from "../codex/session.ts";
import { type Check, check } from "./codex_probe.ts";

/** Where Codex keeps the rollout of `threadId` (sessions/YYYY/MM/DD/rollout-…-ID.jsonl), if anywhere. */
async function findRollout(codexHome: string, threadId: string): Promise<string | undefined> {
  const walk = async (dir: string, depth: number): Promise<string | undefined> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return undefined;
    }
    for (const e of entries) {
      if (e.isFile && e.name.endsWith(`-${threadId}.jsonl`)) return `${dir}/${e.name}`;
      const hit = e.isDirectory && depth > 0 && await walk(`${dir}/${e.name}`, depth - 1);
      if (hit) return hit;
    }
  };
  return await walk(`${codexHome}/sessions`, 3) ?? await walk(`${codexHome}/archived_sessions`, 3);
}

async function sessionCheck(ws: string, env: Env): Promise<Check> {
  const line = (ok: boolean, detail: string) => check("session", ok, detail);
  const file = `${ws}/${SESSION_FILE}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(file);
  } catch {
    return line(true, `no ${SESSION_FILE}: the next turn starts a new Codex thread`);
  }
  if (info.isDirectory) {
    return line(false, `${file} is a directory, so the thread id can never be saved. Remove it`);
  }
  // The very reader a turn uses decides; lstat only says why there is no thread.
  const text = await readThreadId(ws);
  if (text === undefined) {
    const what = info.isSymlink
      ? "a symlink"
      : !info.isFile
      ? "not a regular file"
      : info.size > 0
      ? "no thread id"
      : "empty";
    return line(
      true,
      `${SESSION_FILE} is ${what} and is ignored: the next turn starts a new thread and replaces it`,
    );
  }
  const home = codexHome(env) ?? "~/.codex";
  const rollout = await findRollout(home, text);
  if (rollout) return line(true, `the next turn resumes thread ${text} (${rollout})`);
  return line(
    true,
    `holds thread ${text}, but ${home}/sessions has no rollout for it ` +
      "(stale, or another CODEX_HOME): the next turn tries it, then starts a new thread",
  );
}

/** The `workspace` check, then (when it passes) the `session` check. */
export async function workspaceChecks(workspace: string, env: Env): Promise<Check[]> {
  const fail = (detail: string) => [check("workspace", false, detail)];
  const ws = workspace.startsWith("/") ? workspace : `${Deno.cwd()}/${workspace}`;
  try {
    if (!(await Deno.stat(ws)).isDirectory) {
      return fail(`${ws} is not a directory. Point the agent at a directory`);
    }
  } catch (e) {
    return fail(
      `${ws} cannot be used (${(e as Error).message}). Create it (mkdir -p ${ws}) ` +
        "and give it to the user the plugin runs as",
    );
  }
  const probe = `${ws}/.plexum-doctor-${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(probe, "", { createNew: true });
    await Deno.remove(probe);
  } catch (e) {
    return fail(
      `${ws} is not writable by this user (${(e as Error).message}): the thread id ` +
        "cannot be saved and Codex cannot edit files there. Fix its owner or mode " +
        "(chown to the plugin's User=)",
    );
  }
  return [check("workspace", true, `${ws} is a writable directory`), await sessionCheck(ws, env)];
}
