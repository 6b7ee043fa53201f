/**
 * One `codex app-server` process: spawned in its own session with a
 * {@linkcode runMarker} so that what it starts (login shells, commands of
 * turns) can be ended with it, and `initialize`d before anyone may use it.
 *
 * Its stdin stays open for its whole life, written only by the plugin: when
 * the plugin dies, even by SIGKILL, the app-server reads EOF and exits
 * (observed: 20–40 ms, during a turn too). {@linkcode AppServerProcess.stop}
 * uses the same door first, then TERM and KILL for the whole tree. However
 * it ends, its leftovers are reaped as exec mode reaps a turn's.
 *
 * @example
 * ```ts
 * import { AppServerProcess } from "./process.ts";
 * import { createLogger } from "../../log.ts";
 * const p = await AppServerProcess.start({
 *   binary: "/usr/local/bin/codex",
 *   args: ["app-server"],
 *   log: createLogger(),
 *   clientVersion: "0.1.0",
 * });
 * if (p.ok) await p.value.stop();
 * ```
 *
 * @module
 */
import { within } from "../../async.ts";
import type { Logger } from "../../log.ts";
import { err, ok, type Result } from "../../result.ts";
import { listProcesses, ProcessTree, runMarker } from "../reap.ts";
import { AppServerClient, RequestTimeout, RpcError } from "./client.ts";

/** How long a stopped app-server gets to exit on its own before TERM and KILL. */
const STOP_GRACE_MS = 2000;
/** How long TERM gets before KILL, for the app-server and what it left running. */
const KILL_GRACE_MS = 1000;
/** Default time `initialize` may take (spawn included). */
const INITIALIZE_TIMEOUT_MS = 10_000;

/** Inputs of {@linkcode AppServerProcess.start}. */
export interface AppServerProcessOptions {
  binary: string;
  /** argv without the binary (`app-server`, …); `env`: additions to the plugin's own. */
  args: string[];
  env?: Record<string, string>;
  log: Logger;
  clientVersion: string;
  requestTimeoutMs?: number;
  initializeTimeoutMs?: number;
  /** Aborting it during the start ends the process (the plugin is stopping). */
  signal?: AbortSignal;
}

/** Why a start failed; `spawnFailed`: the binary could not be executed at all. */
export interface StartFailure {
  spawnFailed: boolean;
  message: string;
}

/** How the process ended; `detail`: its stderr, summarized. */
export interface ExitInfo {
  code: number | null;
  signal: string | null;
  detail: string;
}

/**
 * Its stderr's last meaningful lines, without colours or the notices it
 * prints at every start (quoted after "exited", they read like the cause).
 */
