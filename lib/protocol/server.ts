/**
 * The Plexum plugin protocol, version 1 (PROTOCOL.md): `initialize`,
 * `models`, `chat`, `cancel`, `shutdown` requests and `event` notifications,
 * validated and answered here; turns run on the {@linkcode Scheduler} with
 * the backend that `initialize`'s config selects. Nothing here knows stdio
 * (lib/protocol/stdio.ts) or Codex (lib/codex/).
 *
 * @example
 * ```ts
 * import { Server } from "./server.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const server = new Server({
 *   send: (msg) => console.log(JSON.stringify(msg)),
 *   log: createLogger(),
 *   baseConfig: { ...DEFAULTS },
 *   version: "0.1.0",
 *   backend: () => ({ runTurn: () => Promise.reject(new Error("none")), close: async () => {} }),
 * });
 * server.handle('{"jsonrpc":"2.0","id":1,"method":"models","params":{}}');
 * await server.shutdown();
 * ```
 *
 * @module
 */
import { parseChatParams } from "./chat_params.ts";
import { invalidParams } from "./field_errors.ts";
import { OutboundTurns } from "./outbound.ts";
import { TURN_OPTION_CAPABILITIES } from "./turn_options.ts";
import { type Config, ConfigError, type FieldError, validateConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import {
  error,
  ErrorCodes,
  notification,
  parseMessage,
  type Request,
  result,
} from "../jsonrpc/message.ts";
import type { Backend } from "../turns/backend.ts";
import { Scheduler } from "../turns/scheduler.ts";

/** Every method the plugin answers, as documented in PROTOCOL.md. */
export const METHODS = ["initialize", "models", "chat", "cancel", "shutdown"] as const;

/** What the server needs from its host process. */
export interface ServerOptions {
  /** Write one message to the host (framing is the caller's). */
  send(msg: unknown): void;
  log: Logger;
  /** Config from `--config` (or defaults); `initialize` overrides it key by key. */
  baseConfig: Config;
  version: string;
  /** Make the backend for the final config (lib/codex/select.ts in the plugin). */
  backend: (config: Config, log: Logger) => Backend;
  /** Called once a `shutdown` request has been answered (serve exits then). */
  onShutdownRequest?: () => void;
  /** Called when the config is final, e.g. to apply its log settings. */
  onConfig?: (config: Config) => void;
}

/** Serves one host. */
export class Server {
  #o: ServerOptions;
  #config: Config | undefined;
  #backend: Backend | undefined;
  #scheduler: Scheduler | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  /** Each turn's events on their way out, masked and bounded. */
  #outbound = new OutboundTurns((turn_id, event) =>
    this.#o.send(notification("event", { turn_id, event }))
  );

  constructor(o: ServerOptions) {
    this.#o = o;
  }

  /** Number of turns not yet answered. */
  get inFlight(): number {
    return this.#scheduler?.size ?? 0;
  }

  /** Handle one line from the host; "shutdown" when the host asked to stop. */
  handle(line: string): "shutdown" | void {
    const parsed = parseMessage(line);
    if (!parsed.ok) {
      // The parse error quotes part of the line (prompt text): only at debug.
      const { code, message } = parsed.error.error as { code: number; message: string };
      this.#o.log.warn("bad message from host", { code });
      this.#o.log.debug("bad message from host", { error: message });
      this.#o.send(parsed.error);
      return;
    }
    const req = parsed.value;
    if (!req) return; // a blank line, or a response: we send no requests
    try {
      return this.#dispatch(req);
    } catch (e) {
      this.#o.log.error("internal error", { method: req.method, error: String(e) });
      this.#reply(req, undefined, [ErrorCodes.INTERNAL, `internal error: ${(e as Error).message}`]);
    }
  }

  /** Cancel every turn, wait until each has been answered, then close the backend. */
  shutdown(): Promise<void> {
    this.#closing = true;
    return this.#closed ??= (async () => {
      await this.#scheduler?.drain();
      await this.#backend?.close();
    })();
  }

  #reply(req: Request, value: unknown, err?: [number, string, unknown?]) {
    if (req.id === undefined) return; // a notification gets no response
    this.#o.send(err ? error(req.id, err[0], err[1], err[2]) : result(req.id, value));
  }

  #invalid(req: Request, errors: FieldError[]) {
    const { message, data } = invalidParams(errors); // bounded
    this.#reply(req, undefined, [ErrorCodes.INVALID_PARAMS, message, data]);
  }

  #dispatch(req: Request): "shutdown" | void {
    const p = req.params;
    if (req.method !== "initialize" && !this.#config) {
      const why = "not initialized: send initialize first";
      return this.#reply(req, undefined, [ErrorCodes.NOT_INITIALIZED, why]);
    }
    switch (req.method) {
      case "initialize":
        return this.#initialize(req);
      case "models":
        return this.#reply(req, { models: this.#config!.supported_models });
      case "chat":
        return this.#chat(req);
      case "cancel":
        if (typeof p.turn_id !== "string") {
          return this.#invalid(req, [{ field: "turn_id", message: "must be a string" }]);
        }
        return this.#reply(req, { cancelled: this.#scheduler!.cancel(p.turn_id) });
      case "shutdown":
        this.shutdown().then(() => {
          this.#reply(req, {});
          this.#o.onShutdownRequest?.();
        });
        return "shutdown";
      default:
        this.#reply(req, undefined, [ErrorCodes.METHOD_NOT_FOUND, `unknown method: ${req.method}`]);
    }
  }

  #initialize(req: Request) {
    const p = req.params;
    if (this.#config) {
      return this.#reply(req, undefined, [ErrorCodes.INVALID_REQUEST, "already initialized"]);
    }
    if (p.protocol_version !== 1) {
      return this.#reply(req, undefined, [
        ErrorCodes.INVALID_PARAMS,
        `unsupported protocol_version ${JSON.stringify(p.protocol_version)}`,
        { supported: [1], errors: [{ field: "protocol_version", message: "is not supported" }] },
      ]);
    }
    const errors: FieldError[] = [];
    const host = p.host as { name?: unknown; version?: unknown } | undefined;
    if (host !== undefined && (typeof host !== "object" || host === null || Array.isArray(host))) {
      errors.push({ field: "host", message: "must be an object {name, version}" });
    }
    const v = validateConfig(p.config, { ...this.#o.baseConfig });
    const prefixed = (e: FieldError) => ({ ...e, field: `config.${e.field}` });
    if (!v.ok) errors.push(...v.error.map((e) => e.field === "config" ? e : prefixed(e)));
    if (!v.ok || errors.length) return this.#invalid(req, errors);
    const config = v.value;
    let backend: Backend;
    try {
      backend = this.#o.backend(config, this.#o.log);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return this.#invalid(req, e.errors.map(prefixed));
    }
    this.#config = config;
    this.#backend = backend;
    this.#o.onConfig?.(config);
    this.#scheduler = new Scheduler({
      backend,
      log: this.#o.log,
      emit: (turn_id, ev) => this.#outbound.send(turn_id, ev),
      steers: config.backend !== "exec", // auto: a turn run by exec is not steered
    });
    const models = config.supported_models;
    this.#o.log.info("initialized", { host: host?.name, host_version: host?.version, models });
    this.#reply(req, {
      protocol_version: 1,
      plugin: { name: "plexum-openai-provider-plugin", version: this.#o.version },
      provider: "openai",
      models,
      capabilities: {
        agent_context: true,
        streaming: true,
        resume: true,
        cancel: true,
        ...TURN_OPTION_CAPABILITIES, // lib/protocol/turn_options.ts
        steer: config.backend !== "exec",
      },
    });
  }

  #chat(req: Request) {
    if (this.#closing) {
      return this.#reply(req, undefined, [ErrorCodes.INVALID_REQUEST, "shutting down"]);
    }
    const parsed = parseChatParams(req.params, {
      models: this.#config!.supported_models,
      inFlight: (id) => this.#scheduler!.has(id),
    });
    if (!parsed.ok) return this.#invalid(req, parsed.error);
    const { turnId, ...t } = parsed.value;
    this.#scheduler!.submit({ id: turnId, ...t }).then((r) => {
      this.#outbound.end(turnId); // text held back for masking goes before the result
      this.#reply(req, { turn_id: turnId, ...r });
    });
  }
}
