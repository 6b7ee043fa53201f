/**
 * Runs turns on a {@linkcode Backend}: turns for one workspace one at a time
 * in arrival order (they share a Codex thread), holding the workspace's lock
 * file while they run; turns for different workspaces in parallel. A queued
 * turn that is cancelled never runs. Knows turn ids, not JSON-RPC ids.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * import { createLogger } from "../log.ts";
 * const scheduler = new Scheduler({
 *   backend: { runTurn: () => Promise.reject(new Error("no codex")), close: async () => {} },
 *   log: createLogger(),
 *   emit: (turnId, ev) => console.log(turnId, ev),
 * });
 * const spec = { id: "t1", workspace: "/tmp", prompt: "hi", model: "codex", reset: false };
 * const result = await scheduler.submit(spec); // { stop_reason: "error", ... }
 * ```
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Backend, PlexumEvent, TurnRequest, TurnResult } from "./backend.ts";
import { lockWorkspace } from "./lock.ts";
import { cancelledTurn, failTurn, TurnFailure } from "./outcome.ts";

/** A turn as the scheduler gets it: the request without signal and emit. */
export interface TurnSpec extends Omit<TurnRequest, "signal" | "emit"> {
  /** Unique among turns in flight. */
  id: string;
}

/** Inputs of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  backend: Backend;
  log: Logger;
  /** An event of a turn that has not been answered yet. */
  emit(turnId: string, ev: PlexumEvent): void;
}

interface Turn {
  controller: AbortController;
  started: boolean;
  finished: boolean;
  done: Promise<TurnResult>;
  finish(r: TurnResult): void;
}

/** Queues and runs turns; see the module doc. */
export class Scheduler {
  #o: SchedulerOptions;
  #turns = new Map<string, Turn>();
  #queues = new Map<string, Promise<unknown>>();

  constructor(o: SchedulerOptions) {
    this.#o = o;
  }

  /** Number of turns not yet finished (queued or running). */
  get size(): number {
    return this.#turns.size;
  }

  /** True while turn `id` is queued or running. */
  has(id: string): boolean {
    return this.#turns.has(id);
  }

  /** Queue a turn; resolves with its result once it has finished. */
  submit(spec: TurnSpec): Promise<TurnResult> {
    let resolve!: (r: TurnResult) => void;
    const turn: Turn = {
      controller: new AbortController(),
      started: false,
      finished: false,
      done: new Promise((r) => (resolve = r)),
      finish: (r) => {
        if (turn.finished) return;
        turn.finished = true;
        this.#turns.delete(spec.id);
        resolve(r);
      },
    };
    this.#turns.set(spec.id, turn);
    const key = queueKey(spec.workspace);
    const run = (this.#queues.get(key) ?? Promise.resolve()).then(() => this.#run(turn, spec));
    this.#queues.set(key, run);
    run.then(() => {
      if (this.#queues.get(key) === run) this.#queues.delete(key);
    });
    return turn.done;
  }

  /** Cancel turn `id`; false when no such turn is in flight. */
  cancel(id: string): boolean {
    const turn = this.#turns.get(id);
    if (!turn) return false;
    turn.controller.abort(new Error("cancelled"));
    // Not running yet (queued behind another turn): finish now, never run it.
    if (!turn.started) turn.finish(cancelledTurn());
    return true;
  }

  /** Cancel every turn and wait until each has finished. */
  async drain(): Promise<void> {
    const turns = [...this.#turns.entries()];
    for (const [id] of turns) this.cancel(id);
    await Promise.all(turns.map(([, t]) => t.done));
  }

  async #run(turn: Turn, spec: TurnSpec) {
    if (turn.finished) return;
    turn.started = true;
    const { id, ...t } = spec;
    const signal = turn.controller.signal;
    const log = this.#o.log;
    const started = performance.now();
    const emit = (ev: PlexumEvent) => {
      if (!turn.finished) this.#o.emit(id, ev);
    };
    let r: TurnResult;
    let lock;
    try {
      lock = await lockWorkspace(t.workspace, signal);
      r = await this.#o.backend.runTurn({ ...t, signal, emit });
    } catch (e) {
      if (signal.aborted) r = cancelledTurn();
      else {
        log.error("turn failed inside the plugin", { turn_id: id, error: String(e) });
        const why = `plugin error: ${(e as Error).message}`;
        r = failTurn({ emit }, new TurnFailure("internal", why));
      }
    } finally {
      lock?.release();
    }
    log.info("turn", {
      turn_id: id,
      workspace: t.workspace,
      model: t.model,
      thread_id: r.thread_id,
      duration_ms: Math.round(performance.now() - started),
      ...(r.usage && { // token counts, when the turn completed
        input_tokens: r.usage.input_tokens,
        cached_input_tokens: r.usage.cached_input_tokens,
        output_tokens: r.usage.output_tokens,
        reasoning_tokens: r.usage.reasoning_tokens,
      }),
      ...(r.replayed_messages && { replayed_messages: r.replayed_messages }), // history replay
      outcome: r.stop_reason,
    });
    turn.finish(r);
  }
}

/** One queue per directory, however it is spelled. */
function queueKey(workspace: string): string {
  try {
    return Deno.realPathSync(workspace);
  } catch {
    return workspace;
  }
}
