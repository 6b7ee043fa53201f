/**
 * `chat`: one turn from the command line, through the very {@linkcode Server}
 * that serves Plexum. Text goes to stdout as it arrives, usage and errors to
 * stderr; the exit code is 0 only for a turn that ended normally.
 *
 * @example
 * ```ts
 * import { chat } from "./chat.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const code = await chat({ ...DEFAULTS }, createLogger(), "0.1.0", {
 *   workspace: "/srv/agent",
 *   message: "hi",
 * });
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { selectBackend } from "../codex/select.ts";
import { sandboxGuarded } from "../codex/sandbox.ts";
import { Server } from "../protocol/server.ts";

/** What the `chat` subcommand was given. */
export interface ChatArgs {
  workspace: string;
  message: string;
  model?: string;
  reset?: boolean;
}

/** Run one turn; resolves the process exit code. */
export async function chat(
  config: Config,
  log: Logger,
  version: string,
  a: ChatArgs,
): Promise<number> {
  const enc = new TextEncoder();
  let exitCode = 1;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let text = ""; // the last bit of reply written, to end it with a newline
  const write = (s: string, to = Deno.stdout) => {
    const bytes = enc.encode(s);
    try {
      for (let at = 0; at < bytes.length;) at += to.writeSync(bytes.subarray(at));
    } catch { /* reader gone (EPIPE): keep going so the turn still ends and exits */ }
  };
  // deno-lint-ignore no-explicit-any
  const send = (msg: any) => {
    const ev = msg.params?.event;
    if (ev?.type === "text_delta") {
      write(ev.text);
      text = ev.text;
    } else if (ev?.type === "usage") {
      const { type: _, ...usage } = ev;
      write(`usage: ${JSON.stringify(usage)}\n`, Deno.stderr);
    } else if (ev?.type === "error") write(`error (${ev.code}): ${ev.message}\n`, Deno.stderr);
    else if (msg.error) {
      write(`error: ${msg.error.message}\n`, Deno.stderr);
      if (msg.id === "chat" || msg.id === "init") done();
    } else if (msg.id === "chat") {
      if (text && !text.endsWith("\n")) write("\n");
      const r = msg.result;
      write(`stop_reason: ${r.stop_reason} thread_id: ${r.thread_id}\n`, Deno.stderr);
      exitCode = r.stop_reason === "end_turn" ? 0 : 1;
      done();
    }
  };
  const server = new Server({
    send,
    log,
    baseConfig: config,
    version,
    backend: sandboxGuarded(selectBackend),
  });
  const cancel = () => server.shutdown();
  Deno.addSignalListener("SIGINT", cancel);
  Deno.addSignalListener("SIGTERM", cancel);
  server.handle(
    JSON.stringify({
      jsonrpc: "2.0",
      id: "init",
      method: "initialize",
      // Named in the plugin's "initialized" log line, as a host names itself.
      params: { protocol_version: 1, host: { name: "chat", version } },
    }),
  );
  server.handle(JSON.stringify({
    jsonrpc: "2.0",
    id: "chat",
    method: "chat",
    params: {
      turn_id: "cli",
      agent: {
        id: "cli",
        workspace: a.workspace.startsWith("/") ? a.workspace : `${Deno.cwd()}/${a.workspace}`,
      },
      model: a.model,
      reset: a.reset ?? false,
      messages: [{ role: "user", content: a.message }],
    },
  }));
  await finished;
  await server.shutdown(); // ends what the backend keeps running
  Deno.removeSignalListener("SIGINT", cancel);
  Deno.removeSignalListener("SIGTERM", cancel);
  return exitCode;
}
