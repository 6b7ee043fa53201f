/**
 * One app-server turn, as a driver for the turn runner (../turn_runner.ts,
 * which does what both backends share): the thread opened (thread.ts), the
 * text and images sent with `turn/start`, the notifications mapped
 * (notifications.ts) until `turn/completed`. Else a turn ends by a cancel
 * (`turn/interrupt`; `cancelled` once Codex confirms, or after the grace
 * period, when the process is also reported wedged), by `idle_timeout_s`
 * without a notification (the same interrupt, a `timeout` error), by the
 * app-server's exit or by a failed request (calls.ts). Nothing is streamed
 * after a cancel. While it streams, the turn can be steered (`turn/steer`
 * with its Codex turn id; the scheduler's `steer`); the message Codex then
 * abandons is retracted.
 *
 * @example
 * ```ts ignore
 * import { runAppServerTurn } from "./driver.ts";
 * const result = await runAppServerTurn(ctx, req); // ctx: a lease's TurnContext (calls.ts)
 * ```
 *
 * @module
 */
import { IdleTimer, within } from "../../async.ts";
import type { TurnRequest, TurnResult } from "../../turns/backend.ts";
import { appServerRetryNotice, idleTimeoutMessage, RetryWatch } from "../codex_errors.ts";
import { turnSandbox } from "../sandbox.ts";
import { Channel, type DriverTurn, type Happening, modelArg, runTurn } from "../turn_runner.ts";
import { CANCELLED, deadlineOf, failed, request, TurnCalls, type TurnContext } from "./calls.ts";
import { RpcError } from "./client.ts";
import { turnEffort } from "./effort.ts";
import { AppServerTurnMapper } from "./notifications.ts";
import { markThread, noteTurn, openThread, resumeThread } from "./thread.ts";
import type { UserInput } from "./wire.ts";

/** How long a cancelled turn waits for Codex to confirm (its answer must leave within 2 s). */
export const INTERRUPT_GRACE_MS = 1500;

type Json = Record<string, unknown>;

/** Run one turn; see the module doc. */
export function runAppServerTurn(ctx: TurnContext, req: TurnRequest): Promise<TurnResult> {
  return runTurn({ run: (turn) => drive(ctx, turn) }, req, ctx);
}

/** The turn a notification belongs to, if it names one. */
function turnOf(params: Json): string | undefined {
  if (typeof params.turnId === "string") return params.turnId;
  const turn = params.turn as Json | undefined;
  return typeof turn?.id === "string" ? turn.id : undefined;
}

/** The text and images of `turn/start` (the images as data URLs of the host's own base64). */
function inputOf(text: string, images: TurnRequest["images"]): UserInput[] {
  const input: UserInput[] = [{ type: "text", text, text_elements: [] }];
  for (const img of images ?? []) {
    input.push({ type: "image", url: `data:${img.mime_type};base64,${img.base64}` });
  }
  return input;
}

