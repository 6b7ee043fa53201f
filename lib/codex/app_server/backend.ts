/**
 * The streaming backend: one warm `codex app-server` per plugin serves every
 * workspace's turns, each on its own thread, many at once.
 *
 * Its life: started by the first turn that needs it (turns arriving while it
 * starts share the start); stopped after `app_server_idle_s` without a turn
 * in flight, which also releases the threads it holds (codex ≥ 0.169 lets one
 * process write a thread, and only its exit releases it), and started again
 * by the next turn. When it exits or is killed mid-turn, each turn in flight
 * gets one `codex_exit` error and the next turn starts a new process that
 * resumes the same threads. When it stops answering (a request unanswered, an
 * interrupt not confirmed) it is killed and replaced the same way; a new one
 * is started only once the old one is gone, since it would hold the threads.
 *
 * A thread another process wrote while this one held it loaded (codex
 * 0.135.0 has no writer lock; thread.ts and rollout.ts tell) is stale in
 * this process, and nothing but a new process reloads it. So the turn that
 * finds it retires the process, logged at warn with the cause: no new turn
 * goes to it, and it is stopped once its own turns in flight (other
 * workspaces') have ended. The turn runs on a new process, which resumes the
 * thread from its file, both histories in it. Where Codex locks threads
 * (0.169.0 and later, or a version it did not say) the new process waits for
 * the old one's exit, as it holds its threads until then; there the check
 * cannot fire while we hold the thread, since the other writer is refused.
 *
 * @example
 * ```ts
 * import { AppServerBackend } from "./backend.ts";
 * import { DEFAULTS } from "../../config.ts";
 * import { createLogger } from "../../log.ts";
 * const backend = new AppServerBackend({ config: { ...DEFAULTS }, log: createLogger() });
 * await backend.close();
 * ```
 *
 * @module
 */
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { err, ok, type Result } from "../../result.ts";
import type { Backend, TurnRequest, TurnResult } from "../../turns/backend.ts";
import { compareVersions } from "../version.ts";
import { launch, planLaunch, type Unavailable } from "./launch.ts";
import type { Connection } from "./calls.ts";
import { staleLoaded } from "./thread.ts";
import { runAppServerTurn } from "./turn.ts";

/** How long a cancelled turn waits for Codex to confirm (its answer must leave within 2 s). */
export const INTERRUPT_GRACE_MS = 1500;
/** How long without a turn in flight before what turns left running is reaped. */
export const REAP_AFTER_MS = 1000;
/** Unexpected exits within {@linkcode CRASH_WINDOW_MS} that make a crash loop. */
export const CRASH_LOOP_EXITS = 3;
/** See {@linkcode CRASH_LOOP_EXITS}. */
export const CRASH_WINDOW_MS = 60_000;

/** Inputs of {@linkcode AppServerBackend}. */
export interface AppServerBackendOptions {
  config: Config;
  log: Logger;
  /** The plugin's version, sent as `clientInfo.version`. */
  clientVersion?: string;
  /**
   * Timeout of requests to the app-server: `initialize` and the like get
   * client.ts REQUEST_TIMEOUT_MS by default, a turn's requests (`thread/start`
   * may wait on a login shell that snapshots the environment) `idle_timeout_s`.
   */
  requestTimeoutMs?: number;
  initializeTimeoutMs?: number;
  /** Default {@linkcode INTERRUPT_GRACE_MS}. */
  interruptGraceMs?: number;
}

export type { Unavailable };

/** Runs turns on one shared `codex app-server`; see the module doc. */
export class AppServerBackend implements Backend {
  #o: AppServerBackendOptions;
  #current: Managed | undefined;
  #starting: Promise<Result<Managed, Unavailable>> | undefined;
  /** The exit of a process being replaced: the next one waits for it. */
  #dying: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  /** Stops of retired processes still ending (close waits for them). */
  #ending = new Set<Promise<unknown>>();
  /** The last scan for leftovers (close waits for it). */
  #reaping: Promise<void> = Promise.resolve();
  #reapTimer: ReturnType<typeof setTimeout> | undefined;
  /** The binary last logged as used (logged once, as exec mode does). */
  #loggedBinary: string | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #crashes: number[] = [];
  #closed = false;
  /** Aborted by close(): ends a process still starting. */
  #closing = new AbortController();

  constructor(o: AppServerBackendOptions) {
    this.#o = o;
  }

