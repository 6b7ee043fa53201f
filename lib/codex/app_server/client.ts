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
import { LineStream } from "../../lines.ts";
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
}

interface Pending {
  method: string;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

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
  #next = 1;
  #pending = new Map<number, Pending>();
  #subs = new Map<string, Set<ThreadSubscriber>>();
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #chain: Promise<void> = Promise.resolve();
  #enc = new TextEncoder();
  #closed = false;
  #stopReading = new AbortController();
  /** Resolves once the app-server's output has ended (or {@linkcode close} was called). */
  readonly closed: Promise<void>;

  constructor(o: ClientOptions) {
    this.#o = o;
    this.#writer = o.writable.getWriter();
    this.#writer.closed.catch(() => {}); // a dead server's stdin: reported through reads
    this.closed = this.#read().finally(() => this.#shutdown());
  }

  /** True once the connection has ended. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Requests sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Send a request; resolves its result, rejects with RpcError, RequestTimeout or ConnectionClosed. */
  request<T = Json>(method: string, params: Json, timeoutMs?: number): Promise<T> {
    if (this.#closed) return Promise.reject(new ConnectionClosed(method));
    const id = this.#next++;
    const ms = timeoutMs ?? this.#o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RequestTimeout(method, ms));
      }, ms);
      this.#pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer });
      this.#write({ id, method, params });
    });
  }

  /** Receive thread `threadId`'s notifications until the returned function is called. */
  subscribe(threadId: string, sub: ThreadSubscriber): () => void {
    if (this.#closed) {
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
    this.#shutdown();
    this.#stopReading.abort();
  }

  #write(msg: Json) {
    const bytes = this.#enc.encode(JSON.stringify(msg) + "\n");
    this.#chain = this.#chain.then(() => this.#writer.write(bytes)).catch(() => {
      // The server's stdin is gone; its stdout ends soon and reading reports it.
    });
  }

  async #read() {
    const lines = this.#o.readable.pipeThrough(
      new LineStream({
        onOverflow: (n) =>
          this.#o.log.warn("codex app-server printed a line too long to parse; skipped", {
            bytes: n,
          }),
        // A delta with a bad byte must not lose the whole message (as on exec).
        onInvalidUtf8: (n) =>
          this.#o.log.warn("codex app-server printed invalid UTF-8; passed on with U+FFFD", {
            bytes: n,
          }),
      }),
      { signal: this.#stopReading.signal },
    );
    try {
      for await (const line of lines) {
        if (line === "" || this.#closed) continue;
        let msg: unknown;
        try {
          msg = line === undefined ? undefined : JSON.parse(line);
        } catch { /* reported below */ }
        if (!msg || typeof msg !== "object" || Array.isArray(msg)) {
          this.#o.log.warn("skipped a line from codex app-server that is not a JSON object", {
            chars: line?.length,
          });
          continue;
        }
        this.#dispatch(msg as Json);
      }
    } catch (e) {
      if (!this.#stopReading.signal.aborted) {
        this.#o.log.warn("reading codex app-server output failed", { error: String(e) });
      }
    }
  }

  #dispatch(msg: Json) {
    const hasId = typeof msg.id === "number" || typeof msg.id === "string";
    if (typeof msg.method === "string") {
      const params = (msg.params && typeof msg.params === "object" ? msg.params : {}) as Json;
      if (hasId) return this.#answer(msg.id as number | string, msg.method, params);
      return this.#notify(msg.method, params);
    }
    if (!hasId) return;
    const p = this.#pending.get(msg.id as number);
    if (!p) {
      this.#o.log.debug("codex app-server answered a request that is no longer pending", {
        id: msg.id,
      });
      return;
    }
    this.#pending.delete(msg.id as number);
    clearTimeout(p.timer);
    if (msg.error && typeof msg.error === "object") {
      const e = msg.error as { code?: unknown; message?: unknown };
      const code = typeof e.code === "number" ? e.code : -32603;
      p.reject(new RpcError(p.method, code, String(e.message ?? "error without a message")));
    } else p.resolve(msg.result ?? {});
  }

  #answer(id: number | string, method: string, params: Json) {
    const a = answerServerRequest(method, params);
    this.#o.log.warn("answered a request from codex app-server without asking anyone", {
      method,
      answer: a.summary,
      thread_id: threadOf(params),
      turn_id: params.turnId,
    });
    this.#write("result" in a ? { id, result: a.result } : { id, error: a.error });
    this.#route(method, params, true);
  }

  #notify(method: string, params: Json) {
    this.#route(method, params, false);
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

  #shutdown() {
    if (this.#closed) return;
    this.#closed = true;
    this.#chain = this.#chain.then(() => this.#writer.close()).catch(() => {});
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      p.reject(new ConnectionClosed(p.method));
    }
    const subs = [...this.#subs.values()].flatMap((s) => [...s]);
    this.#subs.clear();
    for (const s of subs) s.onClose();
  }
}
