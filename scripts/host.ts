/**
 * A small reference host for the Plexum plugin protocol (PROTOCOL.md): starts
 * the plugin, initializes it, sends each message as one `chat` turn to one
 * workspace, prints what comes back, and shuts the plugin down.
 *
 * Model text goes to stdout as it streams; everything else (turn headers,
 * usage, errors, activity, the plugin's warnings) goes to stderr.
 *
 * ```sh
 * deno run -A scripts/host.ts --workspace /srv/agent "Say hello." "What did you just say?"
 * deno run -A scripts/host.ts --plugin ./plexum-openai-provider-plugin --config host.json "hi"
 * deno run -A scripts/host.ts --history --reasoning --image cat.png "What is this?" "And its colour?"
 * ```
 *
 * Flags: `--plugin PATH` (a compiled plugin; default `deno run` main.ts with
 * the compile task's permissions), `--config FILE` (JSON/JSONC, sent as
 * `initialize`'s `config`), `--workspace DIR` (default a new temp dir),
 * `--model M`, `--system TEXT`, `--reset` (first turn starts a new thread),
 * `--activity` (sets `emit_activity`), `--reasoning` (sets `emit_reasoning`:
 * the model's reasoning on stderr), `--history` (each turn carries the
 * conversation so far, as Plexum sends it: a new Codex thread gets it
 * replayed, a resumed one does not), `--image FILE` (repeatable: PNG, JPEG,
 * GIF or WebP files sent with the first message), `--effort E` (each turn's
 * `reasoning_effort`), `--output-schema FILE` (a JSON Schema each turn's
 * answer must follow, sent as `output_schema`; the parsed `output` is printed
 * on stderr), `--steer` (each message after the first is sent with `steer: true`
 * as soon as the turn before it sends its first event, so it steers that turn
 * while it runs), `--verbose` (the plugin's info logs).
 * A temp workspace is kept, so its session files can be looked at. Ctrl-C
 * cancels the turn in flight and ends the run. Exit code 0 when every turn
 * ended with `end_turn` (or `steered`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseJsonc } from "../lib/config_file.ts";
import { pluginArgs } from "../dev/plugin.ts";
import { ErrorResponse, Peer } from "../lib/jsonrpc/peer.ts";
import { LineTransport } from "../lib/jsonrpc/transport.ts";

/** What {@linkcode runHost} does. */
export interface HostOptions {
  /** Compiled plugin binary; default: `deno run` main.ts with the compile task's permissions. */
  plugin?: string;
  /** Sent as `initialize`'s `config`. */
  config?: Record<string, unknown>;
  /** Absolute path of the agent's workspace. */
  workspace: string;
  /** One turn per message, in order. */
  messages: string[];
  model?: string;
  /** A system message sent with every turn (Codex uses it when a thread starts). */
  system?: string;
  /** The first turn starts a new thread. */
  reset?: boolean;
  /** Each turn also sends the earlier messages and answers (history replay on a new thread). */
  history?: boolean;
  /** Image files sent with the first message (their type from the extension). */
  images?: string[];
  /** Every turn's `reasoning_effort`. */
  effort?: string;
  /** Every turn's `output_schema`. */
  outputSchema?: Record<string, unknown>;
  /** Send each message after the first with `steer: true` while the turn before it runs. */
  steer?: boolean;
  /** Added to the plugin's environment (this process's, or none with `clearEnv`). */
  env?: Record<string, string>;
  /**
   * Start the plugin with `env` alone instead of this process's environment
   * (the demo passes a hermetic one, dev/hermetic.ts); `PLEXUM_LOG` still applies.
   */
  clearEnv?: boolean;
  /** Show the plugin's info logs (default: warnings and errors only). */
  verbose?: boolean;
}

