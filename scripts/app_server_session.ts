/**
 * A JSON-RPC session with one real `codex app-server` process, keeping the
 * whole conversation as a transcript (what scripts/record_app_server.ts
 * writes as a fixture). It is a {@linkcode Peer} on Codex's wire (no
 * `"jsonrpc"`), with every message traced as it goes by.
 *
 * @example
 * ```ts
 * import { Session } from "./app_server_session.ts";
 * const ses = new Session("codex", ["app-server"], "/tmp", {});
 * await ses.request("initialize", { clientInfo: { name: "x", version: "0" } });
 * const { status } = await ses.close();
 * console.log(ses.lines.length, status.code);
 * ```
 *
 * @module
 */
import { deadline, within } from "../lib/async.ts";
import { ErrorResponse, Peer } from "../lib/jsonrpc/peer.ts";
import { LineTransport } from "../lib/jsonrpc/transport.ts";

/** One line of a transcript. */
export interface TranscriptLine {
  /** `out`: sent by the client to the app-server; `in`: written by the app-server. */
  dir: "out" | "in";
  /** Milliseconds since the app-server was spawned. */
  ms: number;
  // deno-lint-ignore no-explicit-any
  msg: Record<string, any>;
}

/**
 * A JSON-RPC session with one app-server process (a {@linkcode Peer} on
 * Codex's wire, without `"jsonrpc"`), keeping the transcript.
 */
export class Session {
  readonly lines: TranscriptLine[] = [];
  readonly child: Deno.ChildProcess;
  /** Lines the app-server wrote that are no JSON-RPC message (a recording with any fails). */
  readonly invalid: (string | undefined)[] = [];
  #t0 = performance.now();
  #peer: Peer;
  #waiters: { pred: (m: TranscriptLine["msg"]) => boolean; resolve: () => void }[] = [];
  #stderr: Promise<string>;
  /** Answers server→client requests (approvals…); returns the `result` or throws for an error reply. */
  onRequest: (method: string, params: unknown) => unknown = () => {
    throw new Error("not supported by the recorder");
  };

  constructor(bin: string, argv: string[], cwd: string, env: Record<string, string>) {
    this.child = new Deno.Command(bin, {
      args: argv,
      cwd,
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stderr = new Response(this.child.stderr).text();
    const transport = new LineTransport({
      readable: this.child.stdout,
      writable: this.child.stdin,
    });
    this.#peer = new Peer(transport, {
      jsonrpc: false,
      onTrace: (dir, msg) => {
        this.lines.push({ dir, ms: this.#ms(), msg });
        if (dir === "in") this.#wake(msg);
      },
      onRequest: (method, params) => {
        try {
          return this.onRequest(method, params);
        } catch (e) {
          throw new ErrorResponse(-32000, (e as Error).message);
        }
      },
      onInvalid: (line) => this.invalid.push(line),
    });
  }

  #ms() {
    return Math.round(performance.now() - this.#t0);
  }

  #wake(msg: TranscriptLine["msg"]) {
    for (const w of [...this.#waiters]) {
      if (w.pred(msg)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Send a notification. */
  notify(method: string) {
    this.#peer.notify(method);
  }

  /** Resolves at the next incoming message matching `pred`; rejects after `ms`. */
  async waitFor(
    pred: (m: TranscriptLine["msg"]) => boolean,
    what: string,
    ms = 60_000,
  ): Promise<void> {
    const seen = new Promise<void>((resolve) => this.#waiters.push({ pred, resolve }));
    await deadline(seen, ms).catch(() => {
      throw new Error(`timed out waiting for ${what}`);
    });
  }

  /** Send a request; resolves `{result}` or `{error}`, as the response said. */
  async request(method: string, params: unknown): Promise<TranscriptLine["msg"]> {
    try {
      return { result: await this.#peer.request(method, params, { timeout: 60_000 }) };
    } catch (e) {
      if (!(e instanceof ErrorResponse)) throw e;
      return { error: { code: e.code, message: e.message } };
    }
  }

  /** Close stdin and wait for the exit (killing after 10 s). */
  async close() {
    await this.#peer.endOutput();
    if (!(await within(this.child.status, 10_000, undefined))) this.child.kill("SIGKILL");
    const status = await this.child.status;
    await this.#peer.closed;
    return { status, stderr: await this.#stderr };
  }
}
