/**
 * One chat turn through `codex exec`: the workspace's thread is resumed (or a
 * new one started), Codex's events become Plexum events, the thread id and
 * usage totals are saved. A thread Codex no longer knows is replaced by a new
 * one within the same turn.
 *
 * The fallback backend: every turn pays a cold Codex start and text arrives a
 * whole message at a time, but it needs nothing beyond `codex exec`.
 *
 * @example
 * ```ts
 * import { ExecBackend } from "./backend.ts";
 * import { DEFAULTS } from "../../config.ts";
 * import { createLogger } from "../../log.ts";
 * const backend = new ExecBackend({ ...DEFAULTS }, createLogger());
 * const r = await backend.runTurn({
 *   workspace: "/srv/agent",
 *   prompt: "hi",
 *   model: "codex",
 *   reset: false,
 *   signal: new AbortController().signal,
 *   emit: (ev) => console.log(ev),
 * });
 * ```
 */
import { modelArg } from "../model.ts";
import { execArgs } from "./argv.ts";
import type { Config } from "../../config.ts";
import type { Backend, ErrorCode, TurnRequest, TurnResult, Usage } from "../../turns/backend.ts";
import { replayedField, turnText } from "../history.ts";
import { rateLimitOf } from "../rate_limit.ts";
import { type ImageFiles, writeImages } from "./images.ts";
import { err, ok, type Result } from "../../result.ts";
import { settleUsage } from "../turn_usage.ts";
import { type CodexEvent, TurnMapper } from "./events.ts";
import { runCodex, type RunResult } from "./process.ts";
import { launchEnv, locateBinary } from "../locate.ts";
import type { Logger } from "../../log.ts";
import { readThreadId, saveThreadId, STALE_THREAD, THREAD_HELD } from "../session.ts";

/** The useful part of Codex's stderr: its `Error:` line, else the last lines. */
export function stderrSummary(tail: string): string {
  const lines = tail.split("\n").map((l) => l.trimEnd());
  const err = lines.findIndex((l) => l.startsWith("Error:"));
  if (err >= 0) return lines[err].slice("Error:".length).trim();
  return lines.filter((l) => l && !/^\s*\d+: /.test(l) && l !== "Stack backtrace:").slice(-5).join(
    "\n",
  )
    .slice(-2000);
}

/** Runs turns with one `codex exec` process each. */
export class ExecBackend implements Backend {
  #binary: string | undefined;
  /** Runs whose leftovers are still being signalled (lib/codex/exec/process.ts). */
  #settling = new Set<Promise<void>>();

  constructor(private config: Config, private log: Logger) {}

