/**
 * JSON-RPC 2.0 over lines: parse one incoming line, serialize outgoing
 * messages, write them to stdout in order. Nothing else lives here.
 *
 * @example
 * ```ts
 * import { MessageWriter, parseMessage, result } from "./rpc.ts";
 * const out = new MessageWriter(Deno.stdout);
 * const msg = parseMessage('{"jsonrpc":"2.0","id":1,"method":"models","params":{}}');
 * if (msg.ok && msg.value) out.send(result(msg.value.id ?? null, { models: [] }));
 * ```
 */

import { err, ok, type Result } from "./result.ts";

/** JSON-RPC error codes used by the plugin (PROTOCOL.md lists them). */
export const ErrorCodes = {
  PARSE: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  NOT_INITIALIZED: -32002,
} as const;

/** A request id. */
export type Id = string | number | null;

/** A valid incoming request (or notification when `id` is absent). */
export interface Request {
  id?: Id;
  method: string;
  params: Record<string, unknown>;
}

/**
 * Result of {@linkcode parseMessage}: a request (`undefined` for a line that
 * asks nothing: blank, or a response), or the error response to send.
 */
export type Parsed = Result<Request | undefined, Record<string, unknown>>;

/** A response with a result. */
export function result(id: Id, value: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", id, result: value };
}

/** Longest error `message` sent (characters); PROTOCOL.md documents it. */
export const MAX_ERROR_MESSAGE = 4096;

/**
 * Cut `s` to `max` characters, saying how long it was (`length`: of the
 * original, when `s` is already a part of it). Never splits a surrogate pair.
 *
 * @example
 * ```ts
 * import { cut } from "./rpc.ts";
 * cut("x".repeat(10), 4); // "xxxx… (cut from 10 characters)"
 * ```
 */
export function cut(s: string, max: number, length = s.length): string {
  if (s.length <= max && length === s.length) return s;
  let end = Math.min(max, s.length);
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // keep a pair whole
  return `${s.slice(0, end)}… (cut from ${length} characters)`;
}

/** A response with an error; `message` is cut to {@linkcode MAX_ERROR_MESSAGE}. */
export function error(
  id: Id,
  code: number,
  message: string,
  data?: unknown,
): Record<string, unknown> {
  const e: Record<string, unknown> = { code, message: cut(message, MAX_ERROR_MESSAGE) };
  if (data !== undefined) e.data = data;
  return { jsonrpc: "2.0", id, error: e };
}

/** A notification. */
export function notification(method: string, params: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", method, params };
}

const validId = (v: unknown): v is Id =>
  typeof v === "string" || typeof v === "number" || v === null;

/**
 * Most JSON objects and arrays one message may hold. V8 needs about 100 bytes
 * to parse each: a 64 MiB line of `{},{},…` (22 million objects) took 2.2 GB
 * and 12 s before a single field was looked at. A real request holds a few
 * per message.
 */
export const MAX_JSON_CONTAINERS = 1_000_000;

/**
 * The number of JSON objects and arrays in `text` (brackets inside strings do
 * not count), stopping once it passes `max`.
 *
 * @example
 * ```ts
 * import { countContainers } from "./rpc.ts";
 * countContainers('{"a":[1,{"b":"{[["}]}', 100); // 3
 * ```
 */
export function countContainers(text: string, max: number): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: skip to its end
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++; // an escape: skip the escaped character
        else if (d === 0x22) break;
      }
    } else if ((c === 0x7b || c === 0x5b) && ++n > max) return n;
  }
  return n;
}

/** Parse one line from the host. */
export function parseMessage(line: string): Parsed {
  if (line.trim() === "") return ok(undefined);
  // Only a long line can hold that many (each takes at least 2 characters).
  if (
    line.length > 2 * MAX_JSON_CONTAINERS &&
    countContainers(line, MAX_JSON_CONTAINERS) > MAX_JSON_CONTAINERS
  ) {
    return err(error(
      null,
      ErrorCodes.PARSE,
      `parse error: a message may hold at most ${MAX_JSON_CONTAINERS} JSON objects and arrays`,
    ));
  }
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    return err(error(null, ErrorCodes.PARSE, `parse error: ${(e as Error).message}`));
  }
  if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
    return err(error(
      null,
      ErrorCodes.INVALID_REQUEST,
      "a message must be a JSON object (batches are not supported)",
    ));
  }
  const m = msg as Record<string, unknown>;
  const id = validId(m.id) ? m.id : null;
  if (!("method" in m) && ("result" in m || "error" in m)) return ok(undefined); // a response: we send no requests
  if (m.jsonrpc !== "2.0") {
    return err(error(id, ErrorCodes.INVALID_REQUEST, 'jsonrpc must be "2.0"'));
  }
  if ("id" in m && !validId(m.id)) {
    return err(error(null, ErrorCodes.INVALID_REQUEST, "id must be a string, a number or null"));
  }
  if (typeof m.method !== "string") {
    return err(error(id, ErrorCodes.INVALID_REQUEST, "method must be a string"));
  }
  // Omitted params mean {}; an explicit null is not an object (PROTOCOL.md).
  const params = "params" in m ? m.params : {};
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    return err(error(id, ErrorCodes.INVALID_REQUEST, "params must be an object"));
  }
  return ok({
    id: "id" in m ? id : undefined,
    method: m.method,
    params: params as Record<string, unknown>,
  });
}

/** Why a {@linkcode MessageWriter}'s output is gone. */
export type WriterClosed = "closed" | "stalled";

/**
 * Writes messages as lines, in order, without blocking the event loop. When
 * the host stops reading (EPIPE), or one write has not completed for
 * `stallMs` (the host keeps the pipe open but reads nothing), `closed`
 * resolves and later sends are dropped.
 */
export class MessageWriter {
  #chain: Promise<void> = Promise.resolve();
  #enc = new TextEncoder();
  #broken = false;
  #onClose!: (why: WriterClosed) => void;
  #stallMs: number;
  /** Resolves when the output is gone, with why. */
  readonly closed = new Promise<WriterClosed>((r) => (this.#onClose = r));

  constructor(
    private out: { write(p: Uint8Array): Promise<number> },
    opts: { stallMs?: number } = {},
  ) {
    this.#stallMs = opts.stallMs ?? Infinity;
  }

  /** Queue one message. */
  send(msg: unknown): Promise<void> {
    if (this.#broken) return Promise.resolve(); // a stalled write may never settle
    const bytes = this.#enc.encode(JSON.stringify(msg) + "\n");
    this.#chain = this.#chain.then(async () => {
      if (this.#broken) return;
      let stall: ReturnType<typeof setTimeout> | undefined;
      if (Number.isFinite(this.#stallMs)) {
        stall = setTimeout(() => this.#close("stalled"), this.#stallMs);
      }
      try {
        for (let at = 0; at < bytes.length && !this.#broken;) {
          at += await this.out.write(bytes.subarray(at));
        }
      } catch {
        this.#close("closed");
      } finally {
        clearTimeout(stall);
      }
    });
    return this.#chain;
  }

  /** Resolves when everything queued so far is written, or the output is gone. */
  flush(): Promise<void> {
    return Promise.race([this.#chain, this.closed.then(() => {})]);
  }

  #close(why: WriterClosed) {
    if (this.#broken) return;
    this.#broken = true;
    this.#onClose(why);
  }
}
