/**
 * The workspace's thread on the app-server, shared with exec through the
 * session file: loaded once per process (`thread/resume`, reused by later
 * turns) or started (`thread/start`, the system text as developer
 * instructions), with exec's policy (`cwd`, approval `never`, the sandbox,
 * the model). A stored thread Codex no longer knows is `stale` (the runner
 * starts a new one); one another Codex process holds (≥ 0.169) is waited
 * for, retried with backoff for up to {@linkcode HELD_WAIT_MS} (at most
 * `idle_timeout_s`; a cancel ends the wait at once), then the turn's error.
 *
 * Did another process write a loaded thread since our last turn on it? An
 * app-server reads a thread's rollout file (`thread.path`) only when it loads
 * it, and 0.135.0 has no writer lock (≥ 0.169 refuse the other writer), so
 * a turn appended meanwhile (exec, `chat`, `codex exec resume`) would be
 * silently forked off; only a new process reloads it. So
 * {@linkcode markThread} notes the file's size and inode after our turn, and
 * {@linkcode staleLoaded} stats it before the next: grown, the new lines'
 * `payload.turn_id` are compared with ours (a turn cancelled before
 * `turn/start` was answered is written late); shrunk, replaced or gone counts.
 *
 * @example
 * ```ts
 * import { foreignTurn, markOf } from "./thread.ts";
 * const path = "/home/u/.codex/sessions/rollout-x.jsonl";
 * const mark = await markOf(path); // after our turn ended
 * await foreignTurn(path, mark, new Set(["our-turn"])); // why another wrote it, or undefined
 * ```
 *
 * @module
 */
import { delay, realClock } from "../../async.ts";
import { LineStream } from "../../lines.ts";
import type { TurnRequest } from "../../turns/backend.ts";
import { modelArg } from "../turn_runner.ts";
import { threadSandbox } from "../sandbox.ts";
import { compareVersions } from "../launch_env.ts";
import { readThreadId } from "../session.ts";
import { STALE_THREAD, THREAD_HELD } from "../codex_errors.ts";
import type { Happening } from "../turn_runner.ts";
import { RpcError } from "./client.ts";
import {
  CANCELLED,
  type Connection,
  failed,
  type RolloutMark,
  type TurnCalls,
  type TurnContext,
} from "./calls.ts";
import { noteLoadedEffort } from "./effort.ts";
import type { ThreadStartParams, ThreadStartResponse } from "./wire.ts";

/** Turn ids kept per loaded thread: more than any rollout written since our last turn names. */
const OURS_KEPT = 32;
/** How long a thread held by another Codex process is waited for: its turn may just be ending. */
export const HELD_WAIT_MS = 30_000;

/** The file's size and inode now. */
export async function markOf(path: string): Promise<RolloutMark> {
  try {
    const st = await Deno.stat(path);
    return { size: st.size, ino: st.ino ?? null };
  } catch {
    return { size: 0, ino: null };
  }
}

/** Why the file shows another writer since `mark` (a turn not in `ours`, a rewrite), if it does. */
export async function foreignTurn(
  path: string,
  mark: RolloutMark,
  ours: ReadonlySet<string>,
  stat: Promise<RolloutMark> = markOf(path),
): Promise<string | undefined> {
  const now = await stat;
  if (now.ino === null) return mark.ino === null ? undefined : "its rollout file is gone";
  if (mark.ino !== null && now.ino !== mark.ino) return "its rollout file was replaced";
  if (now.size < mark.size) return "its rollout file shrank";
  if (now.size === mark.size && mark.ino !== null) return undefined;
  using file = await Deno.open(path).catch(() => undefined);
  if (!file) return undefined; // gone meanwhile: thread/resume will say what is left
  if (mark.ino !== null) await file.seek(mark.size, Deno.SeekMode.Start);
  for await (const line of file.readable.pipeThrough(new LineStream())) {
    if (!line?.includes('"turn_id"')) continue;
    let id;
    try {
      id = (JSON.parse(line) as { payload?: { turn_id?: unknown } }).payload?.turn_id;
    } catch { /* a line still being written: its turn's first lines (`task_started`) are whole */ }
    if (typeof id === "string" && id !== "" && !ours.has(id)) {
      return `turn ${id} appended to its rollout file`;
    }
  }
  return undefined;
}

/** Note `id` as loaded on `conn`, with the rollout file named by thread/start or thread/resume. */
function noteLoaded(conn: Connection, id: string, answer: ThreadStartResponse): void {
  const path = answer.thread?.path;
  const ours = conn.loaded.get(id)?.ours ?? new Set<string>(); // loaded again: still ours
  conn.loaded.set(id, { ...(typeof path === "string" && path && { path }), ours });
  noteLoadedEffort(conn, id, answer.reasoningEffort); // ./effort.ts
}

