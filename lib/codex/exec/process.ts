/**
 * Runs one `codex` process: in its own process group, prompt on stdin (then
 * closed), stdout read as JSONL through {@linkcode LineStream}, a bounded tail
 * of stderr kept for error messages.
 *
 * Cancel (the `signal`) and the idle timeout (no output on stdout or stderr for
 * `idleTimeoutMs`) send SIGTERM to the whole group and SIGKILL after a grace
 * period. When the process ends, whatever is left of its group is killed too.
 * "Group" includes the helpers codex starts in sessions of their own
 * ({@linkcode ProcessTree}). If something still holds the pipes after that,
 * reading stops once they have been quiet for the grace period.
 *
 * After a normal exit, the scan that finds what codex left running (one `ps`
 * of every process: tens of milliseconds on a busy machine, the biggest part
 * of what a turn cost beyond raw `codex exec`) runs off the turn's path: the
 * result is ready once codex has exited and its output is read, and
 * `RunResult.settled` resolves once the leftovers got their SIGTERM (the
 * run's watchdog stays armed until then).
 *
 * @example
 * ```ts
 * import { runCodex } from "./process.ts";
 * import { createLogger } from "../../log.ts";
 * const r = await runCodex({
 *   binary: "codex",
 *   args: ["exec", "--json", "-"],
 *   cwd: "/srv/agent",
 *   stdin: "hello",
 *   idleTimeoutMs: 600_000,
 *   log: createLogger(),
 *   onEvent: (ev) => console.log(ev),
 * });
 * // r.code, r.timedOut, r.cancelled, r.stderrTail
 * await r.settled; // what codex left running has been signalled
 * ```
 *
 * @module
 */
import { type Clock, IdleTimer, realClock } from "../../async.ts";
import { LineStream } from "../../lines.ts";
import type { Logger } from "../../log.ts";
import { ProcessTree, runMarker, startWatchdog } from "../reap.ts";
import { clearRun, endRecordedRuns, recordRun } from "../run_record.ts";
import { execRetryNotice, RetryWatch } from "../retry_notice.ts";

/** How long TERM gets before KILL. */
export const KILL_GRACE_MS = 2000;
/** How long what a stopped codex left running gets after TERM before KILL. */
export const LEFTOVER_GRACE_MS = 500;
const STDERR_TAIL = 8192;

/** Inputs of {@linkcode runCodex}. */
export interface RunOptions {
  binary: string;
  args: string[];
  cwd: string;
  /** Written to stdin, which is then closed. */
  stdin: string;
  idleTimeoutMs: number;
  signal?: AbortSignal;
  log: Logger;
  /** Each valid JSON object printed on stdout. */
  onEvent(ev: Record<string, unknown>): void;
  /** Where the idle timeout's time comes from (tests); the real clock by default. */
  clock?: Clock;
  /** Environment additions (tests); the plugin's own environment is inherited. */
  env?: Record<string, string>;
  /**
   * Record the run in `cwd`, the workspace (lib/codex/run_record.ts), after
   * first ending what a dead plugin's run left there; the caller holds the
   * workspace's lock. Default true.
   */
  record?: boolean;
}

/** How the process ended. */
export interface RunResult {
  /** Exit code; null when killed by a signal or never started. */
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** Last few KiB of stderr. */
  stderrTail: string;
  /** Set when the binary could not be started (not found, not executable). */
  spawnError?: Error;
  /** On a timeout: Codex's last retry notice since its last progress (lib/codex/retry_notice.ts). */
  lastRetry?: string;
  /**
   * Resolves once what codex left running has been signalled and its watchdog
   * released (after a normal exit this outlasts `runCodex`; never rejects).
   */
  settled: Promise<void>;
}

/** Keeps the last `max` characters of a stream of text. */
class Tail {
  #s = "";
  constructor(private max: number) {}
  push(t: string) {
    this.#s = (this.#s + t).slice(-this.max);
  }
  toString() {
    return this.#s;
  }
}

/** True once `work` settles; false if `quiet` fires first. */
async function settlesBeforeQuiet(work: Promise<unknown>, quiet: IdleTimer): Promise<boolean> {
  try {
    return await Promise.race([work.then(() => true), quiet.fired.then(() => false)]);
  } finally {
    quiet.stop();
  }
}

/**
 * Run codex once; resolves when it has exited and its output is read (after a
 * cancel or a timeout: when its group is gone; see `RunResult.settled`).
 */
