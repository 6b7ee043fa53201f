/**
 * The Plexum plugin protocol, version 1 (PROTOCOL.md): `initialize`, `models`,
 * `chat`, `cancel`, `shutdown` requests and `event` notifications.
 *
 * Turns for one workspace run one at a time in arrival order (they share a
 * Codex thread) and hold the workspace's lock file while they run; turns for
 * different workspaces run in parallel.
 *
 * @example
 * ```ts
 * const server = new Server({ writer, log, baseConfig, version: "0.1.0" });
 * for await (const line of lines) server.handle(line);
 * await server.shutdown();
 * ```
 */
import { parseChatParams } from "./chat_params.ts";
import { type Config, type FieldError, validateConfig } from "../config.ts";
import type { PlexumEvent } from "../codex/exec/events.ts";
import { lockWorkspace } from "../turns/lock.ts";
import type { Logger } from "../log.ts";
import {
  error,
  ErrorCodes,
  type Id,
  type MessageWriter,
  notification,
  parseMessage,
  type Request,
  result,
} from "../rpc.ts";
import { type Backend, ExecBackend, type TurnResult } from "../codex/exec/backend.ts";

/** Protocol versions this plugin speaks. */
export const PROTOCOL_VERSIONS = [1];
/** The plugin's name on the wire. */
export const PLUGIN_NAME = "plexum-openai-provider-plugin";

/** What the server needs from its host process. */
export interface ServerOptions {
  writer: MessageWriter;
  log: Logger;
  /** Config from `--config` (or defaults); `initialize` overrides it key by key. */
  baseConfig: Config;
  version: string;
  /** Make the backend for a config (tests may swap it). */
  backend?: (config: Config, log: Logger) => Backend;
  /** Called once a `shutdown` request has been answered (serve exits then). */
  onShutdownRequest?: () => void;
  /** Called when the config is final, e.g. to apply its log settings. */
  onConfig?: (config: Config) => void;
}

interface Turn {
  id: string;
  requestId: Id;
  workspace: string;
  controller: AbortController;
  started: boolean;
  finished: boolean;
  done: Promise<void>;
  finish(r: TurnResult): void;
}

/** Serves one host. */
export class Server {
  #o: ServerOptions;
  #config: Config | undefined;
  #backend: Backend | undefined;
  #turns = new Map<string, Turn>();
  #queues = new Map<string, Promise<void>>();
  #closing = false;

  constructor(o: ServerOptions) {
    this.#o = o;
  }

  /** Number of turns not yet answered. */
  get inFlight(): number {
    return this.#turns.size;
  }

  /** Handle one line from the host. Returns "shutdown" when the host asked to stop. */
  handle(line: string): "shutdown" | undefined {
    const parsed = parseMessage(line);
    if ("ignore" in parsed) return;
    if ("error" in parsed) {
      // The parse error quotes part of the line (prompt text): only at debug.
      const { code, message } = parsed.error.error as { code: number; message: string };
      this.#o.log.warn("bad message from host", { code });
      this.#o.log.debug("bad message from host", { error: message });
      this.#send(parsed.error);
      return;
    }
    const req = parsed.request;
    try {
      return this.#dispatch(req);
    } catch (e) {
      this.#o.log.error("internal error", { method: req.method, error: String(e) });
      this.#reply(req, undefined, [ErrorCodes.INTERNAL, `internal error: ${(e as Error).message}`]);
    }
  }

  /** Cancel every turn and wait until each has been answered. */
  async shutdown(): Promise<void> {
    this.#closing = true;
    const turns = [...this.#turns.values()];
    for (const t of turns) this.#cancel(t);
    await Promise.all(turns.map((t) => t.done));
    await this.#o.writer.flush();
  }

  #send(msg: unknown) {
    this.#o.writer.send(msg);
  }

