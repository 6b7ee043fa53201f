/**
 * plexum-openai-provider-plugin: lets the Plexum agent daemon use OpenAI's
 * Codex CLI as a model provider. `serve` (the default) speaks the Plexum
 * plugin protocol on stdin/stdout, `chat` runs one turn (here), `doctor`
 * checks the install (lib/cli/doctor.ts). Where things live follows the data
 * flow, host → lib/protocol → lib/turns → lib/codex → Codex (README, "Where
 * things live").
 *
 * @module
 */
import { parseArgs } from "node:util";
import meta from "./deno.json" with { type: "json" };
import { type Config, CONFIG_KEYS } from "./lib/config.ts";
import { loadConfigFile } from "./lib/config_file.ts";
import { doctor } from "./lib/cli/doctor.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { selectBackend } from "./lib/codex/select.ts";
import { sandboxGuarded } from "./lib/codex/sandbox.ts";
import { applyLogConfig, serve } from "./lib/protocol/stdio.ts";
import { Server } from "./lib/protocol/server.ts";

/** The plugin's version, from deno.json (embedded by `deno compile`). */
export const VERSION: string = meta.version;

/** Every flag the CLI accepts (`node:util`'s `parseArgs` reads them). */
export const FLAGS = {
  config: { type: "string" },
  workspace: { type: "string" },
  model: { type: "string" },
  reset: { type: "boolean" },
  version: { type: "boolean", short: "V" },
  help: { type: "boolean", short: "h" },
} as const;

/** `--help` text: every subcommand, flag and config key. */
export function usage(): string {
  const keys = Object.entries(CONFIG_KEYS).map(([k, d]) => `  ${k.padEnd(18)} ${d}`).join("\n");
  return `plexum-openai-provider-plugin ${VERSION}: OpenAI Codex CLI as a Plexum model provider

Usage:
  plexum-openai-provider-plugin [serve] [--config FILE]
      Speak the Plexum plugin protocol (JSON-RPC 2.0 lines) on stdin/stdout.
  plexum-openai-provider-plugin chat --workspace DIR [--model M] [--config FILE] [--reset] MESSAGE
      Run one turn; text to stdout, usage to stderr; exit 0 only on success.
  plexum-openai-provider-plugin doctor [--workspace DIR] [--config FILE]
      Check codex, its version, login, backend and the workspace; exit 0 when every check
      passed (credentials are checked for presence, not tried; CODEX_HOME is left unchanged).

Flags:
  --config FILE      HostConfig as JSONC (comments and trailing commas allowed)
  --workspace DIR    the agent workspace (chat, doctor)
  --model M          a model id from supported_models (chat)
  --reset            start a new Codex thread (chat)
  -V, --version      print the version
  -h, --help         print this help

Config keys (--config file, or "config" in initialize, which overrides the file key by key):
${keys}

Environment (the plugin passes its whole environment on to Codex):
  PLEXUM_LOG         log level (error|warn|info|debug), overrides log_level
  CODEX_HOME         Codex's state and login (default ~/.codex)
  CODEX_API_KEY      an API key codex exec uses instead of its login
  OPENAI_API_KEY     an API key; passed to codex as CODEX_API_KEY unless codex is logged in
  PATH, HOME         where a bare "binary" is looked for (see doctor)
  XDG_STATE_HOME     where a read-only workspace's usage baseline and run record go
                     (default ~/.local/state; PROTOCOL.md, files in the workspace)
  JOURNAL_STREAM     set by systemd; when it names stderr, each log line starts with
                     journald's <N> priority (<3> error ... <7> debug)
  PLEXUM_STDOUT_STALL_S
                     seconds one write to stdout may stay blocked before the host
                     counts as gone and the plugin stops (default 60)
`;
}

/**
 * `chat`: one turn through the very {@linkcode Server} that serves Plexum;
 * text to stdout as it arrives, usage and errors to stderr; resolves the exit
 * code, 0 only for a turn that ended normally.
 */
async function chat(
  config: Config,
  log: Logger,
  version: string,
  a: { workspace: string; message: string; model?: string; reset?: boolean },
): Promise<number> {
  const enc = new TextEncoder();
  let exitCode = 1;
  const finished = Promise.withResolvers<void>();
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
      if (msg.id === "chat" || msg.id === "init") finished.resolve();
    } else if (msg.id === "chat") {
      if (text && !text.endsWith("\n")) write("\n");
      const r = msg.result;
      write(`stop_reason: ${r.stop_reason} thread_id: ${r.thread_id}\n`, Deno.stderr);
      exitCode = r.stop_reason === "end_turn" ? 0 : 1;
      finished.resolve();
    }
  };
  const backend = sandboxGuarded(selectBackend);
  const server = new Server({ send, log, baseConfig: config, version, backend });
  const cancel = () => server.shutdown();
  Deno.addSignalListener("SIGINT", cancel);
  Deno.addSignalListener("SIGTERM", cancel);
  const request = (id: string, method: string, params: unknown) =>
    server.handle(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  // The host's name is in the plugin's "initialized" log line.
  request("init", "initialize", { protocol_version: 1, host: { name: "chat", version } });
  const workspace = a.workspace.startsWith("/") ? a.workspace : `${Deno.cwd()}/${a.workspace}`;
  request("chat", "chat", {
    turn_id: "cli",
    agent: { id: "cli", workspace },
    model: a.model,
    reset: a.reset ?? false,
    messages: [{ role: "user", content: a.message }],
  });
  await finished.promise;
  await server.shutdown(); // ends what the backend keeps running
  Deno.removeSignalListener("SIGINT", cancel);
  Deno.removeSignalListener("SIGTERM", cancel);
  return exitCode;
}

if (import.meta.main) {
  const log = createLogger();
  let flags;
  try {
    flags = parseArgs({ args: Deno.args, options: FLAGS, allowPositionals: true, strict: true });
  } catch (e) {
    console.error(`${(e as Error).message}\nSee --help.`);
    Deno.exit(2);
  }
  const { values, positionals } = flags;
  if (values.version) {
    console.log(VERSION);
    Deno.exit(0);
  }
  if (values.help) {
    console.log(usage());
    Deno.exit(0);
  }
  const loaded = await loadConfigFile(values.config);
  if (!loaded.ok) {
    console.error(loaded.error);
    Deno.exit(2);
  }
  const config = loaded.value;
  applyLogConfig(log, config);
  const [command = "serve", ...rest] = positionals;
  if ((command === "serve" || command === "doctor") && rest.length > 0) {
    console.error(`${command}: unexpected argument ${rest[0]}\nSee --help.`);
    Deno.exit(2);
  }
  switch (command) {
    case "serve":
      await serve(config, log, VERSION, sandboxGuarded(selectBackend));
      break;
    case "chat": {
      if (!values.workspace || rest.length === 0) {
        console.error("usage: chat --workspace DIR [--model M] [--config FILE] [--reset] MESSAGE");
        Deno.exit(2);
      }
      const message = rest.join(" ");
      Deno.exit(
        await chat(config, log, VERSION, {
          workspace: values.workspace,
          message,
          model: values.model,
          reset: values.reset,
        }),
      );
      break;
    }
    case "doctor":
      Deno.exit(await doctor(config, { workspace: values.workspace }));
      break;
    default:
      console.error(`unknown subcommand: ${command}\nSee --help.`);
      Deno.exit(2);
  }
}
