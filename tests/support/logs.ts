/**
 * Waiting for the plugin's log lines. The plugin writes its log to stderr and
 * its protocol messages to stdout: two pipes, read by two loops, so a response
 * can reach a test before the log line the plugin wrote just before it. A test
 * never reads "the stderr so far" and asserts on it; it waits (bounded) for the
 * line it expects, or for the turn's own `turn` record, the last line a turn
 * logs (lib/turns/scheduler.ts): once that record is there, everything the turn
 * logged before it is there too, so counts and absences can be asserted.
 *
 * @example
 * ```ts
 * const r = await chat(p, ws, "hi");
 * const log = await turnLog(p, r.turnId);       // stderr up to the turn's record
 * assert.doesNotMatch(log, / WARN /);
 * const line = await waitForLog(p, /idle timeout/); // one line, when it comes
 * ```
 *
 * @module
 */
import type { Msg, Plugin } from "../../dev/plugin.ts";

/** Options of the waits here. */
export interface LogWaitOptions {
  /** Give up after this long (ms); the error shows the end of stderr. Default 20 s. */
  timeoutMs?: number;
}

/** Options of {@linkcode turnLog}. */
export interface TurnLogOptions extends LogWaitOptions {
  /** Start after the `turn` record of this earlier turn (of the same plugin, run before). */
  after?: string;
}

/** A line predicate: a function, or a pattern the line must match. */
export type LinePredicate = RegExp | ((line: string) => boolean);

const test = (pred: LinePredicate, line: string) =>
  typeof pred === "function" ? pred(line) : pred.test(line);

/** The plugin's stderr as complete lines (a line still being written is left out). */
export function logLines(p: Plugin): string[] {
  const text = p.stderr();
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").slice(0, -1);
}

/**
 * Wait until at least `count` lines of the plugin's stderr satisfy `pred`;
 * resolves with all the matching lines so far. Rejects after `timeoutMs`.
 *
 * @example
 * ```ts
 * const [warning] = await waitForLogs(p, / WARN /, 1);
 * ```
 */
export async function waitForLogs(
  p: Plugin,
  pred: LinePredicate,
  count = 1,
  opts: LogWaitOptions = {},
): Promise<string[]> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const start = performance.now();
  for (;;) {
    const hits = logLines(p).filter((l) => test(pred, l));
    if (hits.length >= count) return hits;
    if (performance.now() - start > timeoutMs) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${count} log line(s) matching ${pred}; ` +
          `stderr ends:\n${p.stderr().slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Wait for the first line of the plugin's stderr that satisfies `pred`.
 *
 * @example
 * ```ts
 * await waitForLog(p, /WARN codex app-server stopped answering/);
 * ```
 */
export async function waitForLog(
  p: Plugin,
  pred: LinePredicate,
  opts: LogWaitOptions = {},
): Promise<string> {
  return (await waitForLogs(p, pred, 1, opts))[0];
}

/** True when `line` is the `turn` record of `turnId`, in the text or the json log format. */
export function isTurnRecord(line: string, turnId: string): boolean {
  if (line.startsWith("{")) {
    try {
      const r = JSON.parse(line);
      return r.msg === "turn" && r.turn_id === turnId;
    } catch {
      return false;
    }
  }
  return line.includes(` INFO turn turn_id=${turnId} `) ||
    line.endsWith(` INFO turn turn_id=${turnId}`);
}

/**
 * Wait for the `turn` record of `turnId` and resolve with stderr up to and
 * including it: every line the turn logged, and nothing of a later turn.
 * With `after`, only the lines after that earlier turn's record.
 */
export async function turnLog(
  p: Plugin,
  turnId: string,
  opts: TurnLogOptions = {},
): Promise<string> {
  await waitForLog(p, (l) => isTurnRecord(l, turnId), opts);
  const lines = logLines(p);
  const end = lines.findIndex((l) => isTurnRecord(l, turnId));
  const { after } = opts;
  const start = after === undefined ? 0 : lines.findIndex((l) => isTurnRecord(l, after)) + 1;
  return lines.slice(start, end + 1).join("\n") + "\n";
}

/**
 * The `turn` record of `turnId` (log_format json), parsed, once it is written.
 *
 * @example
 * ```ts
 * assert.equal((await turnRecord(p, r.turnId)).replayed_messages, 3);
 * ```
 */
export async function turnRecord(
  p: Plugin,
  turnId: string,
  opts: LogWaitOptions = {},
): Promise<Msg> {
  const line = await waitForLog(p, (l) => l.startsWith("{") && isTurnRecord(l, turnId), opts);
  return JSON.parse(line);
}
