/**
 * One JSON-RPC peer for every connection the plugin and its tools hold: our
 * requests matched to their answers by id, each bounded by `{signal,
 * timeout}`; notifications both ways; the other side's requests answered by
 * a handler; one end (EOF, a read error, {@linkcode Peer.close}) that fails
 * what is pending with {@linkcode PeerClosed}. Codex's app-server leaves out
 * `"jsonrpc"`: `jsonrpc: false`.
 *
 * @example
 * ```ts
 * import { Peer } from "./peer.ts";
 * import { LineTransport } from "./transport.ts";
 * const cmd = new Deno.Command("codex", { args: ["app-server"], stdin: "piped", stdout: "piped" });
 * const { stdout, stdin } = cmd.spawn();
 * const peer = new Peer(new LineTransport({ readable: stdout, writable: stdin }), {
 *   jsonrpc: false,
 * });
 * await peer.request("initialize", { clientInfo: { name: "x", version: "1" } }, { timeout: 9000 });
 * peer.close();
 * ```
 *
 * @module
 */
import { abortable, type Clock, deadline, isTimeout } from "../async.ts";
import { ErrorCodes, type Id, type JsonObject } from "./message.ts";
import type { LineTransport } from "./transport.ts";

/** The other side answered a request with an error; thrown by a request handler, it is the reply. */
export class ErrorResponse extends Error {
  constructor(readonly code: number, message: string, readonly data?: unknown) {
    super(message);
    this.name = "ErrorResponse";
  }
}

/** A request got no answer within its timeout. */
export class RequestTimedOut extends Error {
  constructor(readonly method: string, readonly timeoutMs: number) {
    super(`${method} was not answered within ${timeoutMs / 1000}s`);
    this.name = "RequestTimedOut";
  }
}

/** The connection ended before the answer came. */
export class PeerClosed extends Error {
  constructor(readonly method?: string) {
    super(method ? `the connection ended before ${method} was answered` : "the connection ended");
    this.name = "PeerClosed";
  }
}

/** Options of one request: `signal` ends the wait (not the request), `timeout` in ms. */
export interface RequestOptions {
  signal?: AbortSignal;
  timeout?: number;
}

/** How a {@linkcode Peer} behaves; every handler optional. */
export interface PeerOptions {
  /** Put `"jsonrpc":"2.0"` in what we send (default true; Codex's app-server wants none). */
  jsonrpc?: boolean;
  /** Default timeout of a request, in ms. */
  timeoutMs?: number;
  /** The other side's request: return (or resolve) the result, throw {@linkcode ErrorResponse}. */
  onRequest?(method: string, params: JsonObject, id: Id): unknown;
  onNotification?(method: string, params: JsonObject): void;
  /** A line that is no JSON-RPC message (`undefined`: not valid UTF-8). */
  onInvalid?(line: string | undefined): void;
  /** An answer to a request that is no longer pending (timed out, or never sent). */
  onStrayResponse?(msg: JsonObject): void;
  /** A handler threw. */
  onHandlerError?(e: unknown, method: string): void;
  /** Every message, as it goes out or comes in (a recorder's transcript). */
  onTrace?(dir: "in" | "out", msg: JsonObject): void;
  /** The input ended; called once, after what was pending has failed. */
  onClose?(): void;
  clock?: Clock;
}

type Pending = { method: string; resolve(v: unknown): void; reject(e: Error): void };
const isId = (v: unknown): v is string | number => typeof v === "string" || typeof v === "number";

/** A JSON-RPC connection over a {@linkcode LineTransport}; see the module doc. */
export class Peer {
  #t: LineTransport;
  #o: PeerOptions;
  #next = 1;
  #pending = new Map<number, Pending>();
  #closed = false;
  /** Resolves once the input has ended (or {@linkcode Peer.close} was called). */
  readonly closed: Promise<void>;

  constructor(transport: LineTransport, o: PeerOptions = {}) {
    this.#t = transport;
    this.#o = o;
    this.closed = this.#read().finally(() => this.#end());
  }