  #reply(req: Request, value: unknown, err?: [number, string, unknown?]) {
    if (req.id === undefined) return; // a notification gets no response
    this.#send(err ? error(req.id, err[0], err[1], err[2]) : result(req.id, value));
  }

  #dispatch(req: Request): "shutdown" | undefined {
    const p = req.params;
    if (req.method !== "initialize" && !this.#config) {
      this.#reply(req, undefined, [
        ErrorCodes.NOT_INITIALIZED,
        "not initialized: send initialize first",
      ]);
      return;
    }
    switch (req.method) {
      case "initialize":
        this.#initialize(req);
        return;
      case "models":
        this.#reply(req, { models: this.#config!.supported_models });
        return;
      case "chat":
        this.#chat(req);
        return;
      case "cancel": {
        if (typeof p.turn_id !== "string") {
          this.#invalid(req, [{ field: "turn_id", message: "must be a string" }]);
          return;
        }
        const t = this.#turns.get(p.turn_id);
        if (t) this.#cancel(t);
        this.#reply(req, { cancelled: !!t });
        return;
      }
      case "shutdown":
        this.shutdown().then(async () => {
          this.#reply(req, {});
          await this.#o.writer.flush();
          this.#o.onShutdownRequest?.();
        });
        return "shutdown";
      default:
        this.#reply(req, undefined, [ErrorCodes.METHOD_NOT_FOUND, `unknown method: ${req.method}`]);
    }
  }

  #invalid(req: Request, errors: FieldError[]) {
    const what = errors.map((e) => `${e.field} ${e.message}`).join("; ");
    this.#reply(req, undefined, [ErrorCodes.INVALID_PARAMS, `invalid params: ${what}`, { errors }]);
  }

  #initialize(req: Request) {
    const p = req.params;
    if (this.#config) {
      this.#reply(req, undefined, [ErrorCodes.INVALID_REQUEST, "already initialized"]);
      return;
    }
    if (!PROTOCOL_VERSIONS.includes(p.protocol_version as number)) {
      this.#reply(req, undefined, [
        ErrorCodes.INVALID_PARAMS,
        `unsupported protocol_version ${JSON.stringify(p.protocol_version)}`,
        {
          supported: PROTOCOL_VERSIONS,
          errors: [{ field: "protocol_version", message: "is not supported" }],
        },
      ]);
      return;
    }
    const errors: FieldError[] = [];
    if (
      p.host !== undefined &&
      (typeof p.host !== "object" || p.host === null || Array.isArray(p.host))
    ) {
      errors.push({ field: "host", message: "must be an object {name, version}" });
    }
    const v = validateConfig(p.config, { ...this.#o.baseConfig });
    if (!v.ok) {
      errors.push(
        ...v.errors.map((e) => ({
          ...e,
          field: e.field === "config" ? "config" : `config.${e.field}`,
        })),
      );
    }
    if (errors.length) return this.#invalid(req, errors);
    const config = (v as { config: Config }).config;
    this.#config = config;
    this.#o.onConfig?.(config);
    this.#backend = (this.#o.backend ?? ((c, l) => new ExecBackend(c, l)))(config, this.#o.log);
    const host = p.host as { name?: unknown; version?: unknown } | undefined;
    this.#o.log.info("initialized", {
      host: host?.name,
      host_version: host?.version,
      models: config.supported_models,
    });
    this.#reply(req, {
      protocol_version: 1,
      plugin: { name: PLUGIN_NAME, version: this.#o.version },
      provider: "openai",
      models: config.supported_models,
      capabilities: { agent_context: true, streaming: true, resume: true, cancel: true },
    });
  }

  #chat(req: Request) {
    const p = req.params;
    if (this.#closing) {
      this.#reply(req, undefined, [ErrorCodes.INVALID_REQUEST, "shutting down"]);
      return;
    }
    const parsed = parseChatParams(p, {
      models: this.#config!.supported_models,
      inFlight: (id) => this.#turns.has(id),
    });
    if (!parsed.ok) return this.#invalid(req, parsed.errors);
    const { turnId, workspace, ...t } = parsed.chat;

    let resolveDone!: () => void;
    const turn: Turn = {
      id: turnId,
      requestId: req.id ?? null,
      workspace,
      controller: new AbortController(),
      started: false,
      finished: false,
      done: new Promise((r) => (resolveDone = r)),
      finish: (r) => {
        if (turn.finished) return;
        turn.finished = true;
        this.#turns.delete(turn.id);
        this.#reply(req, { turn_id: turn.id, ...r });
        resolveDone();
      },
    };
    this.#turns.set(turn.id, turn);

    const key = (() => {
      try {
        return Deno.realPathSync(workspace);
      } catch {
        return workspace;
      }
    })();
    const run = (this.#queues.get(key) ?? Promise.resolve()).then(() =>
      this.#run(turn, { workspace, ...t })
    );
    this.#queues.set(key, run);
    run.then(() => {
      if (this.#queues.get(key) === run) this.#queues.delete(key);
    });
  }

  async #run(
    turn: Turn,
    t: { workspace: string; prompt: string; system?: string; model: string; reset: boolean },
  ) {
    if (turn.finished) return;
    const signal = turn.controller.signal;
    const log = this.#o.log;
    const started = performance.now();
    turn.started = true;
    let r: TurnResult = { stop_reason: "error", thread_id: null, usage: null };
    const emit = (event: PlexumEvent) => {
      if (!turn.finished) this.#send(notification("event", { turn_id: turn.id, event }));
    };
    let lock;
    try {
      lock = await lockWorkspace(t.workspace, signal);
      r = await this.#backend!.runTurn({ ...t, signal, emit });
    } catch (e) {
      if (signal.aborted) r = { stop_reason: "cancelled", thread_id: null, usage: null };
      else {
        log.error("turn failed inside the plugin", { turn_id: turn.id, error: String(e) });
        emit({ type: "error", code: "internal", message: `plugin error: ${(e as Error).message}` });
      }
    } finally {
      lock?.release();
    }
    log.info("turn", {
      turn_id: turn.id,
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
      outcome: r.stop_reason,
    });
    turn.finish(r);
  }

  #cancel(turn: Turn) {
    turn.controller.abort(new Error("cancelled"));
    // Not running yet (queued behind another turn): answer now, never run it.
    if (!turn.started) turn.finish({ stop_reason: "cancelled", thread_id: null, usage: null });
  }
}
