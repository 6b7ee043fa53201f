/**
 * One chat turn on a running `codex app-server`, on the thread thread.ts
 * opens: the prompt (after a history transcript for a new thread, with the
 * images as data URLs) sent with `turn/start`, the turn's notifications
 * mapped to Plexum events by {@linkcode AppServerTurnMapper} until
 * `turn/completed`, and usage reported as exec mode does (the thread's
 * totals at the end minus those stored after its previous turn).
 *
 * What can end a turn besides `turn/completed`, and what the host gets:
 * - cancel → `turn/interrupt`, and `cancelled` as soon as Codex confirms or
 *   after {@linkcode TurnContext.graceMs} at the latest; an app-server that
 *   confirms nothing in that time is reported wedged (the backend replaces it);
 * - no notification of the turn for `idle_timeout_s` → the same interrupt,
 *   and one `timeout` error;
 * - the app-server exiting → one `codex_exit` error;
 * - a refused request → one `codex_exit` error (a thread held by another
 *   writer, which codex ≥ 0.169 refuses, is named as such and kept); a
 *   request unanswered for `idle_timeout_s` → one `timeout` error and a new
 *   app-server for the next turn (calls.ts). A stored thread Codex no longer
 *   knows (`no rollout found`) is replaced by a new one within the turn.
 * Nothing of the turn is emitted once it has been cancelled or timed out.
 *
 * @example
 * ```ts
 * import { runAppServerTurn, type TurnContext } from "./turn.ts";
 * import type { TurnRequest } from "../../turns/backend.ts";
 * declare const ctx: TurnContext; // a connection, the config, the logger, grace and timeouts
 * declare const req: TurnRequest;
 * const r = await runAppServerTurn(ctx, req); // { stop_reason, thread_id, usage }
 * ```
 *
 * @module
 */
import type { TurnRequest, TurnResult, Usage } from "../../turns/backend.ts";
import { replayedField, turnText } from "../history.ts";
import { modelArg } from "../model.ts";
import { rateLimitOf } from "../rate_limit.ts";
import { turnSandbox } from "../sandbox.ts";
import { writeTotals } from "../session.ts";
import { settleUsage } from "../turn_usage.ts";
import { checkTotals } from "../usage.ts";
import { Failure, TurnCalls, type TurnContext, within } from "./calls.ts";
import { RpcError } from "./client.ts";
import { AppServerTurnMapper } from "./events.ts";
import { markThread, noteLoaded, noteTurn, openThread, resumeThread } from "./thread.ts";
import { appServerRetryNotice, idleTimeoutMessage, RetryWatch } from "../retry_notice.ts";

export type { TurnContext } from "./calls.ts";

type Json = Record<string, unknown>;

/** The turn a notification belongs to, if it names one. */
function turnOf(params: Json): string | undefined {
  if (typeof params.turnId === "string") return params.turnId;
  const turn = params.turn as Json | undefined;
  return typeof turn?.id === "string" ? turn.id : undefined;
}

