/**
 * Drives the plugin the way Plexum does: `main.ts` as a subprocess, started
 * with exactly the permission flags of deno.json's `compile:raw` task, JSON-RPC
 * lines on its stdin/stdout. `initialize` gets the backend the test run pins
 * with `PLEXUM_TEST_BACKEND` ({@linkcode testBackend}), so the whole suite runs
 * on either backend.
 *
 * @example
 * ```ts
 * const p = startPlugin();
 * await p.request("initialize", { protocol_version: 1, config: {...} });
 * const r = await p.request("chat", {...});
 * p.eventsOf("t1"); // the turn's event notifications
 * await p.close();
 * ```
 *
 * The lines go through a {@linkcode LineTransport} (lib/jsonrpc/transport.ts),
 * the framing half of the JSON-RPC peer, and not through the peer itself: a
 * protocol test chooses its own ids (repeated ones, strings), sends lines no
 * peer would, and must see every line the plugin writes, JSON or not.
 *
 * @module
 */

import { deadline, isTimeout } from "../lib/async.ts";
import { LineTransport } from "../lib/jsonrpc/transport.ts";
import { hermetic } from "./hermetic.ts";
import { ProtocolChecker } from "./protocol_check.ts";
import { BACKEND_DEPENDENT, callingTestFile, LOAD } from "./suite.ts";

const root = new URL("../", import.meta.url).pathname;

/** Backends a test run can pin with `PLEXUM_TEST_BACKEND` (see {@linkcode testBackend}). */
export const TEST_BACKENDS = ["auto", "app-server", "exec"] as const;

/**
 * The config the test run pins the backend with: `PLEXUM_TEST_BACKEND=exec`
 * (or `app-server`, `auto`) gives `{ backend: "exec" }`; unset gives `{}`, so
 * plugins run with their default. CI runs the suite on the default and the
 * files of dev/suite.ts's `BACKEND_DEPENDENT` on exec, and the `LOAD` test on
 * each; called from a test file in neither list, it throws (the exec pass
 * would skip that file). A test that pins `backend` itself keeps its own value.
 *
 * @example
 * ```ts
 * import { testBackend } from "./plugin.ts";
 * const config = { ...testBackend(), binary: "/usr/bin/codex" };
 * ```
 */
export function testBackend(): { backend?: (typeof TEST_BACKENDS)[number] } {
  // The exec pass runs only the files listed as depending on the run's backend; CI runs the load
  // test on each backend itself.
  const file = callingTestFile();
  if (file && !BACKEND_DEPENDENT.includes(file) && !LOAD.includes(file)) {
    throw new Error(
      `${file} leaves the backend to the run (PLEXUM_TEST_BACKEND) but dev/suite.ts does not ` +
        "list it in BACKEND_DEPENDENT, so CI's exec pass would skip it: list it, or pin `backend`",
    );
  }
  const v = Deno.env.get("PLEXUM_TEST_BACKEND");
  if (!v) return {};
  if (!(TEST_BACKENDS as readonly string[]).includes(v)) {
    throw new Error(`PLEXUM_TEST_BACKEND must be one of ${TEST_BACKENDS.join(", ")}, not ${v}`);
  }
  return { backend: v as (typeof TEST_BACKENDS)[number] };
}

/**
 * `initialize` params with the run's backend ({@linkcode testBackend}) under
 * the test's own config; params whose config is not an object are left as
 * they are (tests of invalid configs).
 */
export function withTestBackend(params: unknown): unknown {
  if (typeof params !== "object" || params === null || Array.isArray(params)) return params;
  const p = params as Record<string, unknown>;
  const config = p.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) return params;
  if ("backend" in config) return params; // the test's own
  return { ...p, config: { ...testBackend(), ...config } };
}

/** Permission flags of the `compile:raw` task (the bare deno compile line): the one source of truth. */
export function permissionFlags(): string[] {
  const deno = JSON.parse(Deno.readTextFileSync(`${root}deno.json`));
  const flags = (deno.tasks["compile:raw"] as string).split(/\s+/).filter((a) =>
    /^--(allow|deny)-/.test(a)
  );
  if (flags.length === 0 || flags.includes("--allow-all") || flags.includes("-A")) {
    throw new Error("compile task must list explicit permissions");
  }
  return flags;
}

/** argv (after `deno`) that runs main.ts as the compiled binary would. */
export function pluginArgs(args: string[] = []): string[] {
  return ["run", "--no-prompt", ...permissionFlags(), `${root}main.ts`, ...args];
}

/** A JSON-RPC message as received (loosely typed: tests inspect any field). */
// deno-lint-ignore no-explicit-any
export type Msg = Record<string, any>;

