/**
 * The exec backend: one `codex exec --json` process per turn, as a
 * {@linkcode Driver} for the turn runner (../turn_runner.ts), which does what
 * both backends share. Here: the binary, the images as temporary files and
 * the argv (./argv.ts), the process (./process.ts), its JSONL mapped to
 * happenings (./jsonl.ts), and how its end reads (a crash, Codex's own error
 * line, a thread another process holds, a stored thread Codex lost). Every
 * turn pays a cold Codex start and text arrives a whole message at a time,
 * but it needs nothing beyond `codex exec`.
 *
 * @example
 * ```ts
 * import { ExecBackend } from "./driver.ts";
 * import { DEFAULTS } from "../../config.ts";
 * import { createLogger } from "../../log.ts";
 * const backend = new ExecBackend({ ...DEFAULTS }, createLogger());
 * const req = { workspace: "/w", prompt: "hi", model: "codex", reset: false, emit: console.log };
 * await backend.runTurn({ ...req, signal: new AbortController().signal });
 * ```
 *
 * @module
 */
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import type { Backend, TurnRequest, TurnResult } from "../../turns/backend.ts";
import { TurnFailure } from "../../turns/outcome.ts";
import { idleTimeoutMessage, STALE_THREAD, THREAD_HELD } from "../codex_errors.ts";
import { launchEnv, locateBinary } from "../launch_env.ts";
import {
  Channel,
  type Driver,
  type DriverTurn,
  type Happening,
  modelArg,
  runTurn,
} from "../turn_runner.ts";
import { execArgs, type ImageFiles, writeImages } from "./argv.ts";
import { writeSchema } from "../output_schema.ts";
import { type CodexEvent, TurnMapper } from "./jsonl.ts";
import { runCodex, type RunResult } from "./process.ts";

/** Start-up warnings Codex prints on every run here, never the cause of a failure. */
const HARMLESS = /^WARNING: proceeding, even though we could not create PATH aliases/;

/** The useful part of Codex's stderr: its `Error:` line, else the last lines (no harmless ones). */
function stderrSummary(tail: string): string {
  const lines = tail.split("\n").map((l) => l.trimEnd());
  const err = lines.find((l) => l.startsWith("Error:"));
  if (err) return err.slice("Error:".length).trim();
  const useful = lines.filter((l) =>
    l && !/^\s*\d+: /.test(l) && l !== "Stack backtrace:" && !HARMLESS.test(l)
  );
  return useful.slice(-5).join("\n").slice(-2000);
}

const failed = (code: TurnFailure["code"], message: string): Happening => ({
  type: "failed",
  cause: { type: "failure", failure: new TurnFailure(code, message) },
});

/** Runs turns with one `codex exec` process each. */
export class ExecBackend implements Backend, Driver {
  #binary: string | undefined;
  /** Runs whose leftovers are still being signalled. */
  #settling = new Set<Promise<void>>();

  constructor(private config: Config, private log: Logger) {}

