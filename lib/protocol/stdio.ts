/**
 * `serve`: the protocol on stdin/stdout until `shutdown`, stdin EOF, SIGTERM,
 * SIGINT, SIGHUP (the terminal or session went away) or a host that stops
 * reading: stdout closed, or one write blocked for {@linkcode stallMs} (a
 * host that keeps the pipe open but reads nothing would otherwise keep the
 * plugin and its Codex processes waiting forever). Each way out cancels the
 * turns in flight (their Codex process groups end), answers them where it
 * still can, and exits 0.
 *
 * @example
 * ```ts
 * import { serve } from "./stdio.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * import { selectBackend } from "../codex/select.ts";
 * await serve({ ...DEFAULTS }, createLogger(), "0.1.0", selectBackend); // never returns
 * ```
 *
 * The lines come and go through one {@linkcode LineTransport}; each is given
 * to {@linkcode Server.handle}, which parses it strictly (lib/protocol/server.ts).
 *
 * @module
 */
import type { Config } from "../config.ts";
import { error, ErrorCodes } from "../jsonrpc/message.ts";
import { LineTransport } from "../jsonrpc/transport.ts";
import type { Logger, LogLevel } from "../log.ts";
import { Server, type ServerOptions } from "./server.ts";

/** Largest request line accepted (a chat with a huge prompt still fits). */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/** How long one write to stdout may stay blocked before the host counts as gone (60 s). */
export const DEFAULT_STDOUT_STALL_S = 60;

/** `PLEXUM_STDOUT_STALL_S` (seconds, > 0), else {@linkcode DEFAULT_STDOUT_STALL_S}; in ms. */
export function stallMs(env: (k: string) => string | undefined = (k) => Deno.env.get(k)): number {
  const v = Number(env("PLEXUM_STDOUT_STALL_S"));
  return (Number.isFinite(v) && v > 0 ? v : DEFAULT_STDOUT_STALL_S) * 1000;
}

/** Apply a config's log settings; `PLEXUM_LOG` wins over `log_level`. */
export function applyLogConfig(log: Logger, config: Config): void {
  const env = Deno.env.get("PLEXUM_LOG") as LogLevel | undefined;
  log.level = env && ["error", "warn", "info", "debug"].includes(env) ? env : config.log_level;
  log.format = config.log_format;
}

/** Serve the protocol on stdin/stdout. */
export async function serve(
  baseConfig: Config,
  log: Logger,
  version: string,
  backend: ServerOptions["backend"],
): Promise<never> {
  const wire: LineTransport = new LineTransport({
    readable: Deno.stdin.readable,
    writable: Deno.stdout,
    stallMs: stallMs(),
    maxLineBytes: MAX_REQUEST_BYTES,
    onOverflow: (n) =>
      wire.send(
        error(
          null,
          ErrorCodes.PARSE,
          `message of ${n} bytes is over the ${MAX_REQUEST_BYTES} byte limit`,
        ),
      ),
  });
  let stopping: Promise<never> | undefined;
  const stop = (why: string): Promise<never> =>
    stopping ??= (async () => {
      log.info("stopping", { reason: why, turns_in_flight: server.inFlight });
      await server.shutdown();
      await wire.flush();
      Deno.exit(0);
    })();
  const server = new Server({
    send: (msg) => wire.send(msg),
    log,
    baseConfig,
    version,
    backend,
    onConfig: (c) => applyLogConfig(log, c),
    onShutdownRequest: () => wire.flush().then(() => Deno.exit(0)),
  });
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    Deno.addSignalListener(sig, () => stop(sig));
  }
  wire.outputClosed.then((why) => {
    if (why === "stalled") {
      log.warn("the host has read nothing for a while; treating it as gone", {
        stall_s: stallMs() / 1000,
      });
    }
    stop(why === "stalled" ? "stdout stalled" : "stdout closed");
  });
  log.info("serving", { version, pid: Deno.pid });

  try {
    for await (const line of wire.lines()) {
      if (line === undefined) {
        wire.send(error(null, ErrorCodes.PARSE, "parse error: the line is not valid UTF-8"));
        continue;
      }
      // After a shutdown request the server exits once it has answered.
      if (server.handle(line) === "shutdown") return new Promise<never>(() => {});
    }
  } catch (e) {
    log.warn("reading stdin failed", { error: String(e) });
  }
  return stop("stdin closed");
}