  /** The running app-server's pid, if one runs (tests, doctor). */
  get pid(): number | undefined {
    return this.#current?.conn.proc.pid;
  }

  /** True after {@linkcode CRASH_LOOP_EXITS} unexpected exits within {@linkcode CRASH_WINDOW_MS}. */
  get crashLooping(): boolean {
    const since = performance.now() - CRASH_WINDOW_MS;
    this.#crashes = this.#crashes.filter((t) => t >= since);
    return this.#crashes.length >= CRASH_LOOP_EXITS;
  }

  /** Forget past crashes (a fallback that will retry later starts afresh). */
  forgetCrashes(): void {
    this.#crashes = [];
  }

  /** The running app-server, started (and initialized) if none runs. */
  async start(): Promise<Result<Connection, Unavailable>> {
    const m = await this.#acquire();
    return m.ok ? ok(m.value.conn) : m;
  }

  #acquire(): Promise<Result<Managed, Unavailable>> {
    const m = this.#current;
    if (m && !m.conn.proc.exited) return Promise.resolve(ok(m));
    return this.#starting ??= this.#start().finally(() => (this.#starting = undefined));
  }

  async #start(): Promise<Result<Managed, Unavailable>> {
    const { config, log } = this.#o;
    if (this.#closed) {
      return err({ spawnFailed: false, notFound: false, message: "the plugin is stopping" });
    }
    const plan = planLaunch(config);
    if (!plan.ok) return plan;
    if (this.#loggedBinary !== plan.value.binary) {
      log.info("using codex binary", { path: plan.value.binary, found_via: plan.value.via });
      this.#loggedBinary = plan.value.binary;
    }
    await this.#dying;
    const started = await launch(plan.value, {
      log,
      clientVersion: this.#o.clientVersion ?? "0",
      requestTimeoutMs: this.#o.requestTimeoutMs,
      initializeTimeoutMs: this.#o.initializeTimeoutMs,
      signal: this.#closing.signal,
    });
    if (!started.ok) return started;
    const proc = started.value;
    if (this.#closed) {
      await proc.stop();
      return err({ spawnFailed: false, notFound: false, message: "the plugin is stopping" });
    }
    const m: Managed = { conn: { proc, loaded: new Map() }, intended: false, turns: 0 };
    this.#current = m;
    proc.exit.then(() => {
      if (this.#current !== m) return;
      this.#current = undefined;
      if (!m.intended) this.#crashes.push(performance.now());
    });
    return ok(m);
  }

  /** End `m` (asked for by this backend, so not a crash); the next start waits for it. */
  #retire(m: Managed, how: "stop" | "kill"): Promise<void> {
    m.intended = true;
    if (this.#current === m) this.#current = undefined;
    const done = how === "kill" ? m.conn.proc.kill() : m.conn.proc.stop();
    this.#dying = Promise.all([this.#dying, done.catch(() => {})]); // a retired one may still end
    return done.then(() => {});
  }

  /**
   * Retire `m` because a thread it holds is stale (module doc): no new turns,
   * stopped once its turns in flight have ended.
   */
  #retireStale(m: Managed) {
    m.intended = true;
    if (this.#current === m) this.#current = undefined;
    const drained = new Promise<void>((r) => (m.onDrained = r));
    if (m.turns === 0) m.onDrained!();
    const done = drained.then(() => m.conn.proc.stop()).catch(() => {});
    this.#ending.add(done);
    done.finally(() => this.#ending.delete(done));
    // Codex with writer locks: the old process holds its threads until it exits.
    const version = m.conn.proc.version;
    if (!version || compareVersions(version, "0.169.0") >= 0) {
      this.#dying = Promise.all([this.#dying, done]);
    }
  }

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    this.#inFlight++;
    clearTimeout(this.#idle);
    clearTimeout(this.#reapTimer);
    try {
      const m = await this.#processFor(req);
      if (!("conn" in m)) return m;
      const conn = m.conn;
      try {
        return await runAppServerTurn({
          conn,
          config: this.#o.config,
          log: this.#o.log,
          graceMs: this.#o.interruptGraceMs ?? INTERRUPT_GRACE_MS,
          requestTimeoutMs: this.#o.requestTimeoutMs ?? this.#o.config.idle_timeout_s * 1000,
          wedged: (why) => {
            this.#o.log.warn("codex app-server stopped answering; restarting it", {
              pid: conn.proc.pid,
              why,
            });
            if (this.#current === m) this.#retire(m, "kill");
            else if (m.onDrained) m.conn.proc.kill().catch(() => {}); // retired, still serving
          },
        }, req);
      } finally {
        this.#turnEnded(m);
      }
    } finally {
      if (--this.#inFlight === 0) {
        this.#armIdle();
        // Not between back-to-back turns: a scan costs two `ps` runs.
        this.#reapTimer = setTimeout(() => this.#reap(), REAP_AFTER_MS);
      }
    }
  }

  /**
   * The process `req` runs on, counted as serving it (until {@linkcode #turnEnded}):
   * the running one, unless it holds the workspace's thread stale (module doc);
   * or the turn's result when none could be had.
   */
  async #processFor(req: TurnRequest): Promise<Managed | TurnResult> {
    for (;;) {
      // A start takes a few hundred ms (up to the initialize timeout): a cancel answers at once.
      const c = await whileNotAborted(this.#acquire(), req.signal);
      if (c === undefined) return { stop_reason: "cancelled", thread_id: null, usage: null };
      if (!c.ok) {
        req.emit({
          type: "error",
          code: c.error.notFound ? "codex_not_found" : "codex_exit",
          message: c.error.message,
        });
        return { stop_reason: "error", thread_id: null, usage: null };
      }
      const m = c.value;
      m.turns++; // from here on, a retirement waits for this turn
      if (m.onDrained) { // retired meanwhile by another workspace's turn: take the next one
        this.#turnEnded(m);
        continue;
      }
      const stale = await staleLoaded(m.conn, req);
      if (!stale) return m;
      this.#o.log.warn(
        "another process wrote the workspace's thread since the codex app-server last ran a " +
          "turn on it; the turn runs on a new app-server that loads it again",
        {
          workspace: req.workspace,
          thread_id: stale.threadId,
          why: stale.why,
          pid: m.conn.proc.pid,
        },
      );
      if (!m.onDrained) this.#retireStale(m);
      this.#turnEnded(m);
    }
  }

  /** One turn less on `m`; a retired one is stopped after its last. */
  #turnEnded(m: Managed) {
    if (--m.turns === 0) m.onDrained?.();
  }

  /** With no turn in flight, end what the app-server's turns left running (process.ts). */
  #reap() {
    const m = this.#current;
    if (!m) return;
    this.#reaping = this.#reaping.then(async () => {
      const n = await m.conn.proc.reapLeftovers(() => this.#inFlight === 0);
      if (n > 0) {
        this.#o.log.info("ended processes codex left running after its turns", {
          pid: m.conn.proc.pid,
          count: n,
        });
      }
    }).catch(() => {});
  }

  #armIdle() {
    clearTimeout(this.#idle);
    const m = this.#current;
    if (this.#closed || !m) return;
    this.#idle = setTimeout(() => {
      if (this.#inFlight > 0 || this.#current !== m) return;
      this.#o.log.info("stopping the idle codex app-server", {
        pid: m.conn.proc.pid,
        idle_s: this.#o.config.app_server_idle_s,
      });
      this.#retire(m, "stop");
    }, this.#o.config.app_server_idle_s * 1000);
  }

  /** Stop the running app-server, if any; the next turn starts a new one. */
  async release(): Promise<void> {
    if (this.#current) await this.#retire(this.#current, "stop");
    await this.#dying;
  }

  /** Stop the app-server (and what it started). Turns have ended by then. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    clearTimeout(this.#reapTimer);
    this.#closing.abort();
    await this.#starting;
    await this.#reaping;
    if (this.#current) await this.#retire(this.#current, "stop");
    await Promise.all(this.#ending);
    await this.#dying;
  }
}

/** A process this backend started, and whether its end was asked for. */
interface Managed {
  conn: Connection;
  intended: boolean;
  /** Turns running on it. */
  turns: number;
  /** Set once it is retired for a stale thread: called when its last turn has ended. */
  onDrained?: () => void;
}

/** `p`, or undefined as soon as `signal` aborts (`p` goes on for whoever else waits on it). */
export async function whileNotAborted<T>(
  p: Promise<T>,
  signal: AbortSignal,
): Promise<T | undefined> {
  if (signal.aborted) return undefined;
  let onAbort!: () => void;
  const aborted = new Promise<undefined>((r) => {
    onAbort = () => r(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
