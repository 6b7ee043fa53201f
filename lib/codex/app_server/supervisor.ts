/**
 * The life of the one warm `codex app-server`, apart from the turns that run
 * on it (backend.ts): a turn asks for a {@linkcode Lease}, runs, releases it.
 *
 * - **Start**: by the first turn that needs it, shared with the turns
 *   arriving meanwhile, as launch.ts says (the same for doctor).
 * - **Idle stop** after `app_server_idle_s` without a turn in flight, which
 *   also releases its threads (codex ≥ 0.169: one writer per thread, released
 *   at its exit); **reap** what its turns left running after
 *   {@linkcode REAP_AFTER_MS}.
 * - **Crash**: the next turn starts a new process; exits are remembered for
 *   `auto`'s crash-loop rule. **Wedged**: killed and replaced; the new one
 *   starts once the old one is gone (it holds threads).
 * - **Retire**: a thread another process wrote while this one held it loaded
 *   is stale in it (thread.ts), and only a new process reloads it: the
 *   process takes no new turns and is stopped once its turns in flight end.
 * - **Shutdown** ({@linkcode AppServerSupervisor.close}) leaves nothing running.
 *
 * Time comes from a {@linkcode Clock}, so tests move it instead of waiting.
 *
 * @example
 * ```ts
 * import { AppServerSupervisor } from "./supervisor.ts";
 * import { DEFAULTS } from "../../config.ts";
 * import { createLogger } from "../../log.ts";
 * const sup = new AppServerSupervisor({ config: { ...DEFAULTS }, log: createLogger() });
 * const lease = await sup.acquire(new AbortController().signal);
 * if (lease?.ok) lease.value.release();
 * await sup.close();
 * ```
 *
 * @module
 */
import { type Clock, realClock } from "../../async.ts";
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { err, ok, type Result } from "../../result.ts";
import {
  CRASH_LOOP_EXITS,
  FailureMemory,
  type Health,
  type Readiness,
  SharedStart,
} from "./launch.ts";
import { launch, planLaunch, type Unavailable } from "./launch.ts";
import { compareVersions } from "../launch_env.ts";
import type { Connection, Lease } from "./calls.ts";

/** How long without a turn in flight before what turns left running is reaped. */
export const REAP_AFTER_MS = 1000;

/** Inputs of {@linkcode AppServerSupervisor}; `clientVersion` goes to `initialize`. */
export interface SupervisorOptions {
  config: Config;
  log: Logger;
  clientVersion?: string;
  requestTimeoutMs?: number;
  initializeTimeoutMs?: number;
  /** Where time comes from (tests: dev/fake_clock.ts). */
  clock?: Clock;
}

/** One process as the supervisor holds it; `intended`: its end was asked for (not a crash). */
interface Managed {
  conn: Connection;
  intended?: boolean;
  retired?: boolean; // no new turns; stopped once the `turns` in flight on it drain
  turns: number;
  drained?: () => void;
}

const STOPPING: Unavailable = {
  spawnFailed: false,
  notFound: false,
  message: "the plugin is stopping",
};

/** Starts, shares, retires and stops the app-server; see the module doc. */
export class AppServerSupervisor implements Health {
  #clock: Clock;
  #memory: FailureMemory;
  #start = new SharedStart((signal) => this.#launch(signal));
  #current: Managed | undefined;
  /** The exit of processes being replaced: the next start waits for it. */
  #dying: Promise<unknown> = Promise.resolve();
  /** What close waits for: retired processes still ending, the last scan for leftovers. */
  #ending = new Set<Promise<unknown>>();
  #reaping: Promise<void> = Promise.resolve();
  /** Turns between acquire and release. */
  #inFlight = 0;
  /** The idle-stop and reap timers, armed while no turn is in flight. */
  #timers: unknown[] = [];
  /** The binary last logged as used (logged once, as exec mode does). */
  #loggedBinary: string | undefined;
  /** Aborted by close(): ends a process still starting. */
  #closing = new AbortController();

  constructor(private o: SupervisorOptions) {
    this.#clock = o.clock ?? realClock;
    this.#memory = new FailureMemory(this.#clock);
  }

  /** The running app-server's pid, if one runs (tests, doctor). */
  get pid(): number | undefined {
    return this.#current?.conn.proc.pid;
  }