/** Note a turn of ours on a loaded thread (its lines in the rollout file are ours). */
export function noteTurn(conn: Connection, threadId: string, turnId: string): void {
  const t = conn.loaded.get(threadId);
  if (!t) return;
  t.ours.add(turnId);
  if (t.ours.size > OURS_KEPT) t.ours.delete(t.ours.values().next().value!); // the oldest
}

/** The workspace's turn on a loaded thread has ended: stat its rollout file (not awaited). */
export function markThread(conn: Connection, threadId: string, workspace: string): void {
  const t = conn.loaded.get(threadId);
  if (!t?.path) return;
  t.mark = markOf(t.path);
  t.workspace = workspace;
}

/** The workspace's stored thread, when `conn` has it loaded and another process wrote it since. */
export async function staleLoaded(
  conn: Connection,
  req: Pick<TurnRequest, "workspace" | "reset">,
): Promise<{ thread_id: string; why: string } | undefined> {
  if (conn.loaded.size === 0 || req.reset) return undefined; // a reset turn starts a new thread
  // The file of the workspace's last turn here is stat'ed while the session file is read.
  const last = [...conn.loaded].findLast(([, t]) => t.workspace === req.workspace);
  const now = last && markOf(last[1].path!);
  const id = await readThreadId(req.workspace);
  const t = id === undefined ? undefined : conn.loaded.get(id);
  if (!id || !t?.path || !t.mark) return undefined;
  const why = await foreignTurn(t.path, await t.mark, t.ours, id === last?.[0] ? now : undefined);
  return why === undefined ? undefined : { thread_id: id, why };
}

/** Parameters of thread/start and thread/resume: exec's policy (see the module doc). */
function threadParams(ctx: TurnContext, req: TurnRequest): ThreadStartParams {
  const model = modelArg(ctx.config, req.model);
  return { cwd: req.workspace, ...threadSandbox(ctx.config), ...(model && { model }) };
}

/**
 * `thread/resume` of `id`, noted as loaded; false when the turn was cancelled
 * first. While another Codex process holds the thread it is tried again,
 * with backoff, for up to HELD_WAIT_MS (module doc).
 */
export async function resumeThread(
  ctx: TurnContext,
  calls: TurnCalls,
  req: TurnRequest,
  id: string,
): Promise<boolean> {
  const [clock, v] = [ctx.clock ?? realClock, ctx.conn.proc.version || "0"];
  const waitMs = Math.min(HELD_WAIT_MS, ctx.config.idle_timeout_s * 1000);
  const until = clock.now() + waitMs;
  for (let backoff = 250;; backoff = Math.min(2 * backoff, 2000)) {
    try {
      const r = await calls.ask("thread/resume", {
        threadId: id,
        ...threadParams(ctx, req),
        // The history stays in Codex (0.169+ warn without it; 0.135 has it as experimental only).
        ...(compareVersions(v, "0.169.0") >= 0 && { excludeTurns: true }),
      });
      if (r) noteLoaded(ctx.conn, id, r);
      return r !== undefined;
    } catch (e) {
      if (!(e instanceof RpcError && THREAD_HELD.test(e.message))) throw e;
      const left = until - clock.now();
      if (left <= 0) {
        throw new RpcError(e.method, e.code, `${e.message} (still after ${waitMs / 1000} s)`);
      }
      ctx.log.info("another Codex process holds the thread; waiting", { error: e.message });
      const wait = delay(Math.min(backoff, left), { signal: req.signal, clock });
      if (!await wait.then(() => true, () => false)) return false; // cancelled
    }
  }
}

/**
 * The thread `stored` (undefined: a new one; see the module doc): `fresh`
 * when this turn started it, `reused` when an earlier turn of this process
 * loaded it; or the turn's `failed` happening.
 */
export async function openThread(
  ctx: TurnContext,
  calls: TurnCalls,
  req: TurnRequest,
  stored: string | undefined,
): Promise<{ threadId: string; fresh: boolean; reused: boolean } | Happening> {
  const { conn } = ctx;
  if (stored && conn.loaded.has(stored)) return { threadId: stored, fresh: false, reused: true };
  try {
    if (stored) {
      const ok = await resumeThread(ctx, calls, req, stored);
      return ok ? { threadId: stored, fresh: false, reused: false } : CANCELLED;
    }
    const r = await calls.ask("thread/start", {
      ...threadParams(ctx, req),
      ...(req.system && { developerInstructions: req.system }),
    });
    if (!r) return CANCELLED;
    if (typeof r.thread?.id !== "string") {
      return failed("codex_exit", "codex app-server started a thread without an id");
    }
    noteLoaded(conn, r.thread.id, r);
    return { threadId: r.thread.id, fresh: true, reused: false };
  } catch (e) {
    if (stored && e instanceof RpcError && STALE_THREAD.test(e.message)) {
      return { type: "failed", cause: { type: "stale_thread", message: e.message } };
    }
    return await calls.describe(e, stored ? "thread/resume" : "thread/start", stored);
  }
}