export async function runCodex(o: RunOptions): Promise<RunResult> {
  const result: RunResult = {
    code: null,
    signal: null,
    timedOut: false,
    cancelled: false,
    stderrTail: "",
    settled: Promise.resolve(),
  };
  const recordIn = o.record === false ? undefined : o.cwd;
  if (recordIn) await endRecordedRuns(recordIn, o.log, KILL_GRACE_MS);
  if (o.signal?.aborted) return { ...result, cancelled: true };
  const mark = runMarker(); // inherited by everything codex starts (lib/reap.ts)
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(o.binary, {
      args: o.args,
      cwd: o.cwd,
      env: { ...o.env, [mark.name]: mark.value },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      detached: true, // setsid: codex and its commands form one group we can end
    }).spawn();
  } catch (e) {
    return { ...result, spawnError: e as Error };
  }
  const pid = child.pid;
  // Ends the run should the plugin die without ending it (lib/codex/reap.ts).
  const watchdog = startWatchdog(pid, mark);
  const record = recordIn
    ? recordRun(recordIn, { pid, marker: mark.marker, plugin_pid: Deno.pid })
    : undefined;
  // The group, plus helpers codex starts in sessions of their own (lib/reap.ts).
  const tree = new ProcessTree(pid, mark.marker);
  const clock = o.clock ?? realClock;
  let killTimer: unknown;
  let signalling: Promise<unknown> = Promise.resolve();
  const stop = () => {
    if (killTimer !== undefined) return;
    killTimer = clock.setTimeout(() => {
      signalling = signalling.then(() => tree.signal("SIGKILL"));
    }, KILL_GRACE_MS);
    signalling = tree.signal("SIGTERM");
  };
  // Silence for idleTimeoutMs ends the run; after the exit, silence for the grace ends reading.
  const idle = new IdleTimer(o.idleTimeoutMs, clock);
  let quiet: IdleTimer | undefined = undefined; // set once codex has exited
  let exited = false;
  const retries = new RetryWatch(); // a retry notice is output, but not progress
  idle.fired.then(() => {
    if (exited) return;
    result.timedOut = true;
    result.lastRetry = retries.last; // before what ending codex makes it print
    o.log.warn("codex idle timeout: ending its process group", {
      pid,
      idle_timeout_ms: o.idleTimeoutMs,
    });
    stop();
  });
  /** Output from codex: always keeps the pipes' quiet timer alive; only progress the idle one. */
  const touch = (progress = true) => {
    quiet?.touch();
    if (progress) idle.touch();
  };
  const onAbort = () => {
    result.cancelled = true;
    stop();
  };
  o.signal?.addEventListener("abort", onAbort, { once: true });

  // Aborted only when something other than codex keeps its pipes open (see below).
  const stopReading = new AbortController();
  const w = child.stdin.getWriter();
  const writeStdin = (async () => {
    try {
      await w.write(new TextEncoder().encode(o.stdin));
      await w.close();
    } catch { /* codex exited without reading its prompt; its exit says why */ }
  })();

  const tail = new Tail(STDERR_TAIL);
  const readStderr = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream(), {
        signal: stopReading.signal,
      })
    ) {
      touch();
      tail.push(chunk);
    }
  })();

  const readStdout = (async () => {
    const lines = child.stdout.pipeThrough(
      new LineStream({
        onOverflow: (n) =>
          o.log.warn("codex printed a line too long to parse; skipped", { bytes: n }),
        // Never drop an answer over one bad byte: its text arrives with U+FFFD.
        onInvalidUtf8: (n) =>
          o.log.warn("codex printed invalid UTF-8; passed on with U+FFFD in its place", {
            bytes: n,
          }),
      }),
      { signal: stopReading.signal },
    );
    for await (const text of lines) {
      let ev: unknown;
      try {
        ev = text === undefined || text === "" ? undefined : JSON.parse(text);
      } catch { /* reported below */ }
      const obj = ev && typeof ev === "object" && !Array.isArray(ev);
      touch(retries.progress(obj ? execRetryNotice(ev as Record<string, unknown>) : undefined));
      if (text === "") continue;
      if (obj) {
        o.onEvent(ev as Record<string, unknown>);
      } else {
        o.log.warn("skipped a line from codex that is not a JSON object", {
          chars: text?.length,
          reason: text === undefined ? "invalid UTF-8" : "not JSON",
        });
      }
    }
  })();

  const status = await child.status;
  exited = true;
  idle.stop();
  // Stragglers (commands codex started and left running) would hold the pipes open.
  clock.clearTimeout(killTimer);
  await signalling;
  // What codex left running (e.g. the login shell it snapshots the environment
  // with) gets SIGTERM, so shells run their exit traps. After a normal exit that
  // is all: they go on their own, and the turn does not wait for the scan that
  // finds them (it would add tens of milliseconds to every turn). A codex that was
  // stopped (cancel, timeout, shutdown) gets the full end first: TERM, grace, KILL.
  const swept = killTimer === undefined
    ? tree.signal("SIGTERM").then(() => {}, () => {})
    : tree.end(LEFTOVER_GRACE_MS);
  if (killTimer !== undefined) await swept;
  // One that escaped (a session of its own whose parent is gone) could hold them
  // forever: once they have been quiet for the grace period, stop reading.
  const reads = Promise.allSettled([readStdout, readStderr, writeStdin]);
  quiet = new IdleTimer(KILL_GRACE_MS, clock);
  if (!(await settlesBeforeQuiet(reads, quiet))) {
    o.log.warn("a process codex started keeps its output open; stopped reading it", { pid });
    stopReading.abort();
    w.abort().catch(() => {});
  }
  for (const r of await reads) {
    if (r.status === "rejected" && !stopReading.signal.aborted) {
      o.log.warn("reading codex output failed", { error: String(r.reason) });
    }
  }
  clock.clearTimeout(killTimer); // a cancel that came while the pipes drained
  // The record goes now (the next turn must not take this run for a dead plugin's);
  // the watchdog stays armed until the leftovers got their signal.
  await clearRun(await record);
  result.settled = swept.then(() => watchdog.release());
  o.signal?.removeEventListener("abort", onAbort);
  result.code = status.signal ? null : status.code;
  result.signal = status.signal;
  result.stderrTail = tail.toString();
  return result;
}