/** Run one turn; see the module doc. */
export async function runAppServerTurn(ctx: TurnContext, req: TurnRequest): Promise<TurnResult> {
  const { conn, log } = ctx;
  const client = conn.proc.client;
  const ws = req.workspace;
  let replayed = 0; // said in the result whenever the thread got the earlier messages
  const cancelled = (threadId: string | null): TurnResult => ({
    stop_reason: "cancelled",
    thread_id: threadId,
    usage: null,
    ...replayedField(replayed),
  });
  const fail = (f: Failure, threadId: string | null): TurnResult => {
    req.emit({
      type: "error",
      code: f.code,
      message: f.message,
      ...(f.retryAfter !== undefined && { retry_after_s: f.retryAfter }),
    });
    return { stop_reason: "error", thread_id: threadId, usage: null, ...replayedField(replayed) };
  };
  if (req.signal.aborted) return cancelled(null);
  const calls = new TurnCalls(ctx, req.signal);

  // 1. The thread (thread.ts).
  const opened = await openThread(ctx, calls, req);
  if (opened.kind === "cancelled") return cancelled(opened.threadId);
  if (opened.kind === "failed") return fail(opened.failure, opened.threadId);
  const { threadId, fresh, reused } = opened;
  const model = modelArg(ctx.config, req.model);

  // 2. The turn: subscribe first (its first notifications may precede turn/start's answer).
  const mapper = new AppServerTurnMapper({
    emitActivity: ctx.config.emit_activity,
    emitReasoning: ctx.config.emit_reasoning,
    onNote: (msg, data) => log.debug(msg, { data }),
  });
  let turnId: string | undefined;
  let quiet = false; // cancelled or timed out: nothing more reaches the host
  const early: [string, Json][] = [];
  let lastActivity = performance.now();
  const retries = new RetryWatch();
  let settle!: (how: "done" | "closed") => void;
  const ended = new Promise<"done" | "closed">((r) => (settle = r));
  const deliver = (method: string, params: Json) => {
    const t = turnOf(params);
    if (t !== undefined && t !== turnId) {
      log.debug("notification of another turn of the thread; ignored", { method, turn_id: t });
      return;
    }
    for (const ev of mapper.push(method, params)) {
      if (ev.type === "error") continue; // the turn's one error is decided at its end
      if (!quiet) req.emit(ev);
    }
    if (mapper.done) settle("done");
  };
  const unsubscribe = client.subscribe(threadId, {
    onNotification(method, params) {
      // A retry notice is not progress (lib/codex/retry_notice.ts).
      if (retries.progress(appServerRetryNotice(method, params))) lastActivity = performance.now();
      if (method === "error" && params.willRetry === true) {
        log.warn("codex is retrying the model request", {
          thread_id: threadId,
          message: (params.error as Json | undefined)?.message,
        });
      }
      if (turnId === undefined) early.push([method, params]);
      else deliver(method, params);
    },
    onServerRequest() {
      lastActivity = performance.now();
    },
    onClose: () => settle("closed"),
  });
  try {
    // A new thread gets the host's earlier messages (lib/codex/history.ts), as exec does.
    const replay = turnText(req, {
      newThread: fresh,
      enabled: ctx.config.replay_history,
      log,
    });
    replayed = replay.replayed;
    const input: Json[] = [{ type: "text", text: replay.text, text_elements: [] }];
    for (const img of req.images ?? []) {
      input.push({ type: "image", url: `data:${img.mime_type};base64,${base64(img.data)}` });
    }
    const id = threadId;
    // Cancelled before turn/start was answered: the turn that started all the same is stopped.
    const interruptLate = (r: { turn?: { id?: unknown } }) => {
      if (typeof r.turn?.id !== "string") return;
      noteTurn(conn, id, r.turn.id); // its lines are written after this turn has ended
      client.request("turn/interrupt", { threadId: id, turnId: r.turn.id }, ctx.graceMs)
        .catch(() => {});
    };
    const startTurn = () =>
      calls.ask<{ turn?: { id?: unknown } }>(
        "turn/start",
        // The configured sandbox, whatever mode the thread was loaded with (sandbox.ts).
        { threadId: id, input, ...(model && { model }), ...turnSandbox(ctx.config) },
        interruptLate,
      );
    let started: { turn?: { id?: unknown } } | undefined;
    try {
      started = await startTurn();
    } catch (e) {
      if (!(reused && e instanceof RpcError && /thread not found/i.test(e.message))) {
        return fail(await calls.describe(e, "turn/start", threadId), threadId);
      }
      // The app-server let go of the thread since its last turn here: load it again.
      log.info("codex app-server no longer had the thread loaded; resuming it", { thread_id: id });
      conn.loaded.delete(id);
      try {
        const r = await resumeThread(ctx, calls, req, id);
        if (!r) return cancelled(id);
        noteLoaded(conn, id, r);
        started = await startTurn();
      } catch (e2) {
        return fail(await calls.describe(e2, "turn/start", id), id);
      }
    }
    if (!started) return cancelled(threadId);
    if (typeof started.turn?.id !== "string") {
      return fail(
        new Failure("codex_exit", "codex app-server started a turn without an id"),
        threadId,
      );
    }
    turnId = started.turn.id;
    noteTurn(conn, threadId, turnId);
    log.debug("codex turn started", { thread_id: threadId, codex_turn_id: turnId });
    for (const [m, p] of early.splice(0)) deliver(m, p);

    // 3. Wait for the end, a cancel, the idle timeout or the process's exit.
    const idleMs = ctx.config.idle_timeout_s * 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<"cancel" | "idle">((resolve) => {
      onAbort = () => resolve("cancel");
      req.signal.addEventListener("abort", onAbort, { once: true });
      const check = () => {
        const left = lastActivity + idleMs - performance.now();
        if (left <= 0) resolve("idle");
        else timer = setTimeout(check, left);
      };
      timer = setTimeout(check, idleMs);
    });
    if (req.signal.aborted) onAbort!();
    const how = await Promise.race([ended, stopped]);
    clearTimeout(timer);
    req.signal.removeEventListener("abort", onAbort!);

    if (how === "cancel" || how === "idle") {
      quiet = true;
      const lastRetry = retries.last; // what the interrupt brings is not why it timed out
      if (how === "idle") {
        log.warn("codex app-server idle timeout: interrupting the turn", {
          thread_id: threadId,
          turn_id: turnId,
          idle_timeout_s: ctx.config.idle_timeout_s,
        });
      }
      await interrupt(ctx, threadId, turnId, ended);
      await keepBaseline(ws, threadId, mapper.totals);
      if (how === "cancel") return cancelled(threadId);
      const idleS = ctx.config.idle_timeout_s;
      const why = idleTimeoutMessage({ idleS, silence: "sent nothing", lastRetry });
      return fail(new Failure("timeout", why), threadId);
    }
    if (how === "closed" && !mapper.done) return fail(await calls.exited(), threadId);

    // 4. Completed, failed or interrupted by Codex itself.
    if (mapper.status !== "completed") {
      await keepBaseline(ws, threadId, mapper.totals);
      if (mapper.status === "interrupted") {
        return fail(new Failure("turn_failed", "codex interrupted the turn"), threadId);
      }
      const why = mapper.failure ?? "the turn failed";
      const limit = rateLimitOf(why, new Date(), mapper.errorInfo);
      if (limit) return fail(new Failure("rate_limited", why, limit.retry_after_s), threadId);
      return fail(new Failure("turn_failed", why), threadId);
    }
    let usage: Usage | null = null;
    if (mapper.totals) {
      // Per turn, validated, never a wrong number: as exec (lib/codex/turn_usage.ts).
      usage = await settleUsage({ workspace: ws, threadId, totals: mapper.totals, fresh, log });
      if (usage) req.emit({ type: "usage", ...usage });
    }
    return { stop_reason: "end_turn", thread_id: threadId, usage, ...replayedField(replayed) };
  } finally {
    unsubscribe();
    // However the turn ended, Codex has written it by now (rollout.ts): the next turn compares.
    await markThread(conn, threadId);
  }
}

/** Ask Codex to stop the turn; wait up to the grace period for `turn/completed`. */
async function interrupt(
  ctx: TurnContext,
  threadId: string,
  turnId: string,
  ended: Promise<"done" | "closed">,
): Promise<void> {
  const answered = ctx.conn.proc.client.request("turn/interrupt", { threadId, turnId }, ctx.graceMs)
    .then(() => true, (e) => {
      // "no active turn to interrupt": it had just finished.
      return e instanceof RpcError;
    });
  if (await within(ended, ctx.graceMs, "late") === "late") {
    const ok = await Promise.race([answered, Promise.resolve(false)]);
    ctx.wedged(
      ok
        ? `turn ${turnId} did not end within ${ctx.graceMs} ms of turn/interrupt`
        : `turn/interrupt was not answered within ${ctx.graceMs} ms`,
    );
  }
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * After a turn that did not complete, keep Codex's totals (when they are
 * counts) as the next turn's baseline, so its tokens are not counted again.
 */
async function keepBaseline(workspace: string, threadId: string, totals: unknown) {
  const checked = totals === undefined ? undefined : checkTotals(totals);
  if (checked?.ok) await writeTotals(workspace, threadId, checked.value).catch(() => {});
}