  /** True once the connection has ended. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Send a request; its result, or {@linkcode ErrorResponse}, a timeout, a close, an abort. */
  async request<T = unknown>(
    method: string,
    params: unknown,
    opts: RequestOptions = {},
  ): Promise<T> {
    if (this.#closed) throw new PeerClosed(method);
    const { signal } = opts;
    signal?.throwIfAborted();
    const id = this.#next++;
    const { promise: answer, resolve, reject } = Promise.withResolvers<unknown>();
    this.#pending.set(id, { method, resolve, reject });
    this.send({ id, method, params });
    const ms = opts.timeout ?? this.#o.timeoutMs ?? Infinity;
    try {
      if (Number.isFinite(ms)) {
        return await deadline(answer, ms, { signal, clock: this.#o.clock }) as T;
      }
      return await (signal ? abortable(answer, signal) : answer) as T;
    } catch (e) {
      if (isTimeout(e) && !(signal?.aborted && e === signal.reason)) {
        throw new RequestTimedOut(method, ms);
      }
      throw e;
    } finally {
      this.#pending.delete(id);
    }
  }

  /** Send a notification. */
  notify(method: string, params?: unknown): Promise<void> {
    return this.send(params === undefined ? { method } : { method, params });
  }

  /** Send a message as it is (with `"jsonrpc"` added unless `jsonrpc: false`). */
  send(msg: JsonObject): Promise<void> {
    const m = this.#o.jsonrpc === false ? msg : { jsonrpc: "2.0", ...msg };
    this.#o.onTrace?.("out", m);
    return this.#t.send(m);
  }

  /** End our output once what was sent is written; the other side's answers are still read. */
  endOutput(): Promise<void> {
    return this.#t.endOutput();
  }

  /** Stop: end our output, stop reading, fail what is pending. */
  close(): void {
    this.#end();
    this.#t.close();
  }

  async #read() {
    try {
      for await (const line of this.#t.lines()) {
        if (this.#closed) break;
        if (line === "") continue;
        let msg: unknown;
        try {
          msg = line === undefined ? undefined : JSON.parse(line);
        } catch { /* reported below */ }
        if (!msg || typeof msg !== "object" || Array.isArray(msg)) {
          this.#o.onInvalid?.(line);
          continue;
        }
        this.#o.onTrace?.("in", msg as JsonObject);
        this.#dispatch(msg as JsonObject);
      }
    } catch (e) {
      // A read error ends the connection as EOF does; the handler hears why.
      if (!this.#closed) this.#o.onHandlerError?.(e, "(reading)");
    }
  }

  #dispatch(msg: JsonObject) {
    if (typeof msg.method === "string") {
      const params = (msg.params && typeof msg.params === "object" ? msg.params : {}) as JsonObject;
      if (isId(msg.id)) return this.#answer(msg.id, msg.method, params);
      try {
        this.#o.onNotification?.(msg.method, params);
      } catch (e) {
        this.#o.onHandlerError?.(e, msg.method);
      }
      return;
    }
    const p = typeof msg.id === "number" ? this.#pending.get(msg.id) : undefined;
    if (!p) return this.#o.onStrayResponse?.(msg);
    this.#pending.delete(msg.id as number);
    if (msg.error && typeof msg.error === "object") {
      const e = msg.error as { code?: unknown; message?: unknown; data?: unknown };
      const code = typeof e.code === "number" ? e.code : ErrorCodes.INTERNAL;
      p.reject(new ErrorResponse(code, String(e.message ?? "error without a message"), e.data));
    } else p.resolve(msg.result ?? {});
  }

  #answer(id: string | number, method: string, params: JsonObject) {
    const fail = (e: unknown) => {
      if (!(e instanceof ErrorResponse)) this.#o.onHandlerError?.(e, method);
      const { code, message, data } = e instanceof ErrorResponse
        ? e
        : { code: ErrorCodes.INTERNAL, message: String(e), data: undefined };
      this.send({ id, error: { code, message, ...(data !== undefined && { data }) } });
    };
    const handler = this.#o.onRequest;
    try {
      if (!handler) {
        throw new ErrorResponse(ErrorCodes.METHOD_NOT_FOUND, `unknown method: ${method}`);
      }
      const r = handler(method, params, id);
      if (r instanceof Promise) r.then((result) => this.send({ id, result }), fail);
      else this.send({ id, result: r });
    } catch (e) {
      fail(e);
    }
  }

  #end() {
    if (this.#closed) return;
    this.#closed = true;
    this.#t.endOutput();
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(new PeerClosed(p.method));
    }
    this.#o.onClose?.();
  }
}
