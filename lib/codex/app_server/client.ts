/**
 * JSON-RPC over lines with a `codex app-server` (no `"jsonrpc"` field), on
 * the generic {@linkcode Peer}, with errors named after the app-server:
 *
 * - our requests each have a timeout: the app-server answers a line it
 *   cannot parse with silence, and that must not hang a turn;
 * - its notifications go to the subscribers of their thread; the rest are
 *   logged at debug; when the stream ends each subscriber's `onClose` runs;
 * - its requests to us are answered at once ({@linkcode answerServerRequest}):
 *   nobody sits behind the plugin to approve a command, and an unanswered
 *   request stalls its turn for good.
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
  constructor(readonly method: string) {
    super(`codex app-server closed its output before answering ${method}`);
    this.name = "ConnectionClosed";
  }
}

/** Receives one thread's notifications, the requests answered for it (the turn is alive), the end. */
export interface ThreadSubscriber {
  onNotification(method: string, params: Record<string, unknown>): void;
  onServerRequest?(method: string, params: Record<string, unknown>): void;
  onClose(): void;
}

/** Inputs of {@linkcode AppServerClient}: its stdout, its stdin, the default timeout, a clock. */
export interface ClientOptions {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  log: Logger;
  requestTimeoutMs?: number;
  clock?: Clock;
}

type Json = Record<string, unknown>;
type Answer = { result: Json } | { error: { code: number; message: string } };

/** The account's rate limits: no thread; to every subscriber, as every turn counts against them. */
const RATE_LIMITS = "account/rateLimits/updated";

/** The thread a notification belongs to, if any. */
function threadOf(params: Json): string | undefined {
  if (typeof params.threadId === "string") return params.threadId;
  const thread = params.thread as Json | undefined;
  return typeof thread?.id === "string" ? thread.id : undefined;
}

/** A JSON-RPC connection to one app-server; see the module doc. */
export class AppServerClient {
  #peer: Peer;
  #subs = new Map<string, Set<ThreadSubscriber>>();
  /** Resolves once the app-server's output has ended (or {@linkcode close} was called). */
  readonly closed: Promise<void>;

  constructor(private o: ClientOptions) {
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
      timeoutMs: o.requestTimeoutMs ?? 30_000,
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
      onClose: () => {
        const subs = [...this.#subs.values()].flatMap((s) => [...s]);
        this.#subs.clear();
        for (const s of subs) s.onClose();
      },
    });
    this.closed = this.#peer.closed;
  }

  /** Requests not yet answered. */
  get pending(): number {
    return this.#peer.pending;
  }

  /** Send a request: its result, or RpcError, RequestTimeout, ConnectionClosed, the signal's reason. */
  async request<T = Json>(
    method: string,
    params: Json,
    opts?: number | { signal?: AbortSignal; timeout?: number },
  ): Promise<T> {
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
    if (this.#peer.isClosed) {
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
    const a = answerServerRequest(method);
    this.o.log.warn("answered a request from codex app-server without asking anyone", {
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
    const subs = thread !== undefined ? this.#subs.get(thread) : method === RATE_LIMITS // the account's
      ? new Set([...this.#subs.values()].flatMap((set) => [...set]))
      : undefined;
    if (!subs?.size) {
      if (method === "configWarning") {
        // Codex's own words about its config (a bad -c override, a missing sandbox helper).
        const { summary, details } = params;
        this.o.log.info("codex app-server config warning", { summary, details });
      } else if (!isRequest) {
        this.o.log.debug("codex app-server notification", { method, thread_id: thread });
      }
      return;
    }
    for (const s of [...subs]) {
      try {
        if (isRequest) s.onServerRequest?.(method, params);
        else s.onNotification(method, params);
      } catch (e) {
        const error = String(e);
        this.o.log.error("handling a codex app-server notification failed", { method, error });
      }
    }
  }
}

/**
 * The answer to server request `method`, and a word for the log: approvals
 * declined, elicitations and questions cancelled, tools refused, anything
 * else (auth refresh, attestation, kinds a later release adds) an error.
 * Under the plugin's policy (approval `never`) no release sent one in our
 * runs: a safety net. Shapes from `codex app-server generate-ts` of 0.135.0
 * and 0.169.0; legacy `execCommandApproval`/`applyPatchApproval` get an
 * error, "not approved" on both (their "deny" value changed shape).
 */
export function answerServerRequest(method: string): { summary: string } & Answer {
  const refuse = (message: string) => ({ error: { code: -32000, message }, summary: "refused" });
  switch (method) {
    case "item/commandExecution/requestApproval":
    case "item/fileChange/requestApproval":
      return { result: { decision: "decline" }, summary: "declined" };
    case "item/permissions/requestApproval": // nothing granted, for this turn only
      return { result: { permissions: {}, scope: "turn" }, summary: "declined" };
    case "mcpServer/elicitation/request":
      return { result: { action: "cancel", content: null, _meta: null }, summary: "cancelled" };
    case "item/tool/requestUserInput":
      return { result: { answers: {} }, summary: "cancelled" };
    case "item/tool/call": {
      const text = "This client provides no tools: the call was not run.";
      return {
        result: { contentItems: [{ type: "inputText", text }], success: false },
        summary: "refused",
      };
    }
    case "execCommandApproval":
    case "applyPatchApproval":
      return refuse("not approved: plexum-openai-provider-plugin approves nothing");
    case "account/chatgptAuthTokens/refresh":
      return refuse(
        "plexum-openai-provider-plugin holds no ChatGPT tokens: log codex in (codex login)",
      );
    case "attestation/generate":
      return refuse("plexum-openai-provider-plugin cannot attest");
  }
  const message = `plexum-openai-provider-plugin does not handle ${method}`;
  return { error: { code: -32601, message }, summary: "unknown kind" }; // method not found
}