  /**
   * A lease on the running process, started if none runs; undefined once
   * `signal` aborts (a start takes up to `initialize`'s timeout).
   */
  async acquire(signal: AbortSignal): Promise<Result<Lease, Unavailable> | undefined> {
    this.#inFlight++;
    this.#clearTimers();
    for (;;) {
      const r = await this.#running(signal);
      if (r === undefined || !r.ok) {
        this.#turnOver();
        return r;
      }
      const m = r.value;
      if (m.retired) continue; // retired meanwhile by another workspace's turn: the next one
      m.turns++; // from here on, a retirement waits for this turn
      return ok(this.#lease(m));
    }
  }

  async ready(signal: AbortSignal): Promise<Readiness> {
    if (this.#memory.crashLooping) {
      const why = `codex app-server keeps exiting (${CRASH_LOOP_EXITS} times within a minute)`;
      return { state: "unusable", why, notFound: false };
    }
    const r = await this.#running(signal);
    if (r === undefined) return { state: "cancelled" };
    if (!r.ok) return { state: "unusable", why: r.error.message, notFound: r.error.notFound };
    return { state: "ready" };
  }

  async standDown(): Promise<void> {
    this.#memory.forget();
    await this.stop();
  }

  /** Stop the running app-server, if any; the next turn starts a new one. */
  async stop(): Promise<void> {
    if (this.#current) await this.#retire(this.#current, "stop");
    await this.#dying;
  }

  /** Stop the app-server and what it started; turns have ended by then. */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#clearTimers();
    await this.#start.run?.promise;
    await this.#reaping;
    if (this.#current) await this.#retire(this.#current, "stop");
    await Promise.all(this.#ending);
    await this.#dying;
  }

  /** The running process, or the outcome of a start (undefined: `signal` aborted). */
  async #running(signal: AbortSignal): Promise<Result<Managed, Unavailable> | undefined> {
    if (signal.aborted) return undefined;
    const m = this.#current;
    if (m && !m.conn.proc.exited) return ok(m);
    const failed = this.#memory.failedStart;
    return failed ? err(failed) : await this.#start.join(signal);
  }

  async #launch(signal: AbortSignal): Promise<Result<Managed, Unavailable>> {
    const { config, log } = this.o;
    if (this.#closing.signal.aborted) return err(STOPPING);
    const plan = planLaunch(config);
    if (!plan.ok) return plan;
    if (this.#loggedBinary !== plan.value.binary) {
      log.info("using codex binary", { path: plan.value.binary, found_via: plan.value.via });
      this.#loggedBinary = plan.value.binary;
    }
    await this.#dying;
    const abort = AbortSignal.any([signal, this.#closing.signal]);
    if (abort.aborted) return err(STOPPING);
    const clientVersion = this.o.clientVersion ?? "0";
    const started = await launch(plan.value, { ...this.o, clientVersion, signal: abort });
    if (!started.ok) {
      if (!abort.aborted) this.#memory.startFailed(started.error);
      return started;
    }
    const proc = started.value;
    if (this.#closing.signal.aborted) {
      await proc.stop();
      return err(STOPPING);
    }
    const m: Managed = { conn: { proc, loaded: new Map() }, turns: 0 };
    this.#current = m;
    proc.exit.then(() => {
      if (this.#current !== m) return;
      this.#current = undefined;
      if (!m.intended) this.#memory.crashed();
    });
    return ok(m);
  }

  #lease(m: Managed): Lease {
    let released = false;
    return {
      conn: m.conn,
      wedged: (why) => this.#wedged(m, why),
      retire: () => this.#retireStale(m),
      release: () => {
        if (released) return;
        released = true;
        if (--m.turns === 0) m.drained?.();
        this.#turnOver();
      },
    };
  }

  /** A turn left: with none in flight, arm the idle stop and the reap. */
  #turnOver() {
    if (--this.#inFlight > 0 || this.#closing.signal.aborted) return;
    const m = this.#current;
    if (!m) return;
    const idleMs = this.o.config.app_server_idle_s * 1000;
    this.#timers = [
      this.#clock.setTimeout(() => this.#stopIdle(m), idleMs),
      // Not between back-to-back turns: a scan costs two `ps` runs.
      this.#clock.setTimeout(() => this.#reap(m), REAP_AFTER_MS),
    ];
  }

  #clearTimers() {
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers = [];
  }

  #stopIdle(m: Managed) {
    if (this.#inFlight > 0 || this.#current !== m) return;
    const idle_s = this.o.config.app_server_idle_s;
    this.o.log.info("stopping the idle codex app-server", { pid: m.conn.proc.pid, idle_s });
    this.#retire(m, "stop");
  }

  /** With no turn in flight, end what the app-server's turns left running (process.ts). */
  #reap(m: Managed) {
    if (this.#current !== m) return;
    this.#reaping = this.#reaping.then(async () => {
      const n = await m.conn.proc.reapLeftovers(() => this.#inFlight === 0);
      const msg = "ended processes codex left running after its turns";
      if (n > 0) this.o.log.info(msg, { pid: m.conn.proc.pid, count: n });
    }).catch(() => {});
  }

  #wedged(m: Managed, why: string) {
    const pid = m.conn.proc.pid;
    this.o.log.warn("codex app-server stopped answering; restarting it", { pid, why });
    if (this.#current === m) this.#retire(m, "kill");
    else if (m.retired) this.#end(m, "kill").catch(() => {}); // retired, still serving
  }

  /** End `m` (asked for, so not a crash); the next start waits for it. */
  #retire(m: Managed, how: "stop" | "kill"): Promise<void> {
    if (this.#current === m) this.#current = undefined;
    const done = this.#end(m, how);
    this.#dying = Promise.all([this.#dying, done.catch(() => {})]); // a retired one may still end
    return done.then(() => {});
  }

  #end(m: Managed, how: "stop" | "kill"): Promise<unknown> {
    m.intended = true;
    return how === "kill" ? m.conn.proc.kill() : m.conn.proc.stop();
  }

  /** Retire `m` for a stale thread (module doc): stopped once its leases are released. */
  #retireStale(m: Managed) {
    if (m.retired) return;
    if (this.#current === m) this.#current = undefined;
    m.intended = m.retired = true;
    const done = new Promise<void>((r) => (m.drained = r)).then(() => m.conn.proc.stop())
      .then(() => {}, () => {});
    if (m.turns === 0) m.drained!();
    this.#ending.add(done);
    done.finally(() => this.#ending.delete(done));
    // Codex with writer locks (0.169.0+, or a version it did not say) holds its threads until exit.
    const version = m.conn.proc.version;
    if (!version || compareVersions(version, "0.169.0") >= 0) {
      this.#dying = Promise.all([this.#dying, done]);
    }
  }
}
