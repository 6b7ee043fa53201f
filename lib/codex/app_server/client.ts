/**
 * JSON-RPC over lines with a `codex app-server`: one object per line, no
 * `"jsonrpc"` field needed either way. Three kinds of traffic:
 *
 * - our requests, each with a timeout: the app-server answers a line it
 *   cannot parse with silence, so a request that is never answered must not
 *   hang a turn;
 * - its notifications, routed to the subscribers of their thread
 *   (`params.threadId`, or `params.thread.id` for `thread/started`); the
 *   rest (`configWarning`, `account/rateLimits/updated`, …) are logged at
 *   debug;
 * - its requests to us (approvals, elicitations, …), always answered at once
 *   by {@linkcode answerServerRequest}, so no turn waits on a human who is
 *   not there.
 *
 * When the stream ends every pending request rejects with
 * {@linkcode ConnectionClosed} and every subscriber's `onClose` runs once.
 *
 * The JSON-RPC itself (ids, timeouts, the end) is the generic
 * {@linkcode Peer}'s (lib/jsonrpc/peer.ts); this module is what is special
 * about the app-server: its wire without `"jsonrpc"`, its errors named after
 * it, routing by thread.
 *
 * @example
 * ```ts
 * import { AppServerClient } from "./client.ts";
 * import { createLogger } from "../../log.ts";
 * const pipe = new TransformStream<Uint8Array, Uint8Array>();
 * const client = new AppServerClient({
 *   readable: new ReadableStream({ start: (c) => c.close() }),
 *   writable: pipe.writable,
 *   log: createLogger(),
 * });
 * await client.closed; // the server's output ended at once
 * ```
 *
 * @module
 */
import { type Clock } from "../../async.ts";
import { ErrorResponse, Peer, PeerClosed, RequestTimedOut } from "../../jsonrpc/peer.ts";
import { LineTransport } from "../../jsonrpc/transport.ts";
import type { Logger } from "../../log.ts";
import { answerServerRequest } from "./server_requests.ts";

/** Default time a request may wait for its answer. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** The app-server answered a request with a JSON-RPC error. */
export class RpcError extends Error {
  constructor(readonly method: string, readonly code: number, message: string) {
    super(message);
    this.name = "RpcError";
  }
}

/** A request got no answer in time. */
export class RequestTimeout extends Error {
  constructor(readonly method: string, readonly timeoutMs: number) {
    super(`codex app-server did not answer ${method} within ${timeoutMs / 1000}s`);
    this.name = "RequestTimeout";
  }
}

/** The connection ended before the answer came. */
export class ConnectionClosed extends Error {
  constructor(readonly method?: string) {
    super(
      method
        ? `codex app-server closed its output before answering ${method}`
        : "codex app-server closed its output",
    );
    this.name = "ConnectionClosed";
  }
}

/** Receives one thread's notifications. */
export interface ThreadSubscriber {
  onNotification(method: string, params: Record<string, unknown>): void;
  /** A request of the thread's turn that was just answered for us (it shows the turn is alive). */
  onServerRequest?(method: string, params: Record<string, unknown>): void;
  /** The connection ended; called once. */
  onClose(): void;
}

/** Inputs of {@linkcode AppServerClient}. */
export interface ClientOptions {
  /** The app-server's stdout. */
  readable: ReadableStream<Uint8Array>;
  /** The app-server's stdin. */
  writable: WritableStream<Uint8Array>;
  log: Logger;
  /** Timeout of a request that does not give its own (default {@linkcode REQUEST_TIMEOUT_MS}). */
  requestTimeoutMs?: number;
  /** Where request timeouts take their time from (tests move a fake one). */
  clock?: Clock;
}

/** Options of one request: a timeout in ms, or `{signal, timeout}`. */
export type RequestOptions = number | { signal?: AbortSignal; timeout?: number };

type Json = Record<string, unknown>;

/** The thread a notification belongs to, if any. */
export function threadOf(params: Json): string | undefined {
  if (typeof params.threadId === "string") return params.threadId;
  const thread = params.thread as Json | undefined;
  return typeof thread?.id === "string" ? thread.id : undefined;
}

/** A JSON-RPC connection to one app-server; see the module doc. */
export class AppServerClient {
  #o: ClientOptions;
  #peer: Peer;
  #subs = new Map<string, Set<ThreadSubscriber>>();
  /** Resolves once the app-server's output has ended (or {@linkcode close} was called). */
  readonly closed: Promise<void>;

