/**
 * The Plexum plugin protocol, version 1 (PROTOCOL.md): `initialize`, `models`,
 * `chat`, `cancel`, `shutdown` requests and `event` notifications. Requests
 * are validated and answered here; turns are run by the
 * {@linkcode Scheduler} on the backend that `initialize`'s config selects.
 * Nothing here knows stdio (lib/protocol/stdio.ts) or Codex (lib/codex/).
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

/** Protocol versions this plugin speaks. */
export const PROTOCOL_VERSIONS = [1];
/** Every method the plugin answers, as documented in PROTOCOL.md. */
export const METHODS = ["initialize", "models", "chat", "cancel", "shutdown"] as const;
/** The plugin's name on the wire. */
export const PLUGIN_NAME = "plexum-openai-provider-plugin";

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
  /** Each turn's events on their way out (lib/protocol/outbound.ts). */
  #outbound = new OutboundTurns((turn_id, event) =>
    this.#send(notification("event", { turn_id, event }))
  );

  constructor(o: ServerOptions) {
    this.#o = o;
  }

  /** Number of turns not yet answered. */
  get inFlight(): number {
    return this.#scheduler?.size ?? 0;
  }

  /** Handle one line from the host. Returns "shutdown" when the host asked to stop. */
  handle(line: string): "shutdown" | undefined {
    const parsed = parseMessage(line);
    if (!parsed.ok) {
      // The parse error quotes part of the line (prompt text): only at debug.
      const { code, message } = parsed.error.error as { code: number; message: string };
      this.#o.log.warn("bad message from host", { code });
      this.#o.log.debug("bad message from host", { error: message });
      this.#send(parsed.error);
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

  #send(msg: unknown) {
    this.#o.send(msg);
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
        this.#reply(req, { cancelled: this.#scheduler!.cancel(p.turn_id) });
        return;
      }
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

  #invalid(req: Request, errors: FieldError[]) {
    const { message, data } = invalidParams(errors); // bounded (lib/protocol/field_errors.ts)
    this.#reply(req, undefined, [ErrorCodes.INVALID_PARAMS, message, data]);
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
        ...v.error.map((e) => ({
          ...e,
          field: e.field === "config" ? "config" : `config.${e.field}`,
        })),
      );
    }
    if (errors.length) return this.#invalid(req, errors);
    const config = (v as { value: Config }).value;
    let backend: Backend;
    try {
      backend = this.#o.backend(config, this.#o.log);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return this.#invalid(req, e.errors.map((x) => ({ ...x, field: `config.${x.field}` })));
    }
    this.#config = config;
    this.#backend = backend;
    this.#o.onConfig?.(config);
    this.#scheduler = new Scheduler({
      backend,
      log: this.#o.log,
      // Masked (streamed text as one stream per turn) and within the line limit.
      emit: (turn_id, ev) => this.#outbound.send(turn_id, ev),
    });
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
      capabilities: {
        agent_context: true,
        streaming: true,
        resume: true,
        cancel: true,
        ...TURN_OPTION_CAPABILITIES, // lib/protocol/turn_options.ts
      },
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
