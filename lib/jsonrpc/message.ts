/**
 * Generic JSON-RPC 2.0 messages: their shapes, the standard error codes, the
 * builders of what we send, and the strict check of one incoming request
 * line. Strict, because a host of the Plexum protocol must be told exactly
 * what is wrong with its message (PROTOCOL.md); the lenient reading of a
 * peer that omits `"jsonrpc"` (Codex's app-server) is lib/jsonrpc/peer.ts's.
 * Nothing here knows which protocol runs on top.
 *
 * @example
 * ```ts
 * import { parseMessage, result } from "./message.ts";
 * const msg = parseMessage('{"jsonrpc":"2.0","id":1,"method":"models","params":{}}');
 * if (msg.ok && msg.value) console.log(JSON.stringify(result(msg.value.id ?? null, {})));
 * ```
 *
 * @module
 */
import { cut } from "../cut.ts";
import { err, ok, type Result } from "../result.ts";

/**
 * JSON-RPC error codes the plugin sends (PROTOCOL.md lists them): the five of
 * the specification, and `NOT_INITIALIZED` from the range it leaves to
 * servers (-32000 to -32099), which the Plexum protocol uses.
 */
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

/** A JSON object, as messages and their params are. */
export type JsonObject = Record<string, unknown>;

/** A valid incoming request (or notification when `id` is absent). */
export interface Request {
  id?: Id;
  method: string;
  params: JsonObject;
}

/**
 * Result of {@linkcode parseMessage}: a request (`undefined` for a line that
 * asks nothing: blank, or a response), or the error response to send.
 */
export type Parsed = Result<Request | undefined, JsonObject>;

/** Longest error `message` sent (characters); PROTOCOL.md documents it. */
export const MAX_ERROR_MESSAGE = 4096;

/** A response with a result. */
export function result(id: Id, value: unknown): JsonObject {
  return { jsonrpc: "2.0", id, result: value };
}

/** A response with an error; `message` is cut to {@linkcode MAX_ERROR_MESSAGE}. */
export function error(id: Id, code: number, message: string, data?: unknown): JsonObject {
  const e: JsonObject = { code, message: cut(message, MAX_ERROR_MESSAGE) };
  if (data !== undefined) e.data = data;
  return { jsonrpc: "2.0", id, error: e };
}

/** A notification. */
export function notification(method: string, params: unknown): JsonObject {
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
 * import { countContainers } from "./message.ts";
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

/** Parse one line that should hold a JSON-RPC 2.0 request or notification. */
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
  const m = msg as JsonObject;
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
  return ok({ id: "id" in m ? id : undefined, method: m.method, params: params as JsonObject });
}
