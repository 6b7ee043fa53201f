/**
 * The workspace's thread on the app-server, shared with exec through the
 * session file (lib/codex/session.ts): the stored thread, loaded once per
 * process (`thread/resume`, then reused by later turns), or a new one
 * (`thread/start`, with the system text as developer instructions; the
 * turn runner saves its id). Both get exec's policy: `cwd` = the workspace, approval
 * `never`, the configured sandbox (lib/codex/sandbox.ts; the app-server's
 * defaults are `on-request` and read-only), and `--model` from `model_args`.
 *
 * A stored thread Codex no longer knows (`no rollout found`) is reported
 * `stale`: the turn runner starts a new one within the turn. A thread another
 * process writes is never replaced: that is the turn's error (calls.ts).
 *
 * A loaded thread remembers its rollout file (`thread.path`), how our last
 * turn left it ({@linkcode markThread}, when the turn has ended) and our turn
 * ids: {@linkcode staleLoaded} tells, before a turn reuses the thread, whether
 * another process has written it since (codex 0.135.0 has no writer lock and
 * would silently fork the history; rollout.ts), so that the backend loads it
 * afresh in a new process.
 *
 * @example
 * ```ts
 * import { openThread } from "./thread.ts";
 * import { TurnCalls, type TurnContext } from "./calls.ts";
 * import type { TurnRequest } from "../../turns/backend.ts";
 * declare const ctx: TurnContext;
 * declare const req: TurnRequest;
 * const t = await openThread(ctx, new TurnCalls(ctx, req.signal), req, undefined);
 * // { kind: "open", threadId, fresh, reused } | { kind: "cancelled" | "stale" | "failed", … }
 * ```
 *
 * @module
 */
import type { TurnRequest } from "../../turns/backend.ts";
import { modelArg } from "../turn_runner.ts";
import { threadSandbox } from "../sandbox.ts";
import { compareVersions } from "../launch_env.ts";
import { readThreadId } from "../session.ts";
import { STALE_THREAD } from "../codex_errors.ts";
import { TurnFailure } from "../../turns/outcome.ts";
import { RpcError } from "./client.ts";
import { noteLoadedEffort } from "./effort.ts";
import type { Connection, TurnCalls, TurnContext } from "./calls.ts";
import { foreignTurn, markOf } from "./rollout.ts";
import type { ThreadStartParams, ThreadStartResponse } from "./wire.ts";

/** Turn ids kept per loaded thread: more than any rollout written since our last turn names. */
const OURS_KEPT = 32;

/** Note `id` as loaded on `conn`, with the rollout file a thread/start or thread/resume answer names. */
export function noteLoaded(conn: Connection, id: string, answer: ThreadStartResponse): void {
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
  for (const old of t.ours) {
    if (t.ours.size <= OURS_KEPT) break;
    t.ours.delete(old);
  }
}

/** Our turn on a loaded thread has ended: note how it left the rollout file. */
export async function markThread(conn: Connection, threadId: string): Promise<void> {
  const t = conn.loaded.get(threadId);
  if (t?.path) t.mark = await markOf(t.path);
}

/**
 * The workspace's stored thread, when `conn` has it loaded and another
 * process has written it since our last turn on it (rollout.ts), with why.
 */
export async function staleLoaded(
  conn: Connection,
  req: Pick<TurnRequest, "workspace" | "reset">,
): Promise<{ threadId: string; why: string } | undefined> {
  if (conn.loaded.size === 0 || req.reset) return undefined; // a reset turn starts a new thread
  const id = await readThreadId(req.workspace);
  const t = id === undefined ? undefined : conn.loaded.get(id);
  if (!id || !t?.path || !t.mark) return undefined;
  const why = await foreignTurn(t.path, t.mark, t.ours);
  return why === undefined ? undefined : { threadId: id, why };
}

/** The thread a turn runs on. */
export interface OpenThread {
  threadId: string;
  /** Started by this turn (no usage baseline; history may be replayed into it). */
  fresh: boolean;
  /** Loaded by an earlier turn of this process and not resumed now. */
  reused: boolean;
}

/** What {@linkcode openThread} gives: the thread, a cancel, or the turn's failure. */
export type Opened =
  | ({ kind: "open" } & OpenThread)
  | { kind: "cancelled" }
  /** Codex no longer knows the stored thread (its message). */
  | { kind: "stale"; message: string }
  | { kind: "failed"; failure: TurnFailure };

/** Parameters of thread/start and thread/resume: exec's policy (see the module doc). */
export function threadParams(ctx: TurnContext, req: TurnRequest): ThreadStartParams {
  const model = modelArg(ctx.config, req.model);
  return { cwd: req.workspace, ...threadSandbox(ctx.config), ...(model && { model }) };
}

/** `thread/resume` of `id`; undefined when the turn was cancelled first. */
export function resumeThread(
  ctx: TurnContext,
  calls: TurnCalls,
  req: TurnRequest,
  id: string,
): Promise<ThreadStartResponse | undefined> {
  return calls.ask("thread/resume", {
    threadId: id,
    ...threadParams(ctx, req),
    // The history stays in Codex (0.169+ warn without it; 0.135 has it as experimental only).
    ...(compareVersions(ctx.conn.proc.version || "0", "0.169.0") >= 0 && { excludeTurns: true }),
  });
}

/** `stored` (undefined: a new thread); see the module doc. */
export async function openThread(
  ctx: TurnContext,
  calls: TurnCalls,
  req: TurnRequest,
  stored: string | undefined,
): Promise<Opened> {
  const { conn } = ctx;
  if (stored && conn.loaded.has(stored)) {
    return { kind: "open", threadId: stored, fresh: false, reused: true };
  }
  const step = stored ? "thread/resume" : "thread/start";
  try {
    if (stored) {
      const r = await resumeThread(ctx, calls, req, stored);
      if (!r) return { kind: "cancelled" };
      noteLoaded(conn, stored, r);
      return { kind: "open", threadId: stored, fresh: false, reused: false };
    }
    const r = await calls.ask("thread/start", {
      ...threadParams(ctx, req),
      ...(req.system && { developerInstructions: req.system }),
    });
    if (!r) return { kind: "cancelled" };
    if (typeof r.thread?.id !== "string") {
      const failure = new TurnFailure(
        "codex_exit",
        "codex app-server started a thread without an id",
      );
      return { kind: "failed", failure };
    }
    noteLoaded(conn, r.thread.id, r);
    return { kind: "open", threadId: r.thread.id, fresh: true, reused: false };
  } catch (e) {
    if (stored && e instanceof RpcError && STALE_THREAD.test(e.message)) {
      return { kind: "stale", message: e.message };
    }
    return { kind: "failed", failure: await calls.describe(e, step, stored) };
  }
}
