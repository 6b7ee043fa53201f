/**
 * One turn, whichever backend runs it. A backend's {@linkcode Driver}
 * (./exec/driver.ts, ./app_server/driver.ts) only talks to Codex and yields
 * {@linkcode Happening}s; what every turn needs is done here once:
 *
 * - the workspace's stored thread is resumed (none with `reset`); one Codex
 *   no longer knows is replaced by a new one within the turn, with a warning;
 * - a new thread gets the earlier messages first (./history.ts), and the
 *   result says `replayed_messages` whenever a thread got them;
 * - a new thread's id is saved as soon as it is known (./session.ts);
 * - streamed events (already in the host's shape) reach the host as they come;
 * - the end: usage from the thread's running totals (./usage.ts), or, for a
 *   turn that did not complete, the totals kept as the next baseline; a
 *   failure becomes exactly one error event (lib/turns/outcome.ts), a usage
 *   or rate limit `rate_limited` with `retry_after_s` (./codex_errors.ts).
 *
 * @example
 * ```ts
 * import { type Driver, runTurn } from "./turn_runner.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const echo: Driver = {
 *   async *run(turn) {
 *     yield { type: "text_delta", text: turn.text };
 *     yield { type: "completed" };
 *   },
 * };
 * const req = { workspace: "/w", prompt: "hi", model: "codex", reset: true, emit: console.log };
 * const options = { config: { ...DEFAULTS }, log: createLogger() };
 * await runTurn(echo, { ...req, signal: new AbortController().signal }, options);
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type {
  ActivityStatus,
  PlexumEvent,
  TurnRequest,
  TurnResult,
  Usage,
} from "../turns/backend.ts";
import { cancelledTurn, failTurn, TurnFailure } from "../turns/outcome.ts";
import { turnText } from "./history.ts";
import { type LimitInfo, rateLimitOf } from "./codex_errors.ts";
import { outputOf } from "./output_schema.ts";
import { readThreadId, saveThreadId } from "./session.ts";
import { settleUsage, type Totals, writeTotals } from "./usage.ts";

/** What reaches the host as it streams, in the host's own shape. */
export type Streamed = Extract<
  PlexumEvent,
  { type: "text_delta" | "text_retracted" | "reasoning_delta" | "activity" }
>;

/**
 * Why a driver's run failed: cancelled; a stored thread Codex no longer
 * knows (replaced); Codex failed the turn (maybe a limit); anything else,
 * already worded as the turn's error.
 */
type FailureCause =
  | { type: "cancelled" }
  | { type: "stale_thread"; message: string }
  | { type: "codex"; message: string; errorInfo?: LimitInfo }
  | { type: "failure"; failure: TurnFailure };

/**
 * One thing that happened in a turn; `failed` or `completed` is the last.
 * `thread`: `fresh` when this run started it; `totals`: the thread's running
 * token totals (the last one counts).
 */
export type Happening =
  | Streamed
  | { type: "thread"; id: string; fresh: boolean }
  | { type: "totals"; totals: Totals }
  | { type: "failed"; cause: FailureCause }
  | { type: "completed"; answer?: string };

/** One run of a driver: resume `threadId` (or start one), send `text` (history + prompt). */
export type DriverTurn = { req: TurnRequest; threadId?: string; text: string };

/** A way of running a turn on Codex, as a stream of happenings. */
export interface Driver {
  run(turn: DriverTurn): AsyncIterable<Happening>;
}

/** A queue from callbacks (a line, a notification) to a driver's async iterable, in order. */
export class Channel<T> implements AsyncIterable<T> {
  #buf: T[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  /** Queue `v` (ignored once closed). */
  push(v: T): void {
    if (this.#closed) return;
    this.#buf.push(v);
    this.#wake?.();
  }

  /** No more values: the iteration ends after those queued. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      while (this.#buf.length) yield this.#buf.shift()!;
      if (this.#closed) return;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }
}

/** An item's status as the contract's: anything not ended is `in_progress`. */
export function activityStatus(v: unknown): ActivityStatus {
  return v === "completed" || v === "failed" || v === "declined" ? v : "in_progress";
}

/** Command output as an activity item carries it, the same on both backends: its last 4096 characters. */
export function commandOutput(out: string): { aggregated_output: string; output_truncated?: true } {
  return out.length > 4096
    ? { aggregated_output: out.slice(-4096), output_truncated: true }
    : { aggregated_output: out };
}

/**
 * The model Codex gets for Plexum model id `model` on both backends:
 * `model_args` first, `codex` is Codex's own default (undefined), anything
 * else is passed as is.
 */
export function modelArg(config: Pick<Config, "model_args">, model: string): string | undefined {
  if (Object.hasOwn(config.model_args, model)) return config.model_args[model];
  return model === "codex" ? undefined : model;
}

/** What {@linkcode runTurn} needs besides the driver and the request. */
type RunnerOptions = { config: Pick<Config, "replay_history">; log: Logger };

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
  let end: NonNullable<Attempt["end"]> = a.end ?? {
    type: "failed",
    cause: { type: "failure", failure: new TurnFailure("internal", "the turn ended unreported") },
  };
  // output_schema: the final answer must be JSON (./output_schema.ts); else the turn fails.
  const output = end.type === "completed" && req.outputSchema ? outputOf(end.answer) : undefined;
  if (output && !output.ok) {
    end = { type: "failed", cause: { type: "failure", failure: output.error } };
  }
  if (end.type === "completed") {
    let usage: Usage | null = null;
    if (a.totals && a.thread) {
      usage = await settleUsage(req.workspace, a.thread.id, a.totals, a.thread.fresh, o.log);
      if (usage) req.emit({ type: "usage", ...usage });
    }
    return {
      stop_reason: "end_turn",
      thread_id,
      usage,
      ...(fields.replayed_messages > 0 && { replayed_messages: fields.replayed_messages }),
      ...(output?.ok && { output: output.value }),
    };
  }
  // Kept as the next baseline, so this turn's tokens are not counted again.
  if (a.totals && thread_id) await writeTotals(req.workspace, thread_id, a.totals).catch(() => {});
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
      case "text_retracted":
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
  if (cause.type === "failure") return cause.failure;
  if (cause.type === "stale_thread") return new TurnFailure("codex_exit", cause.message);
  const limit = rateLimitOf(cause.message, new Date(), cause.errorInfo);
  if (limit) return new TurnFailure("rate_limited", cause.message, limit.retry_after_s);
  return new TurnFailure("turn_failed", cause.message);
}
