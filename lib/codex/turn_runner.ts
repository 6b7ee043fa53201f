/**
 * One turn, whichever backend runs it: what every turn needs is done here
 * once, around a {@linkcode Driver} that only talks to Codex
 * (./exec/driver.ts, ./app_server/backend.ts).
 *
 * - the workspace's stored thread is resumed (none with `reset`); one Codex
 *   no longer knows is replaced by a new one within the turn, with a warning;
 * - a new thread gets the earlier messages first (./history.ts), and the
 *   result says `replayed_messages` whenever a thread got them;
 * - a new thread's id is saved as soon as it is known (./session.ts);
 * - streamed events reach the host as they come;
 * - the end: usage from the thread's running totals (./turn_usage.ts), or,
 *   for a turn that did not complete, the totals kept as the next baseline;
 *   a failure becomes exactly one error event (lib/turns/outcome.ts), a usage
 *   or rate limit `rate_limited` with `retry_after_s` (./rate_limit.ts).
 *
 * @example
 * ```ts
 * import { runTurn } from "./turn_runner.ts";
 * import type { Driver } from "./happening.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const driver: Driver = {
 *   async *run() {
 *     yield { type: "text_delta", text: "hi" };
 *     yield { type: "completed" };
 *   },
 * };
 * const r = await runTurn(driver, {
 *   workspace: "/srv/agent", prompt: "hi", model: "codex", reset: true,
 *   signal: new AbortController().signal, emit: (ev) => console.log(ev),
 * }, { config: { ...DEFAULTS }, log: createLogger() });
 * // r: { stop_reason: "end_turn", thread_id: null, usage: null }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { TurnRequest, TurnResult, Usage } from "../turns/backend.ts";
import { cancelledTurn, failTurn, TurnFailure } from "../turns/outcome.ts";
import type { Driver, FailureCause, Happening } from "./happening.ts";
import { replayedField, turnText } from "./history.ts";
import { rateLimitOf } from "./rate_limit.ts";
import { readThreadId, saveThreadId } from "./session.ts";
import { keepBaseline, settleUsage } from "./turn_usage.ts";
import type { Totals } from "./usage.ts";

/** What {@linkcode runTurn} needs besides the driver and the request. */
export interface RunnerOptions {
  config: Pick<Config, "replay_history">;
  log: Logger;
}

/** How one run of the driver went. */
interface Attempt {
  thread?: { id: string; fresh: boolean };
  totals?: Totals;
  end?: Extract<Happening, { type: "failed" | "completed" }>;
  replayed: number;
}

/** Run `req` on `driver`; see the module doc. Rejects only on a bug. */
export async function runTurn(
  driver: Driver,
  req: TurnRequest,
  o: RunnerOptions,
): Promise<TurnResult> {
  if (req.signal.aborted) return cancelledTurn();
  const stored = req.reset ? undefined : await readThreadId(req.workspace);
  let a = await attempt(driver, req, o, stored, stored);
  if (stored && a.end?.type === "failed" && a.end.cause.type === "stale_thread") {
    o.log.warn("codex no longer knows the stored thread; starting a new one", {
      workspace: req.workspace,
      thread_id: stored,
    });
    a = await attempt(driver, req, o, undefined, stored);
  }
  const thread_id = a.thread?.id ?? stored ?? null;
  // Said whenever a thread got the earlier messages, however the turn ended.
  const fields = { thread_id, replayed_messages: a.thread ? a.replayed : 0 };
  const end = a.end ?? {
    type: "failed",
    cause: { type: "failure", failure: new TurnFailure("internal", "the turn ended unreported") },
  };
  if (end.type === "completed") {
    let usage: Usage | null = null;
    if (a.totals && a.thread) {
      // Per turn, validated, never a wrong number (./turn_usage.ts).
      usage = await settleUsage({
        workspace: req.workspace,
        threadId: a.thread.id,
        totals: a.totals,
        fresh: a.thread.fresh,
        log: o.log,
      });
      if (usage) req.emit({ type: "usage", ...usage });
    }
    return {
      stop_reason: "end_turn",
      thread_id,
      usage,
      ...replayedField(fields.replayed_messages),
    };
  }
  if (a.totals && thread_id) await keepBaseline(req.workspace, thread_id, a.totals);
  if (end.cause.type === "cancelled") return cancelledTurn(fields);
  return failTurn(req, failureOf(end.cause), fields);
}

/** One run of the driver on `threadId` (undefined: a new thread). */
async function attempt(
  driver: Driver,
  req: TurnRequest,
  o: RunnerOptions,
  threadId: string | undefined,
  stored: string | undefined,
): Promise<Attempt> {
  // A new thread gets the host's earlier messages (./history.ts).
  const replay = turnText(req, {
    newThread: threadId === undefined,
    enabled: o.config.replay_history,
    log: o.log,
  });
  const a: Attempt = { replayed: replay.replayed };
  for await (const h of driver.run({ req, threadId, text: replay.text })) {
    if (a.end) continue; // nothing counts after the end
    switch (h.type) {
      case "text_delta":
      case "reasoning_delta":
      case "activity":
        req.emit(h);
        break;
      case "thread":
        a.thread = { id: h.id, fresh: h.fresh };
        if (h.id !== stored) await saveThreadId(req.workspace, h.id, o.log);
        break;
      case "totals":
        a.totals = h.totals;
        break;
      default:
        a.end = h;
    }
  }
  return a;
}

/** The turn's one error for a failed run. */
function failureOf(cause: Exclude<FailureCause, { type: "cancelled" }>): TurnFailure {
  switch (cause.type) {
    case "failure":
      return cause.failure;
    case "stale_thread":
      return new TurnFailure("codex_exit", cause.message);
    case "codex": {
      const limit = rateLimitOf(cause.message, new Date(), cause.errorInfo);
      if (limit) return new TurnFailure("rate_limited", cause.message, limit.retry_after_s);
      return new TurnFailure("turn_failed", cause.message);
    }
  }
}