function stderrSummary(tail: string): string {
  // deno-lint-ignore no-control-regex
  const plain = tail.replace(/\x1b\[[0-9;]*m/g, "");
  const lines = plain.split("\n").map((l) => l.trim()).filter((l) =>
    l && !l.startsWith("WARNING: proceeding, even though") &&
    !/could not find bubblewrap on PATH/.test(l)
  );
  return lines.slice(-3).join(" | ").slice(-1000);
}

/** A started, initialized app-server; see the module doc. */
export class AppServerProcess {
  readonly client: AppServerClient;
  readonly pid: number;
  /** From the `initialize` answer, e.g. `plexum/0.169.0 (Debian …)`. */
  userAgent = "";
  /** Codex's version, read from {@linkcode userAgent} (the only place it appears); "" if absent. */
  version = "";
  /** Resolves once the process has exited and its leftovers are reaped. */
  readonly exit: Promise<ExitInfo>;
  exited = false;
  #stopping = false;
  #tree: ProcessTree;
  #tail = "";
  #marker: string;

  private constructor(child: Deno.ChildProcess, marker: string, o: AppServerProcessOptions) {
    const pid = this.pid = child.pid;
    const tree = this.#tree = new ProcessTree(child.pid, marker);
    this.#marker = marker;
    const client = this.client = new AppServerClient({
      readable: child.stdout,
      writable: child.stdin,
      log: o.log,
      requestTimeoutMs: o.requestTimeoutMs,
    });
    const readErr = (async () => {
      try {
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
          this.#tail = (this.#tail + chunk).slice(-8192);
          if (o.log.enabled("debug")) {
            o.log.debug("codex app-server stderr", { pid, text: chunk.slice(0, 500) });
          }
        }
      } catch { /* the pipe broke: the exit says why */ }
    })();
    this.exit = (async () => {
      const status = await child.status;
      this.exited = true;
      // Commands and shells it started may still run (and hold its pipes).
      await tree.end(KILL_GRACE_MS);
      client.close();
      await within(readErr, 200, undefined);
      const info: ExitInfo = {
        code: status.signal ? null : status.code,
        signal: status.signal,
        detail: stderrSummary(this.#tail),
      };
      if (this.#stopping) o.log.debug("codex app-server stopped", { pid, ...info });
      else o.log.warn("codex app-server exited", { pid, ...info });
      return info;
    })();
  }

  /** Spawn and initialize; a failure leaves nothing running. */
  static async start(o: AppServerProcessOptions): Promise<Result<AppServerProcess, StartFailure>> {
    const mark = runMarker();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(o.binary, {
        args: o.args,
        env: { ...o.env, [mark.name]: mark.value },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        detached: true, // setsid: it and its commands form a tree we can end
      }).spawn();
    } catch (e) {
      const message = `could not start ${o.binary}: ${(e as Error).message}`;
      return err({ spawnFailed: true, message });
    }
    const p = new AppServerProcess(child, mark.marker, o);
    const started = performance.now();
    const onAbort = () => p.kill();
    o.signal?.addEventListener("abort", onAbort, { once: true });
    if (o.signal?.aborted) onAbort();
    try {
      const timeout = o.initializeTimeoutMs ?? INITIALIZE_TIMEOUT_MS;
      const version = o.clientVersion;
      const clientInfo = { name: "plexum-openai-provider-plugin", title: null, version };
      const params = { clientInfo, capabilities: null };
      const r = await p.client.request<{ userAgent?: string }>("initialize", params, timeout);
      p.userAgent = typeof r.userAgent === "string" ? r.userAgent : "";
      p.version = /^[^/\s]+\/(\d+\.\d+\.\d+)/.exec(p.userAgent)?.[1] ?? "";
    } catch (e) {
      const info = await p.kill();
      const why = e instanceof RpcError
        ? `initialize failed: ${e.message}`
        : e instanceof RequestTimeout
        ? e.message
        : `it exited (${exitText(info)}) before answering initialize`;
      return err({
        spawnFailed: false,
        message: `codex app-server did not start: ${why}${info.detail ? `: ${info.detail}` : ""}`,
      });
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
    }
    const ms = Math.round(performance.now() - started);
    o.log.info("codex app-server started", { pid: p.pid, user_agent: p.userAgent, ms });
    return ok(p);
  }

  /** Its stderr so far, summarized. */
  stderrSummary(): string {
    return stderrSummary(this.#tail);
  }

  /**
   * SIGTERM to what its turns left behind: marked processes whose parent is
   * not (re-parented to init, e.g. a background job or a login shell's
   * `pyenv rehash`). What it still parents is left alone: its code-mode host
   * (0.169), MCP servers and snapshot shells live across turns (killing the
   * code-mode host broke the next turn's commands). Only with no turn in
   * flight (`stillIdle` is asked again after the scan); how many were hit.
   */
  async reapLeftovers(stillIdle: () => boolean = () => true): Promise<number> {
    if (this.exited) return 0;
    const procs = (await listProcesses(this.#marker)).filter((p) => p.marked);
    const marked = new Set(procs.map((p) => p.pid));
    if (!stillIdle() || this.exited) return 0;
    let n = 0;
    for (const { pid, ppid } of procs) {
      if (pid === this.pid || pid === Deno.pid || marked.has(ppid)) continue;
      try {
        Deno.kill(pid, "SIGTERM");
        n++;
      } catch { /* exited meanwhile */ }
    }
    return n;
  }

  /** End it the gentle way: stdin closed, then TERM and KILL after `graceMs`. */
  async stop(graceMs = STOP_GRACE_MS): Promise<ExitInfo> {
    this.#stopping = true;
    this.client.close();
    if (await within(this.exit, graceMs, "late") === "late") await this.#tree.end(KILL_GRACE_MS);
    return await this.exit;
  }

  /** End it now (TERM, then KILL for what is left). */
  async kill(): Promise<ExitInfo> {
    this.#stopping = true;
    if (!this.exited) await this.#tree.end(KILL_GRACE_MS);
    return await this.exit;
  }
}

/** "code 1", "signal SIGKILL". */
export function exitText(info: ExitInfo): string {
  return info.signal ? `killed by ${info.signal}` : `code ${info.code}`;
}