  /** Resolve the binary once; retried while it is missing. */
  binary(): Result<string, string> {
    if (this.#binary) return ok(this.#binary);
    const r = locateBinary(this.config.binary);
    if (!r.ok) return err(r.error.message);
    this.log.info("using codex binary", { path: r.value.path, found_via: r.value.via });
    this.#binary = r.value.path;
    return ok(r.value.path);
  }

  /** Nothing outlives a turn but the signalling of what a run left, which this waits for. */
  async close(): Promise<void> {
    await Promise.all([...this.#settling]);
  }

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    const bin = this.binary();
    if (!bin.ok) return failTurn(req, "codex_not_found", bin.error, null);
    // The prompt's images live in a private temp dir for exactly as long as the turn.
    let files: ImageFiles;
    try {
      files = await writeImages(req.images ?? []);
    } catch (e) {
      const why = `could not write the prompt's images to a temporary file: ${
        (e as Error).message
      }`;
      return failTurn(req, "internal", why, null);
    }
    try {
      return await this.#turn(req, bin.value, files.paths);
    } finally {
      await files[Symbol.asyncDispose]();
    }
  }

  async #turn(req: TurnRequest, binary: string, images: string[]): Promise<TurnResult> {
    const stored = req.reset ? undefined : await readThreadId(req.workspace);
    let attempt = await this.#attempt(binary, req, stored, images);
    if (
      stored && attempt.mapper.threadId === undefined && attempt.run.code !== 0 &&
      !attempt.run.cancelled && STALE_THREAD.test(attempt.run.stderrTail)
    ) {
      this.log.warn("codex no longer knows the stored thread; starting a new one", {
        workspace: req.workspace,
        thread_id: stored,
      });
      attempt = await this.#attempt(binary, req, undefined, images);
    }
    const { run, mapper } = attempt;
    // Said in the result whenever a thread got the earlier messages, however the turn ended
    // (a codex that failed before starting its thread got nothing).
    const replayed = mapper.threadId !== undefined ? attempt.replayed : 0;
    const fail = (
      code: ErrorCode,
      message: string,
      threadId: string | null,
      retryAfter?: number,
    ) => ({ ...failTurn(req, code, message, threadId, retryAfter), ...replayedField(replayed) });
    const threadId = mapper.threadId ?? stored ?? null;
    if (mapper.threadId && mapper.threadId !== stored) {
      await saveThreadId(req.workspace, mapper.threadId, this.log);
    }

    if (run.spawnError) {
      this.#binary = undefined;
      return fail(
        "codex_not_found",
        `could not start ${binary}: ${run.spawnError.message}`,
        null,
      );
    }
    if (run.cancelled) {
      return {
        stop_reason: "cancelled",
        thread_id: threadId,
        usage: null,
        ...replayedField(replayed),
      };
    }
    if (run.timedOut) {
      return fail(
        "timeout",
        `codex printed nothing for ${this.config.idle_timeout_s}s; turn ended`,
        threadId,
      );
    }
    if (mapper.failure !== undefined) {
      const limit = rateLimitOf(mapper.failure);
      if (limit) return fail("rate_limited", mapper.failure, threadId, limit.retry_after_s);
      return fail("turn_failed", mapper.failure, threadId);
    }
    if (!mapper.completed) {
      const why = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.code}`;
      const detail = stderrSummary(run.stderrTail) || mapper.lastError || "no output";
      if (THREAD_HELD.test(detail)) {
        return fail(
          "codex_exit",
          `thread ${threadId} is in use by another live Codex process (another plugin, or codex ` +
            `run by hand), so this turn did not run; the thread is kept. Codex said: ${detail}`,
          threadId,
        );
      }
      return fail("codex_exit", `codex ${why} before the turn completed: ${detail}`, threadId);
    }
    let usage: Usage | null = null;
    if (mapper.totals && threadId) {
      // Per turn, validated, never a wrong number (lib/codex/turn_usage.ts).
      usage = await settleUsage({
        workspace: req.workspace,
        threadId,
        totals: mapper.totals,
        fresh: mapper.threadId !== undefined && mapper.threadId !== stored,
        log: this.log,
      });
      if (usage) req.emit({ type: "usage", ...usage });
    }
    return { stop_reason: "end_turn", thread_id: threadId, usage, ...replayedField(replayed) };
  }

  async #attempt(
    binary: string,
    req: TurnRequest,
    threadId: string | undefined,
    images: string[],
  ) {
    const mapper = new TurnMapper({
      emitActivity: this.config.emit_activity,
      emitReasoning: this.config.emit_reasoning,
      onNote: (msg, ev) => this.log.debug(msg, { event: ev }),
    });
    // A new thread gets the host's earlier messages (lib/codex/history.ts), on stdin like the prompt.
    const replay = turnText(req, {
      newThread: threadId === undefined,
      enabled: this.config.replay_history,
      log: this.log,
    });
    const run: RunResult = await runCodex({
      binary,
      args: execArgs({
        model: modelArg(this.config, req.model),
        developerInstructions: threadId ? undefined : req.system,
        extraArgs: this.config.extra_args,
        images,
        threadId,
      }),
      cwd: req.workspace,
      env: launchEnv(binary), // node beside an nvm-installed codex, under systemd's PATH
      stdin: replay.text,
      idleTimeoutMs: this.config.idle_timeout_s * 1000,
      signal: req.signal,
      log: this.log,
      onEvent: (ev) => {
        if (ev.type === "error") this.log.warn("codex error event", { message: ev.message });
        for (const out of mapper.push(ev as CodexEvent)) req.emit(out);
      },
    });
    const settling = run.settled.finally(() => this.#settling.delete(settling));
    this.#settling.add(settling);
    return { run, mapper, replayed: replay.replayed };
  }
}

/** Emit the turn's one error event; the result of a failed turn. */
function failTurn(
  req: TurnRequest,
  code: ErrorCode,
  message: string,
  threadId: string | null,
  retryAfter?: number,
): TurnResult {
  req.emit({
    type: "error",
    code,
    message,
    ...(retryAfter !== undefined && { retry_after_s: retryAfter }),
  });
  return { stop_reason: "error", thread_id: threadId, usage: null };
}
