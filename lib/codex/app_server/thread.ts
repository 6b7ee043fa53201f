/**
 * The workspace's thread on the app-server, shared with exec through the
 * session file (lib/codex/session.ts): the stored thread, loaded once per
 * process (`thread/resume`, then reused by later turns), or a new one
 * (`thread/start`, with the system text as developer instructions) whose id
 * is saved at once. Both get exec's policy: `cwd` = the workspace, approval
 * `never`, the configured sandbox (lib/codex/sandbox.ts; the app-server's
 * defaults are `on-request` and read-only), and `--model` from `model_args`.
 *
 * A stored thread Codex no longer knows (`no rollout found`) is replaced by
 * a new one within the turn. A thread another process writes is never
 * replaced: that is the turn's error (calls.ts).
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
 * const t = await openThread(ctx, new TurnCalls(ctx, req.signal), req);
 * // { threadId, fresh, reused } | { cancelled } | { failure }
 * ```
 *
 * @module
 */
import type { TurnRequest } from "../../turns/backend.ts";
import { modelArg } from "../model.ts";
import { threadSandbox } from "../sandbox.ts";
import { compareVersions } from "../locate.ts";
import { readThreadId, saveThreadId, STALE_THREAD } from "../session.ts";
import { RpcError } from "./client.ts";
import { type Connection, Failure, type TurnCalls, type TurnContext } from "./calls.ts";
import { foreignTurn, markOf } from "./rollout.ts";

/** Turn ids kept per loaded thread: more than any rollout written since our last turn names. */
const OURS_KEPT = 32;

/** Note `id` as loaded on `conn`, with the rollout file a thread/start or thread/resume answer names. */
export function noteLoaded(conn: Connection, id: string, answer: Record<string, unknown>): void {
  const path = (answer.thread as { path?: unknown } | undefined)?.path;
  const ours = conn.loaded.get(id)?.ours ?? new Set<string>(); // loaded again: still ours
  conn.loaded.set(id, { ...(typeof path === "string" && path && { path }), ours });
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
  | { kind: "cancelled"; threadId: string | null }
  | { kind: "failed"; failure: Failure; threadId: string | null };

/** Parameters of thread/start and thread/resume: exec's policy (see the module doc). */
export function threadParams(ctx: TurnContext, req: TurnRequest): Record<string, unknown> {
  const model = modelArg(ctx.config, req.model);
  return { cwd: req.workspace, ...threadSandbox(ctx.config), ...(model && { model }) };
}

/** `thread/resume` of `id`; undefined when the turn was cancelled first. */
export function resumeThread(
  ctx: TurnContext,
  calls: TurnCalls,
  req: TurnRequest,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  return calls.ask("thread/resume", {
    threadId: id,
    ...threadParams(ctx, req),
    // The history stays in Codex (0.169+ warn without it; 0.135 has it as experimental only).
    ...(compareVersions(ctx.conn.proc.version || "0", "0.169.0") >= 0 && { excludeTurns: true }),
  });
}

/** The stored thread, else a new one; see the module doc. */
export async function openThread(
  ctx: TurnContext,
  calls: TurnCalls,
  req: TurnRequest,
): Promise<Opened> {
  const { conn, log } = ctx;
  const ws = req.workspace;
  const stored = req.reset ? undefined : await readThreadId(ws);
  if (stored && conn.loaded.has(stored)) {
    return { kind: "open", threadId: stored, fresh: false, reused: true };
  }
  let step = "thread/resume";
  try {
    if (stored) {
      try {
        const r = await resumeThread(ctx, calls, req, stored);
        if (!r) return { kind: "cancelled", threadId: stored };
        noteLoaded(conn, stored, r);
        return { kind: "open", threadId: stored, fresh: false, reused: false };
      } catch (e) {
        if (!(e instanceof RpcError && STALE_THREAD.test(e.message))) throw e;
        log.warn("codex no longer knows the stored thread; starting a new one", {
          workspace: ws,
          thread_id: stored,
        });
      }
    }
    step = "thread/start";
    const r = await calls.ask<{ thread?: { id?: unknown } }>("thread/start", {
      ...threadParams(ctx, req),
      ...(req.system && { developerInstructions: req.system }),
    });
    if (!r) return { kind: "cancelled", threadId: stored ?? null };
    if (typeof r.thread?.id !== "string") {
      const failure = new Failure("codex_exit", "codex app-server started a thread without an id");
      return { kind: "failed", failure, threadId: null };
    }
    const threadId = r.thread.id;
    noteLoaded(conn, threadId, r);
    await saveThreadId(ws, threadId, log);
    return { kind: "open", threadId, fresh: true, reused: false };
  } catch (e) {
    return {
      kind: "failed",
      failure: await calls.describe(e, step, stored),
      threadId: stored ?? null,
    };
  }
}