/** One turn on the app-server of `ctx`, as the turn runner's driver; see the module doc. */
async function* drive(ctx: TurnContext, turn: DriverTurn): AsyncGenerator<Happening> {
  const calls = new TurnCalls(ctx, turn.req.signal);
  const opened = await openThread(ctx, calls, turn.req, turn.threadId);
  if ("type" in opened) return yield opened;
  const { threadId, reused } = opened;
  yield { type: "thread", id: threadId, fresh: opened.fresh };
  const { conn, log } = ctx;
  const { req } = turn;
  const mapper = new AppServerTurnMapper({
    emitActivity: ctx.config.emit_activity,
    emitReasoning: ctx.config.emit_reasoning,
    onNote: (msg, data) => log.debug(msg, { data }),
  });
  const out = new Channel<Happening>();
  // The first reason the turn stops streaming; the channel closes with it.
  let how: "done" | "closed" | "cancel" | "idle" | undefined;
  let settle!: () => void;
  const ended = new Promise<void>((r) => (settle = r)); // turn/completed or the connection's end
  const finish = (why: NonNullable<typeof how>) => {
    how ??= why;
    out.close();
    if (why === "done" || why === "closed") settle();
  };
  let turnId: string | undefined;
  const early: [string, Json][] = [];
  const deliver = (method: string, params: Json) => {
    const t = turnOf(params);
    if (t !== undefined && t !== turnId) {
      log.debug("notification of another turn of the thread; ignored", { method, turn_id: t });
      return;
    }
    for (const ev of mapper.push(method, params)) {
      if (how === undefined) out.push(ev);
    }
    if (mapper.done) finish("done");
  };
  // The idle timeout: what counts as Codex showing progress is decided here, and only here.
  const idle = new IdleTimer(ctx.config.idle_timeout_s * 1000, ctx.clock);
  const progress = () => idle.touch();
  const retries = new RetryWatch(); // a retry notice is not progress (lib/codex/retry_notice.ts)
  let lastRetry: string | undefined; // as it was when the idle timeout fired
  const unsubscribe = conn.proc.client.subscribe(threadId, {
    onNotification(method, params) {
      if (retries.progress(appServerRetryNotice(method, params))) progress();
      if (method === "error" && params.willRetry === true) {
        const message = (params.error as Json | undefined)?.message;
        log.warn("codex is retrying the model request", { thread_id: threadId, message });
      }
      if (turnId === undefined) early.push([method, params]);
      else deliver(method, params);
    },
    onServerRequest: progress,
    onClose: () => finish("closed"),
  });
  const onAbort = () => finish("cancel");
  try {
    const model = modelArg(ctx.config, req.model);
    const input = inputOf(turn.text, req.images);
    // An effort sticks to the thread: a turn without one restores the default (./effort.ts).
    const effort = await turnEffort(ctx, req, threadId, turn.threadId === undefined);
    // Cancelled before turn/start was answered: the turn that started all the same is stopped.
    const interruptLate = (r: { turn?: { id?: unknown } }) => {
      if (typeof r.turn?.id !== "string") return;
      noteTurn(conn, threadId, r.turn.id); // its lines are written after this turn has ended
      request(conn, "turn/interrupt", { threadId, turnId: r.turn.id }, ctx.graceMs)
        .catch(() => {});
    };
    const startTurn = () =>
      calls.ask(
        "turn/start",
        // The configured sandbox, whatever mode the thread was loaded with (sandbox.ts).
        {
          threadId,
          input,
          ...(model && { model }),
          ...turnSandbox(ctx.config),
          ...effort.params,
          ...(req.outputSchema && { outputSchema: req.outputSchema }), // this turn only
        },
        interruptLate,
      );
    let started;
    try {
      started = await startTurn();
    } catch (e) {
      if (!(reused && e instanceof RpcError && /thread not found/i.test(e.message))) {
        return yield await calls.describe(e, "turn/start", threadId);
      }
      // The app-server let go of the thread since its last turn here: load it again.
      log.info("codex app-server no longer had the thread loaded; resuming it", {
        thread_id: threadId,
      });
      conn.loaded.delete(threadId);
      try {
        if (!await resumeThread(ctx, calls, req, threadId)) return yield CANCELLED;
        started = await startTurn();
      } catch (e2) {
        return yield await calls.describe(e2, "turn/start", threadId);
      }
    }
    if (!started) return yield CANCELLED;
    if (typeof started.turn?.id !== "string") {
      return yield failed("codex_exit", "codex app-server started a turn without an id");
    }
    turnId = started.turn.id;
    effort.started();
    noteTurn(conn, threadId, turnId);
    log.debug("codex turn started", { thread_id: threadId, codex_turn_id: turnId });
    for (const [m, p] of early.splice(0)) deliver(m, p);
    req.steerable?.(async (s) => {
      if (how !== undefined) return undefined;
      const params = { threadId, expectedTurnId: turnId!, input: inputOf(s.prompt, s.images) };
      try {
        await request(conn, "turn/steer", params, deadlineOf(ctx, "turn/steer"));
      } catch (e) {
        if (!(e instanceof RpcError)) throw e;
        log.info("codex did not take the steer (the turn had ended)", { error: e.message });
        return undefined;
      }
      mapper.steered = true;
      return threadId;
    });

    // Stream until the end, a cancel, the idle timeout or the process's exit.
    req.signal.addEventListener("abort", onAbort, { once: true });
    if (req.signal.aborted) onAbort();
    idle.fired.then(() => {
      lastRetry = retries.last; // what the interrupt brings is not why it timed out
      finish("idle");
    });
    yield* out;

    if (how === "cancel" || how === "idle") {
      const idleS = ctx.config.idle_timeout_s;
      if (how === "idle") {
        const data = { thread_id: threadId, turn_id: turnId, idle_timeout_s: idleS };
        log.warn("codex app-server idle timeout: interrupting the turn", data);
      }
      // Ask Codex to stop the turn; wait up to the grace period for `turn/completed`.
      const answered = request(conn, "turn/interrupt", { threadId, turnId }, ctx.graceMs)
        .then(() => true, (e) => e instanceof RpcError); // "no active turn": it had just finished
      if (await within(ended, ctx.graceMs, "late") === "late") {
        ctx.wedged(
          await within(answered, 0, false)
            ? `turn ${turnId} did not end within ${ctx.graceMs} ms of turn/interrupt`
            : `turn/interrupt was not answered within ${ctx.graceMs} ms`,
        );
      }
      if (mapper.totals) yield { type: "totals", totals: mapper.totals };
      if (how === "cancel") return yield CANCELLED;
      const why = idleTimeoutMessage({ idleS, silence: "sent nothing", lastRetry });
      return yield failed("timeout", why);
    }
    if (how === "closed" && !mapper.done) return yield await calls.exited();

    // Completed, failed or interrupted by Codex itself.
    if (mapper.totals) yield { type: "totals", totals: mapper.totals };
    if (mapper.status === "completed") {
      return yield { type: "completed", answer: mapper.answer };
    }
    if (mapper.status === "interrupted") {
      return yield failed("turn_failed", "codex interrupted the turn");
    }
    const message = mapper.failure ?? "the turn failed";
    yield { type: "failed", cause: { type: "codex", message, errorInfo: mapper.errorInfo } };
  } finally {
    req.steerable?.(undefined);
    idle.stop();
    req.signal.removeEventListener("abort", onAbort);
    unsubscribe();
    // However the turn ended, Codex has written it by now (thread.ts): the next turn compares.
    markThread(conn, threadId, req.workspace);
  }
}