/** How one turn went, as the host saw it. */
export interface TurnOutcome {
  turn_id: string;
  stop_reason: string;
  thread_id: string | null;
  usage: Record<string, number> | null;
  /** Every `text_delta`, joined, each `text_retracted` suffix dropped. */
  text: string;
  /** Every `error` event. */
  errors: { code: string; message: string; retry_after_s?: number }[];
  /** How many earlier messages the plugin replayed into a new thread, if any. */
  replayed_messages?: number;
  /** The parsed answer of a turn with `outputSchema`. */
  output?: unknown;
  /** A steered turn: the turn that got its message; one that was not: why (`steer`). */
  steered_into?: string;
  steer?: string;
}

const enc = new TextEncoder();
let midLine = false; // model text was printed without a final newline
const out = (s: string) => {
  if (s) midLine = !s.endsWith("\n");
  Deno.stdout.writeSync(enc.encode(s));
};
/** stderr, after ending a line of model text on stdout, so the two read well together. */
const note = (s: string) => {
  if (midLine) out("\n");
  Deno.stderr.writeSync(enc.encode(s));
};

type Json = Record<string, unknown>;

/**
 * The host's side of the wire: spawns the plugin and speaks JSON-RPC to it
 * through a {@linkcode Peer} (lib/jsonrpc/peer.ts); `event` notifications go
 * to the handler of their turn. The plugin's stderr is passed through.
 *
 * @example
 * ```ts
 * const c = PluginClient.start(Deno.execPath(), pluginArgs(), {});
 * const init = await c.request("initialize", { protocol_version: 1 });
 * await c.request("shutdown", {});
 * await c.close();
 * ```
 */
