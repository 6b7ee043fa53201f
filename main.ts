/**
 * plexum-openai-provider-plugin: lets the Plexum agent daemon use OpenAI's
 * Codex CLI as a model provider.
 *
 *   (no subcommand) | serve   the Plexum plugin protocol on stdin/stdout
 *   chat                      one turn from the command line
 *   doctor                    check the install, one line per check
 *
 * Where things live follows the data flow, host → protocol → turns → backend
 * → Codex (README, "Where things live"):
 *
 *   lib/protocol/   stdio framing (stdio.ts), requests and replies (server.ts),
 *                   chat params (chat_params.ts)
 *   lib/turns/      the backend contract (backend.ts), per-workspace queue,
 *                   cancel and drain (scheduler.ts), the workspace lock
 *   lib/codex/      finding and ending Codex, the session file, per-turn usage,
 *                   which backend a config gets (select.ts); one folder per
 *                   backend: exec/ (a `codex exec` per turn) and app_server/
 *                   (one warm `codex app-server` per plugin)
 *   lib/cli/        the chat and doctor subcommands, flags
 *   lib/            leaves every layer may use: config, log, rpc, lines, result
 *
 * @module
 */
import meta from "./deno.json" with { type: "json" };
import { chat } from "./lib/cli/chat.ts";
import { CONFIG_KEYS } from "./lib/config.ts";
import { loadConfigFile } from "./lib/config_file.ts";
import { doctor } from "./lib/cli/doctor.ts";
import { parseFlags } from "./lib/cli/flags.ts";
import { createLogger } from "./lib/log.ts";
import { selectBackend } from "./lib/codex/select.ts";
import { sandboxGuarded } from "./lib/codex/sandbox.ts";
import { applyLogConfig, serve } from "./lib/protocol/stdio.ts";

/** The plugin's version, from deno.json (embedded by `deno compile`). */
export const VERSION: string = meta.version;

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

if (import.meta.main) {
  const log = createLogger();
  let flags;
  try {
    flags = parseFlags(Deno.args);
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
