/**
 * Did another process write a thread since our last turn on it? The check
 * that keeps codex 0.135.0 from silently forking a thread's history.
 *
 * Why it is needed: an app-server reads a thread's rollout file
 * (`thread.path` of the thread/start and thread/resume answers, on every
 * release checked) once, when it loads the thread, and then keeps the
 * history in memory. 0.135.0 has no writer lock, so while our app-server
 * holds a thread between turns, another process (a second plugin on exec, a
 * `chat` one-shot, a human's `codex exec resume`) can run a turn on it: it
 * appends that turn to the file, our app-server never sees it, and its next
 * turn goes to the model without it (observed: thread/resume, and
 * unsubscribe + resume, in the same process do not reload it; only a new
 * app-server process does). codex ≥ 0.169 refuses the other writer instead
 * ("already has an active writer"), so there the check never finds anything.
 *
 * How: when a turn of ours on the thread has ended, {@linkcode markOf} notes
 * the file's size and inode. Before the next turn on the still-loaded thread,
 * {@linkcode foreignTurn} stats it (one `stat`, the cost of every such turn):
 * unchanged is the common case. Grown, the appended lines are read and each
 * line's `payload.turn_id` (`task_started`, `turn_context`, … carry it on
 * 0.135.0 and 0.169.0) is compared with the ids of our own turns: only a turn
 * id that is not ours means another writer. So our own late writes never
 * count — measured, the app-server appends nothing after `turn/completed`
 * (completed, failed and interrupted turns, 0.135.0 and 0.169.0, polled for
 * 2 s), but a turn cancelled before `turn/start` was answered is written
 * after our turn has ended, under an id we learn late. A file that shrank,
 * was replaced (another inode) or vanished was rewritten by someone else:
 * that counts as changed too (loading the thread again is the safe answer).
 * The backend then loads the thread in a new app-server process (backend.ts).
 *
 * @example
 * ```ts
 * import { foreignTurn, markOf } from "./rollout.ts";
 * const path = "/home/u/.codex/sessions/2026/11/27/rollout-x.jsonl";
 * const mark = await markOf(path); // after our turn ended
 * const why = await foreignTurn(path, mark, new Set(["our-turn-id"]));
 * if (why) console.log(`another process wrote the thread: ${why}`);
 * ```
 *
 * @module
 */
import { LineStream } from "../../lines.ts";

/** The rollout file as our last turn left it; size 0 and no inode: there was no file yet. */
export interface RolloutMark {
  size: number;
  ino: number | null;
}

/** The file's size and inode now. */
export async function markOf(path: string): Promise<RolloutMark> {
  try {
    const st = await Deno.stat(path);
    return { size: st.size, ino: st.ino ?? null };
  } catch {
    return { size: 0, ino: null };
  }
}

/**
 * Why the file shows another writer since `mark` (a turn id not in `ours`, or
 * the file rewritten); undefined when it shows none. See the module doc.
 */
export async function foreignTurn(
  path: string,
  mark: RolloutMark,
  ours: ReadonlySet<string>,
): Promise<string | undefined> {
  const now = await markOf(path);
  if (now.ino === null) return mark.ino === null ? undefined : "its rollout file is gone";
  if (mark.ino !== null && now.ino !== mark.ino) return "its rollout file was replaced";
  if (now.size < mark.size) return "its rollout file shrank";
  if (now.size === mark.size && mark.ino !== null) return undefined;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return undefined; // gone meanwhile: thread/resume will say what is left
  }
  try {
    if (mark.ino !== null) await file.seek(mark.size, Deno.SeekMode.Start);
    for await (const line of file.readable.pipeThrough(new LineStream())) {
      const id = turnIdOf(line);
      if (id !== undefined && !ours.has(id)) return `turn ${id} appended to its rollout file`;
    }
    return undefined;
  } finally {
    try {
      file.close();
    } catch { /* closed by the finished stream */ }
  }
}

/** The turn a rollout line belongs to, if it names one. */
function turnIdOf(line: string | undefined): string | undefined {
  if (!line || !line.includes('"turn_id"')) return undefined;
  try {
    const id = (JSON.parse(line) as { payload?: { turn_id?: unknown } }).payload?.turn_id;
    return typeof id === "string" && id !== "" ? id : undefined;
  } catch {
    return undefined; // a line still being written: its turn's first lines (`task_started`) are whole
  }
}