  constructor(o: ClientOptions) {
    this.#o = o;
    const log = o.log;
    const transport = new LineTransport({
      readable: o.readable,
      writable: o.writable,
      onOverflow: (n) =>
        log.warn("codex app-server printed a line too long to parse; skipped", { bytes: n }),
      // A delta with a bad byte must not lose the whole message (as on exec).
      onInvalidUtf8: (n) =>
        log.warn("codex app-server printed invalid UTF-8; passed on with U+FFFD", { bytes: n }),
    });
    this.#peer = new Peer(transport, {
      jsonrpc: false,
      timeoutMs: o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      clock: o.clock,
      onRequest: (method, params) => this.#answer(method, params),
      onNotification: (method, params) => this.#route(method, params, false),
      onInvalid: (line) =>
        log.warn("skipped a line from codex app-server that is not a JSON object", {
          chars: line?.length,
        }),
      onStrayResponse: (msg) =>
        log.debug("codex app-server answered a request that is no longer pending", { id: msg.id }),
      onHandlerError: (e, method) =>
        method === "(reading)"
          ? log.warn("reading codex app-server output failed", { error: String(e) })
          : log.error("handling a codex app-server message failed", { method, error: String(e) }),
      onClose: () => this.#closeSubscribers(),
    });
    this.closed = this.#peer.closed;
  }

  /** True once the connection has ended. */
  get isClosed(): boolean {
    return this.#peer.isClosed;
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.#peer.pending;
  }

  /**
   * Send a request; resolves its result, rejects with RpcError, RequestTimeout,
   * ConnectionClosed, or the signal's reason. `opts`: a timeout in ms, or
   * `{signal, timeout}`; the default timeout is the client's.
   */
  async request<T = Json>(method: string, params: Json, opts?: RequestOptions): Promise<T> {
    const o = typeof opts === "number" ? { timeout: opts } : opts ?? {};
    try {
      return await this.#peer.request<T>(method, params, o);
    } catch (e) {
      if (e instanceof ErrorResponse) throw new RpcError(method, e.code, e.message);
      if (e instanceof RequestTimedOut) throw new RequestTimeout(method, e.timeoutMs);
      if (e instanceof PeerClosed) throw new ConnectionClosed(method);
      throw e;
    }
  }

  /** Receive thread `threadId`'s notifications until the returned function is called. */
  subscribe(threadId: string, sub: ThreadSubscriber): () => void {
    if (this.isClosed) {
      queueMicrotask(() => sub.onClose());
      return () => {};
    }
    let set = this.#subs.get(threadId);
    if (!set) this.#subs.set(threadId, set = new Set());
    set.add(sub);
    return () => {
      set.delete(sub);
      if (set.size === 0 && this.#subs.get(threadId) === set) this.#subs.delete(threadId);
    };
  }

  /** Stop: close the app-server's stdin, stop reading, fail what is pending. */
  close(): void {
    this.#peer.close();
  }

  /** A request from the app-server: answered at once, never by asking a human. */
  #answer(method: string, params: Json): unknown {
    const a = answerServerRequest(method, params);
    this.#o.log.warn("answered a request from codex app-server without asking anyone", {
      method,
      answer: a.summary,
      thread_id: threadOf(params),
      turn_id: params.turnId,
    });
    this.#route(method, params, true);
    if ("result" in a) return a.result;
    throw new ErrorResponse(a.error.code, a.error.message);
  }

  #route(method: string, params: Json, isRequest: boolean) {
    const thread = threadOf(params);
    const subs = thread === undefined ? undefined : this.#subs.get(thread);
    if (!subs?.size) {
      if (method === "configWarning") {
        // Codex's own words about its config (a bad -c override, a missing sandbox helper).
        this.#o.log.info("codex app-server config warning", {
          summary: params.summary,
          details: params.details,
        });
      } else if (!isRequest) {
        this.#o.log.debug("codex app-server notification", { method, thread_id: thread });
      }
      return;
    }
    for (const s of [...subs]) {
      try {
        if (isRequest) s.onServerRequest?.(method, params);
        else s.onNotification(method, params);
      } catch (e) {
        this.#o.log.error("handling a codex app-server notification failed", {
          method,
          error: String(e),
        });
      }
    }
  }

  #closeSubscribers() {
    const subs = [...this.#subs.values()].flatMap((s) => [...s]);
    this.#subs.clear();
    for (const s of subs) s.onClose();
  }
}
