/**
 * `serve`: the protocol on stdin/stdout until `shutdown`, stdin EOF, SIGTERM,
 * SIGINT, SIGHUP, or a host that stops reading: stdout closed, or one write
 * blocked for `PLEXUM_STDOUT_STALL_S` seconds (default 60; a host that keeps
 * the pipe open but reads nothing would otherwise keep the plugin and its
 * Codex processes waiting forever). Each way out cancels the turns in flight,
 * answers them where it still can, and exits 0.
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
 * @module
 */
import type { Config } from "../config.ts";
import { error, ErrorCodes } from "../jsonrpc/message.ts";
import { LineTransport } from "../jsonrpc/transport.ts";
import { LOG_LEVELS, type Logger, type LogLevel } from "../log.ts";
import { Server, type ServerOptions } from "./server.ts";

/** Largest request line accepted (a chat with a huge prompt still fits). */
const MAX_REQUEST_BYTES = 64 * 1024 * 1024;

/** Apply a config's log settings; `PLEXUM_LOG` wins over `log_level`. */
export function applyLogConfig(log: Logger, config: Config): void {
  const env = Deno.env.get("PLEXUM_LOG") as LogLevel | undefined;
  log.level = env && LOG_LEVELS.includes(env) ? env : config.log_level;
  log.format = config.log_format;
}

/** Serve the protocol on stdin/stdout. */
export async function serve(
  baseConfig: Config,
  log: Logger,
  version: string,
  backend: ServerOptions["backend"],
): Promise<never> {
  const stall = Number(Deno.env.get("PLEXUM_STDOUT_STALL_S"));
  const stallMs = (Number.isFinite(stall) && stall > 0 ? stall : 60) * 1000;
  const wire: LineTransport = new LineTransport({
    readable: Deno.stdin.readable,
    writable: Deno.stdout,
    stallMs,
    maxLineBytes: MAX_REQUEST_BYTES,
    onOverflow: (n) => {
      const why = `message of ${n} bytes is over the ${MAX_REQUEST_BYTES} byte limit`;
      wire.send(error(null, ErrorCodes.PARSE, why));
    },
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
        stall_s: stallMs / 1000,
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
