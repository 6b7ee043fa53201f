/**
 * Runs one `codex` process: in its own process group, prompt on stdin (then
 * closed), stdout read as JSONL, a bounded tail of stderr kept for errors.
 * Cancel and the idle timeout (no progress for `idleTimeoutMs`; a retry
 * notice is not progress) end the whole run (../reap.ts): SIGTERM, then
 * SIGKILL after a grace period. After a normal exit, what codex left gets
 * SIGTERM off the turn's path (that `ps` scan costs tens of milliseconds):
 * `RunResult.settled` resolves once it has.
 *
 * @example
 * ```ts
 * import { runCodex } from "./process.ts";
 * import { createLogger } from "../../log.ts";
 * const args = ["exec", "--json", "-"];
 * const run = { binary: "codex", args, cwd: "/w", stdin: "hello", idleTimeoutMs: 600_000 };
 * const r = await runCodex({ ...run, log: createLogger(), onEvent: console.log });
 * await r.settled; // what codex left running has been signalled
 * ```
 *
 * @module
 */
import { IdleTimer, within } from "../../async.ts";
import { LineStream } from "../../lines.ts";
import type { Logger } from "../../log.ts";
import {
  clearRun,
  endRecordedRuns,
  ProcessTree,
  recordRun,
  runMarker,
  SETSID_FAILED,
  spawnInSession,
  startWatchdog,
} from "../reap.ts";
import { execRetryNotice, RetryWatch } from "../codex_errors.ts";

/** How long TERM gets before KILL. */
export const KILL_GRACE_MS = 2000;
/** How long what a stopped codex left running gets after TERM before KILL. */
const LEFTOVER_GRACE_MS = 500;
/**
 * How long output is read after codex exits, at most: what is left then fits
 * a pipe's buffer (codex cannot exit before its writes complete), so only a
 * process that escaped the run and keeps writing to codex's pipes reaches it.
 */
const DRAIN_MAX_MS = 5 * KILL_GRACE_MS;

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
  /** Environment additions; the plugin's own environment is inherited. */
  env?: Record<string, string>;
}

/** How the process ended (`code` null: killed by a signal, or never started). */
export interface RunResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** Last 8 KiB of stderr. */
  stderrTail: string;
  /** The binary could not be started (not found, not executable). */
  spawnError?: Error;
  /** On a timeout: Codex's last retry notice since its last progress. */
  lastRetry?: string;
  /** Resolves once what codex left has been signalled and the watchdog released; never rejects. */
  settled: Promise<void>;
}

/**
 * Run codex once in `cwd`, the workspace whose lock the caller holds (the run
 * is recorded there, after ending what a dead plugin's run left: ../reap.ts).
 * Resolves once codex has exited and its output is read.
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
  await endRecordedRuns(o.cwd, o.log, KILL_GRACE_MS);
  if (o.signal?.aborted) return { ...result, cancelled: true };
  const mark = runMarker(); // inherited by everything codex starts
  let child: Deno.ChildProcess;
  try {
    child = spawnInSession(o.binary, { // codex and its commands: one group we can end
      args: o.args,
      cwd: o.cwd,
      env: { ...o.env, [mark.name]: mark.value },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
  } catch (e) {
    return { ...result, spawnError: e as Error };
  }
  const pid = child.pid;
  const releaseWatchdog = startWatchdog(pid, mark); // should the plugin die
  const record = recordRun(o.cwd, { pid, marker: mark.marker, plugin_pid: Deno.pid });
  const tree = new ProcessTree(pid, mark.marker);
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  let signalling: Promise<unknown> = Promise.resolve();
  const stop = () => {
    if (killTimer !== undefined) return;
    killTimer = setTimeout(() => {
      signalling = signalling.then(() => tree.signal("SIGKILL"));
    }, KILL_GRACE_MS);
    signalling = tree.signal("SIGTERM");
  };
  // Silence for idleTimeoutMs ends the run; after the exit, silence for the grace ends reading.
  const idle = new IdleTimer(o.idleTimeoutMs);
  // deno-lint-ignore prefer-const -- touch() below reads it before codex exits and it is set
  let quiet: IdleTimer | undefined;
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

  const readStderr = (async () => {
    const { signal } = stopReading;
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream(), { signal })) {
      touch();
      result.stderrTail = (result.stderrTail + chunk).slice(-8192);
    }
  })();

  const readStdout = (async () => {
    const warn = (msg: string) => (bytes: number) => o.log.warn(msg, { bytes });
    const lines = child.stdout.pipeThrough(
      new LineStream({
        onOverflow: warn("codex printed a line too long to parse; skipped"),
        // Never drop an answer over one bad byte: its text arrives with U+FFFD.
        onInvalidUtf8: warn("codex printed invalid UTF-8; passed on with U+FFFD in its place"),
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
  clearTimeout(killTimer);
  await signalling;
  // What codex left running gets SIGTERM (shells run their exit traps); after a normal
  // exit the turn does not wait for that scan. A stopped codex's get TERM, grace, KILL.
  const swept = killTimer === undefined
    ? tree.signal("SIGTERM").then(() => {}, () => {})
    : tree.end(LEFTOVER_GRACE_MS);
  if (killTimer !== undefined) await swept;
  // One that escaped could hold the pipes forever: once quiet for the grace (or, should it
  // keep writing, after DRAIN_MAX_MS), stop reading.
  const reads = Promise.allSettled([readStdout, readStderr, writeStdin]);
  quiet = new IdleTimer(KILL_GRACE_MS);
  const drained = await within(
    Promise.race([reads.then(() => true), quiet.fired.then(() => false)]),
    DRAIN_MAX_MS,
    false,
  );
  quiet.stop();
  if (!drained) {
    o.log.warn("a process codex started keeps its output open; stopped reading it", { pid });
    stopReading.abort();
    w.abort().catch(() => {});
  }
  for (const r of await reads) {
    if (r.status === "rejected" && !stopReading.signal.aborted) {
      o.log.warn("reading codex output failed", { error: String(r.reason) });
    }
  }
  clearTimeout(killTimer); // a cancel that came while the pipes drained
  // The record goes now (the next turn must not take it for a dead plugin's run).
  await clearRun(await record);
  result.settled = swept.then(releaseWatchdog);
  o.signal?.removeEventListener("abort", onAbort);
  const notStarted = status.code >= 126 && SETSID_FAILED.exec(result.stderrTail);
  if (notStarted) result.spawnError = new Error(notStarted[1].slice(o.binary.length + 2));
  result.code = status.signal ? null : status.code;
  result.signal = status.signal;
  return result;
}