export class PluginClient {
  #child: Deno.ChildProcess;
  #peer: Peer;
  #onEvent = new Map<string, (ev: Json) => void>();

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#peer = new Peer(new LineTransport({ readable: child.stdout, writable: child.stdin }), {
      onNotification: (method, params) => {
        const p = params as { turn_id: string; event: Json };
        if (method === "event") this.#onEvent.get(p.turn_id)?.(p.event);
      },
      onInvalid: (line) => note(`[host] the plugin printed a line that is not JSON-RPC: ${line}\n`),
    });
  }

  /** Spawn `cmd args` with `env` added to this process's environment (or alone, with `clearEnv`). */
  static start(
    cmd: string,
    args: string[],
    env: Record<string, string>,
    clearEnv = false,
  ): PluginClient {
    const child = new Deno.Command(cmd, {
      args,
      clearEnv,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new PluginClient(child);
  }

  /** Send a request; `onEvent` gets the events of `params.turn_id` until the response. */
  async request(method: string, params: Json, onEvent?: (ev: Json) => void): Promise<Json> {
    const turnId = params.turn_id as string | undefined;
    if (onEvent && turnId) this.#onEvent.set(turnId, onEvent);
    try {
      return await this.#peer.request<Json>(method, params);
    } catch (e) {
      if (!(e instanceof ErrorResponse)) throw e;
      const data = e.data === undefined ? "" : ` ${JSON.stringify(e.data)}`;
      throw new Error(`${e.code} ${e.message}${data}`);
    } finally {
      if (onEvent && turnId) this.#onEvent.delete(turnId);
    }
  }

  /** Close the plugin's stdin and wait for it to exit. */
  async close(): Promise<Deno.CommandStatus> {
    await this.#peer.endOutput();
    const status = await this.#child.status;
    await this.#peer.closed;
    return status;
  }
}

/** Render one event for people; text goes to stdout, the rest to stderr. */
export function printEvent(ev: Record<string, unknown>): void {
  switch (ev.type) {
    case "text_delta":
      out(String(ev.text));
      break;
    case "usage": {
      const { type: _, ...u } = ev;
      note(`[usage] ${Object.entries(u).map(([k, v]) => `${k}=${v}`).join(" ")}\n`);
      break;
    }
    case "reasoning_delta":
      note(`[reasoning] ${ev.text}\n`);
      break;
    case "text_retracted":
      note(`[retracted] ${JSON.stringify(ev.text)} (abandoned by codex)\n`);
      break;
    case "error": {
      const wait = ev.retry_after_s === undefined ? "" : ` (retry in ${ev.retry_after_s}s)`;
      note(`[error ${ev.code}] ${ev.message}${wait}\n`);
      break;
    }
    case "activity": {
      const item = ev.item as Record<string, unknown>;
      const what = item.command ?? item.query ?? item.tool ?? item.id;
      note(`[activity ${ev.phase}] ${item.type}: ${what}\n`);
      break;
    }
    default:
      note(`[event] ${JSON.stringify(ev)}\n`);
  }
}

/** The command that starts the plugin. */
function pluginCommand(o: HostOptions): { cmd: string; args: string[] } {
  if (o.plugin) return { cmd: o.plugin, args: [] };
  return { cmd: Deno.execPath(), args: pluginArgs() };
}

/** Run the turns; resolves the `initialize` result and each turn's outcome. */
export async function runHost(
  o: HostOptions,
): Promise<{ init: Record<string, unknown>; turns: TurnOutcome[] }> {
  const { cmd, args } = pluginCommand(o);
  const env = { ...o.env };
  const level = Deno.env.get("PLEXUM_LOG");
  if (o.clearEnv && level) env.PLEXUM_LOG ??= level;
  if (!o.verbose && !level) env.PLEXUM_LOG = "warn";
  const client = PluginClient.start(cmd, args, env, o.clearEnv);
  const turns: TurnOutcome[] = [];
  let current: string | undefined;
  let interrupted = false;
  // A terminal's Ctrl-C reaches the plugin too (same process group), which then
  // cancels its turns and exits; the cancel below covers a plugin started elsewhere.
  const onSigint = () => {
    interrupted = true;
    if (current) {
      note(`\n[host] cancelling ${current}\n`);
      client.request("cancel", { turn_id: current }).catch(() => {});
    }
  };
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const init = await client.request("initialize", {
      protocol_version: 1,
      host: { name: "plexum-reference-host", version: "1" },
      config: o.config,
    });
    const plugin = init.plugin as { name: string; version: string };
    note(
      `[host] ${plugin.name} ${plugin.version}, provider ${init.provider}, ` +
        `models ${(init.models as string[]).join(", ")}\n[host] workspace ${o.workspace}\n`,
    );
    const conversation: { role: string; content: unknown }[] = []; // for `history`
    const running: Promise<unknown>[] = []; // --steer: turns not awaited before the next
    for (const [i, message] of o.messages.entries()) {
      const turnId = `turn-${i + 1}-${crypto.randomUUID().slice(0, 8)}`;
      note(`\n[turn ${i + 1}] > ${message}\n`);
      const t: TurnOutcome = {
        turn_id: turnId,
        stop_reason: "",
        thread_id: null,
        usage: null,
        text: "",
        errors: [],
      };
      const content = i === 0 && o.images?.length
        ? [{ type: "text", text: message }, ...(await imageParts(o.images))]
        : message;
      const messages: { role: string; content: unknown }[] = [
        ...(o.system ? [{ role: "system", content: o.system }] : []),
        ...(o.history ? conversation : []),
        { role: "user", content },
      ];
      current = turnId;
      let first!: () => void;
      const firstEvent = new Promise<void>((r) => (first = r));
      const chat = client.request("chat", {
        turn_id: turnId,
        agent: { id: "reference-host", workspace: o.workspace },
        model: o.model,
        reset: i === 0 && o.reset === true,
        messages,
        ...(o.effort && { reasoning_effort: o.effort }),
        ...(o.outputSchema && { output_schema: o.outputSchema }),
        ...(o.steer && i > 0 && { steer: true }),
      }, (ev) => {
        first();
        if (ev.type === "text_delta") t.text += ev.text;
        if (ev.type === "text_retracted") t.text = t.text.slice(0, -String(ev.text).length);
        if (ev.type === "error") t.errors.push(ev as TurnOutcome["errors"][number]);
        printEvent(ev);
      });
      turns.push(t);
      const settle = (r: Json) => {
        Object.assign(t, { stop_reason: r.stop_reason, thread_id: r.thread_id, usage: r.usage });
        for (const k of ["steered_into", "steer"] as const) if (k in r) t[k] = String(r[k]);
        if (typeof r.replayed_messages === "number") t.replayed_messages = r.replayed_messages;
        if ("output" in r) {
          t.output = r.output;
          note(`[turn ${i + 1}] output ${JSON.stringify(r.output)}\n`);
        }
        const more = [
          t.replayed_messages && `replayed_messages=${t.replayed_messages}`,
          t.steered_into && `steered_into=${t.steered_into}`,
          t.steer && `steer=${t.steer}`,
        ].filter(Boolean).map((m) => ` ${m}`).join("");
        note(`[turn ${i + 1}] stop_reason=${t.stop_reason} thread_id=${t.thread_id}${more}\n`);
      };
      if (o.steer && i < o.messages.length - 1) { // the next message steers this turn
        running.push(chat.then(settle));
        await Promise.race([firstEvent, chat]);
        continue;
      }
      settle(await chat);
      current = undefined;
      conversation.push({ role: "user", content }, { role: "assistant", content: t.text });
      if (interrupted) break;
    }
    await Promise.all(running);
    if (interrupted) await client.request("shutdown", {}).catch(() => {});
    else await client.request("shutdown", {});
    return { init, turns };
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    const status = await client.close();
    if (status.code !== 0) note(`[host] the plugin exited with code ${status.code}\n`);
  }
}