/** A running plugin. */
export interface Plugin {
  child: Deno.ChildProcess;
  /** Every message received so far, in order. */
  messages: Msg[];
  /** stderr so far. */
  stderr(): string;
  /** Send a raw line. */
  sendLine(line: string): Promise<void>;
  /** Send a request and wait for its response. */
  request(method: string, params?: unknown, id?: string | number): Promise<Msg>;
  /** Send a request without waiting; returns the id. */
  send(method: string, params?: unknown, id?: string | number): Promise<string | number>;
  /** Resolve with the first message matching `pred` (already received or future). */
  waitFor(pred: (m: Msg) => boolean, timeoutMs?: number): Promise<Msg>;
  /** The `event` payloads of one turn. */
  eventsOf(turnId: string): Msg[];
  /** Close stdin and wait for exit; throws if the plugin broke the protocol. */
  close(): Promise<Deno.CommandStatus>;
  /**
   * Messages of the plugin that do not match the protocol's JSON Schema
   * (dev/protocol_check.ts). The first one fails every `waitFor`/`request`
   * and `close` from then on, so a protocol change fails the test.
   */
  protocolErrors: string[];
}

let nextId = 1;

/**
 * Start the plugin. Its environment is hermetic (dev/hermetic.ts): a new empty
 * `HOME` and `CODEX_HOME`, removed when the plugin exits, with `env` added
 * over them (a test's own `CODEX_HOME`, `PATH`, keys...).
 */
export function startPlugin(
  opts: { env?: Record<string, string>; args?: string[]; cwd?: string; wrap?: string[] } = {},
): Plugin {
  // `wrap`: a command that execs its arguments (e.g. setpriv with fewer capabilities).
  const argv = [...(opts.wrap ?? []), Deno.execPath(), ...pluginArgs(opts.args)];
  const dirs = hermetic();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    clearEnv: true,
    env: dirs.env(opts.env),
    cwd: opts.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Synchronous, so a test that awaited the exit leaves no pending operation behind.
  child.status.then(() => dirs[Symbol.dispose](), () => dirs[Symbol.dispose]());
  const messages: Msg[] = [];
  const waiters: {
    pred: (m: Msg) => boolean;
    resolve: (m: Msg) => void;
    reject: (e: Error) => void;
  }[] = [];
  const protocol = new ProtocolChecker();
  const protocolErrors: string[] = [];
  let err = "";
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) err += chunk;
  })();
  // Lines of invalid UTF-8 come with U+FFFD: the checker then names the bad message.
  const wire = new LineTransport({
    readable: child.stdout,
    writable: child.stdin,
    onInvalidUtf8: () => {},
  });
  (async () => {
    for await (const line of wire.lines()) {
      if (line === undefined) continue;
      let m: Msg;
      try {
        m = JSON.parse(line);
      } catch {
        m = { __not_json: line };
      }
      messages.push(m);
      const bad = protocol.received(m);
      if (bad) {
        protocolErrors.push(bad);
        for (const w of waiters.splice(0)) w.reject(new Error(bad));
      }
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pred(m)) waiters.splice(i, 1)[0].resolve(m);
      }
    }
  })();
  const p: Plugin = {
    child,
    messages,
    stderr: () => err,
    protocolErrors,
    sendLine: (line) => (protocol.sent(line), wire.sendLine(line)),
    async send(method, params = {}, id = nextId++) {
      if (method === "initialize") params = withTestBackend(params);
      await p.sendLine(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      return id;
    },
    async request(method, params = {}, id) {
      const sent = await p.send(method, params, id);
      return p.waitFor((m) => m.id === sent && !("method" in m), 60_000);
    },
    waitFor(pred, timeoutMs = 60_000) {
      if (protocolErrors.length) return Promise.reject(new Error(protocolErrors[0]));
      const have = messages.find(pred);
      if (have) return Promise.resolve(have);
      const waiter = { pred, resolve: (_: Msg) => {}, reject: (_: Error) => {} };
      const seen = new Promise<Msg>((resolve, reject) => {
        Object.assign(waiter, { resolve, reject });
        waiters.push(waiter);
      });
      return deadline(seen, timeoutMs).catch((e) => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        if (isTimeout(e)) {
          throw new Error(`timed out waiting for a message; stderr:\n${err.slice(-3000)}`);
        }
        throw e;
      });
    },
    eventsOf: (turnId) =>
      messages.filter((m) => m.method === "event" && m.params?.turn_id === turnId).map((m) =>
        m.params.event
      ),
    async close() {
      await wire.endOutput();
      const status = await child.status;
      if (protocolErrors.length) throw new Error(protocolErrors.join("\n"));
      return status;
    },
  };
  return p;
}
