/**
 * Runs turns on a {@linkcode Backend}: turns for one workspace one at a time
 * in arrival order (they share a Codex thread), holding the workspace's lock
 * file so that two plugin processes never run Codex there at once; turns for
 * different workspaces in parallel. A queued turn that is cancelled never
 * runs. A `steer` turn does not queue while its workspace's turn runs and can
 * be steered: its message goes into that turn and it is answered `steered`;
 * otherwise it queues as usual, its result saying why (`steer`). Knows turn
 * ids, not JSON-RPC ids.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * import { createLogger } from "../log.ts";
 * const backend = { runTurn: () => Promise.reject(new Error("no codex")), close: async () => {} };
 * const scheduler = new Scheduler({ backend, log: createLogger(), emit: console.log });
 * await scheduler.submit({ id: "t", workspace: "/w", prompt: "hi", model: "codex", reset: false });
 * ```
 *
 * @module
 */
import { abortable } from "../async.ts";
import type { Logger } from "../log.ts";
import type { Backend, PlexumEvent, Steer, TurnRequest, TurnResult } from "./backend.ts";
import { cancelledTurn, failTurn, TurnFailure } from "./outcome.ts";

/** A turn as the scheduler gets it: the request without signal and emit; `id` unique in flight. */
export interface TurnSpec extends Omit<TurnRequest, "signal" | "emit" | "steerable"> {
  id: string;
  steer?: boolean;
}

/** What a scheduler runs turns on; `emit`: an event of a turn not answered yet. */
export interface SchedulerOptions {
  backend: Backend;
  log: Logger;
  emit(turnId: string, ev: PlexumEvent): void;
  /** The backend's turns can be steered (else a steer turn's result says `unsupported`). */
  steers?: boolean;
}

interface Turn {
  controller: AbortController;
  started: boolean;
  finished: boolean;
  done: Promise<TurnResult>;
  finish(r: TurnResult): void;
  /** While it runs and the backend can steer it. */
  steer?: Steer;
  /** A steer turn that runs as an ordinary one: why. */
  unsteered?: TurnResult["steer"];
}

/** Queues and runs turns; see the module doc. */
export class Scheduler {
  #o: SchedulerOptions;
  #turns = new Map<string, Turn>();
  #queues = new Map<string, Promise<unknown>>();
  /** The running turn of each workspace (key as in `#queues`). */
  #running = new Map<string, { id: string; turn: Turn }>();

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
    let key = spec.workspace; // one queue per directory, however it is spelled
    try {
      key = Deno.realPathSync(key);
    } catch { /* the turn will say what is wrong */ }
    if (spec.steer) this.#steer(turn, spec, key);
    else this.#enqueue(turn, spec, key);
    return turn.done;
  }

  #enqueue(turn: Turn, spec: TurnSpec, key: string) {
    const run = (this.#queues.get(key) ?? Promise.resolve()).then(() => this.#run(turn, spec, key));
    this.#queues.set(key, run);
    run.then(() => {
      if (this.#queues.get(key) === run) this.#queues.delete(key);
    });
  }

  /** Steer the workspace's running turn with `spec`'s message, else queue it (module doc). */
  async #steer(turn: Turn, spec: TurnSpec, key: string) {
    const into = this.#o.steers ? this.#running.get(key) : undefined;
    let thread: string | undefined;
    if (into?.turn.steer) {
      thread = await into.turn.steer(spec).catch((e) => {
        this.#o.log.warn("steering failed; the turn runs on its own", { error: String(e) });
        return undefined;
      });
    }
    if (thread === undefined) {
      turn.unsteered = this.#o.steers ? "not_running" : "unsupported";
      return this.#enqueue(turn, spec, key);
    }
    this.#o.log.info("turn", { turn_id: spec.id, steered_into: into!.id, outcome: "steered" });
    turn.finish({ stop_reason: "steered", steered_into: into!.id, thread_id: thread, usage: null });
  }

  /** Cancel turn `id`; false when no such turn is in flight. */
  cancel(id: string): boolean {
    const turn = this.#turns.get(id);
    if (!turn) return false;
    turn.controller.abort(new Error("cancelled"));
    if (!turn.started) turn.finish(cancelledTurn()); // queued: never run it
    return true;
  }

  /** Cancel every turn and wait until each has finished. */
  async drain(): Promise<void> {
    const turns = [...this.#turns.entries()];
    for (const [id] of turns) this.cancel(id);
    await Promise.all(turns.map(([, t]) => t.done));
  }

  async #run(turn: Turn, spec: TurnSpec, key: string) {
    if (turn.finished) return;
    turn.started = true;
    const { id, steer: _, ...t } = spec;
    const signal = turn.controller.signal;
    const started = performance.now();
    const emit = (ev: PlexumEvent) => {
      if (!turn.finished) this.#o.emit(id, ev);
    };
    let r: TurnResult;
    let lock;
    try {
      lock = await lockWorkspace(t.workspace, signal);
      this.#running.set(key, { id, turn });
      const steerable = (s: Steer | undefined) => (turn.steer = s);
      r = await this.#o.backend.runTurn({ ...t, signal, emit, steerable });
    } catch (e) {
      if (signal.aborted) r = cancelledTurn();
      else {
        this.#o.log.error("turn failed inside the plugin", { turn_id: id, error: String(e) });
        const why = `plugin error: ${(e as Error).message}`;
        r = failTurn({ emit }, new TurnFailure("internal", why));
      }
    } finally {
      turn.steer = undefined;
      if (this.#running.get(key)?.turn === turn) this.#running.delete(key);
      lock?.release();
    }
    const u = r.usage;
    this.#o.log.info("turn", {
      turn_id: id,
      workspace: t.workspace,
      model: t.model,
      thread_id: r.thread_id,
      duration_ms: Math.round(performance.now() - started),
      ...(u && { // token counts, when the turn completed
        input_tokens: u.input_tokens,
        cached_input_tokens: u.cached_input_tokens,
        output_tokens: u.output_tokens,
        reasoning_tokens: u.reasoning_tokens,
      }),
      ...(r.replayed_messages && { replayed_messages: r.replayed_messages }), // history replay
      outcome: r.stop_reason,
    });
    turn.finish(turn.unsteered ? { ...r, steer: turn.unsteered } : r);
  }
}

/**
 * Take the exclusive flock on `<workspace>/.plexum-codex.lock`, waiting for
 * another process to release it; `undefined` when the file cannot be created
 * (a read-only workspace: nothing to protect); rejects with `signal.reason`.
 */
export async function lockWorkspace(
  workspace: string,
  signal?: AbortSignal,
): Promise<{ release(): void } | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${workspace}/.plexum-codex.lock`, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
  } catch {
    return undefined;
  }
  const release = () => {
    try {
      file.close(); // closing drops the flock
    } catch { /* closed */ }
  };
  const locked = file.lock(true).then(() => ({ release }));
  if (!signal) return locked;
  try {
    return await abortable(locked, signal);
  } catch (e) {
    // A lock already asked for must be given back whenever it comes, or an abandoned wait
    // (a turn cancelled at once) would keep the workspace locked for good.
    locked.then(release, release);
    throw e;
  }
}