  /** Nothing outlives a turn but the signalling of what a run left, which this waits for. */
  async close(): Promise<void> {
    await Promise.all([...this.#settling]);
  }

  runTurn(req: TurnRequest): Promise<TurnResult> {
    return runTurn(this, req, { config: this.config, log: this.log });
  }

  /** One `codex exec` run (the runner's {@linkcode Driver}). */
  async *run(turn: DriverTurn): AsyncGenerator<Happening> {
    if (!this.#binary) { // found once; looked for again while it is missing
      const r = locateBinary(this.config.binary);
      if (!r.ok) return yield failed("codex_not_found", r.error.message);
      this.log.info("using codex binary", { path: r.value.path, found_via: r.value.via });
      this.#binary = r.value.path;
    }
    let files: ImageFiles; // for exactly as long as the run
    try {
      files = await writeImages(turn.req.images ?? []);
    } catch (e) {
      const why = "could not write the prompt's images to a temporary file: ";
      return yield failed("internal", why + (e as Error).message);
    }
    try {
      // output_schema: a private temp file for exactly as long as the run (../output_schema.ts).
      await using schema = await writeSchema(turn.req.outputSchema);
      yield* this.#run(turn, this.#binary, files.paths, schema.path);
    } finally {
      await files[Symbol.asyncDispose]();
    }
  }

  async *#run(
    turn: DriverTurn,
    binary: string,
    images: string[],
    outputSchema?: string,
  ): AsyncGenerator<Happening> {
    const { req, threadId } = turn;
    const mapper = new TurnMapper({
      emitActivity: this.config.emit_activity,
      emitReasoning: this.config.emit_reasoning,
      onNote: (msg, ev) => this.log.debug(msg, { event: ev }),
    });
    const out = new Channel<Happening>();
    const running = runCodex({
      binary,
      args: execArgs({
        model: modelArg(this.config, req.model),
        developerInstructions: threadId ? undefined : req.system,
        reasoningEffort: req.reasoningEffort ?? this.config.reasoning_effort ?? undefined,
        outputSchema,
        extraArgs: this.config.extra_args,
        images,
        threadId,
        sandbox: this.config,
      }),
      cwd: req.workspace,
      env: launchEnv(binary), // node beside an nvm-installed codex, under systemd's PATH
      stdin: turn.text,
      idleTimeoutMs: this.config.idle_timeout_s * 1000,
      signal: req.signal,
      log: this.log,
      onEvent: (ev) => {
        if (ev.type === "error") this.log.warn("codex error event", { message: ev.message });
        const known = mapper.threadId;
        for (const h of mapper.push(ev as CodexEvent)) out.push(h);
        if (known === undefined && mapper.threadId !== undefined) {
          out.push({ type: "thread", id: mapper.threadId, fresh: threadId === undefined });
        }
      },
    }).finally(() => out.close());
    yield* out;
    const run = await running;
    const settling = run.settled.finally(() => this.#settling.delete(settling));
    this.#settling.add(settling);
    const end = this.#end(run, mapper, threadId, binary);
    if (end.type === "completed" && mapper.totals) yield { type: "totals", totals: mapper.totals };
    yield end;
  }

  /** How the run ended, from the process's exit and what it printed. */
  #end(run: RunResult, mapper: TurnMapper, stored: string | undefined, binary: string): Happening {
    if (run.spawnError) {
      this.#binary = undefined;
      return failed("codex_not_found", `could not start ${binary}: ${run.spawnError.message}`);
    }
    if (run.cancelled) return { type: "failed", cause: { type: "cancelled" } };
    if (
      stored && mapper.threadId === undefined && run.code !== 0 &&
      STALE_THREAD.test(run.stderrTail)
    ) {
      return { type: "failed", cause: { type: "stale_thread", message: run.stderrTail } };
    }
    if (run.timedOut) {
      const o = { idleS: this.config.idle_timeout_s, lastRetry: run.lastRetry };
      return failed("timeout", idleTimeoutMessage({ ...o, silence: "printed nothing" }));
    }
    if (mapper.failure !== undefined) {
      return { type: "failed", cause: { type: "codex", message: mapper.failure } };
    }
    if (mapper.completed) return { type: "completed", answer: mapper.answer };
    const detail = stderrSummary(run.stderrTail) || mapper.lastError || "";
    if (THREAD_HELD.test(detail)) {
      return failed(
        "codex_exit",
        `thread ${mapper.threadId ?? stored ?? null} is in use by another live Codex process ` +
          `(another plugin, or codex run by hand), so this turn did not run; the thread is kept. ` +
          `Codex said: ${detail}`,
      );
    }
    // A signal is the cause; what codex printed before it is context at most.
    return failed(
      "codex_exit",
      run.signal
        ? `codex was killed by ${run.signal} before the turn completed` +
          (detail ? `; its last output: ${detail}` : "")
        : `codex exited with code ${run.code} before the turn completed: ${detail || "no output"}`,
    );
  }
}