const MIME: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};

/** Image parts of a chat message, from files. */
async function imageParts(paths: string[]) {
  return await Promise.all(paths.map(async (path) => {
    const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
    const mime_type = MIME[ext];
    if (!mime_type) throw new Error(`${path}: not a .png, .jpg, .gif or .webp file`);
    const bytes = await Deno.readFile(path);
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return { type: "image", mime_type, data: btoa(bin) };
  }));
}

/** A JSON(C) object from `path` (the config, or an output schema). */
async function readConfig(path: string): Promise<Record<string, unknown>> {
  const parsed = parseJsonc(await Deno.readTextFile(path));
  if (!parsed.ok) throw new Error(`${path}: ${parsed.error.message}`);
  if (typeof parsed.value !== "object" || parsed.value === null || Array.isArray(parsed.value)) {
    throw new Error(`${path}: must hold a JSON object`);
  }
  return parsed.value as Record<string, unknown>;
}

const USAGE = `usage: host.ts [--plugin PATH] [--config FILE] [--workspace DIR] [--model M]
               [--system TEXT] [--reset] [--activity] [--reasoning] [--history]
               [--image FILE]... [--effort E] [--output-schema FILE] [--steer] [--verbose]
               MESSAGE...`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      plugin: { type: "string" },
      config: { type: "string" },
      workspace: { type: "string" },
      model: { type: "string" },
      system: { type: "string" },
      reset: { type: "boolean" },
      activity: { type: "boolean" },
      reasoning: { type: "boolean" },
      history: { type: "boolean" },
      image: { type: "string", multiple: true },
      effort: { type: "string" },
      "output-schema": { type: "string" },
      steer: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals.length === 0) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const config = values.config ? await readConfig(values.config) : {};
  if (values.activity) config.emit_activity = true;
  if (values.reasoning) config.emit_reasoning = true;
  const workspace = values.workspace
    ? await Deno.realPath(values.workspace)
    : await Deno.makeTempDir({ prefix: "plexum-host-" });
  const { turns } = await runHost({
    plugin: values.plugin,
    config,
    workspace,
    messages: positionals,
    model: values.model,
    system: values.system,
    reset: values.reset,
    history: values.history,
    images: values.image,
    effort: values.effort,
    outputSchema: values["output-schema"] ? await readConfig(values["output-schema"]) : undefined,
    steer: values.steer,
    verbose: values.verbose,
  });
  return turns.every((t) => t.stop_reason === "end_turn" || t.stop_reason === "steered") ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`host: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
