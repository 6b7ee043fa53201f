/**
 * JSON-RPC 2.0 messages: shapes, the error codes, the builders of what we
 * send, and the strict check of one incoming request line. Strict, because a
 * host of the Plexum protocol must be told exactly what is wrong with its
 * message (PROTOCOL.md); the lenient reading of Codex's app-server, which
 * omits `"jsonrpc"`, is lib/jsonrpc/peer.ts's.
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

/** The five codes of the specification, and the Plexum protocol's `NOT_INITIALIZED`. */
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

/** A valid incoming request (a notification when `id` is absent). */
export interface Request {
  id?: Id;
  method: string;
  params: JsonObject;
}

/** Longest error `message` sent (characters); PROTOCOL.md documents it. */
const MAX_ERROR_MESSAGE = 4096;
/**
 * Most JSON objects and arrays one message may hold: V8 needs about 100
 * bytes to parse each, and a 64 MiB line of `{},{},…` took 2.2 GB and 12 s.
 */
const MAX_JSON_CONTAINERS = 1_000_000;

/** A response with a result. */
export function result(id: Id, value: unknown): JsonObject {
  return { jsonrpc: "2.0", id, result: value };
}

/** A response with an error; `message` is cut to 4096 characters. */
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

/** The JSON objects and arrays in `text` (not those inside strings), counted up to past `max`. */
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

/** One line's request (`undefined`: blank, or a response), or the error response to send. */
export function parseMessage(line: string): Result<Request | undefined, JsonObject> {
  const bad = (id: Id, code: number, message: string) => err(error(id, code, message));
  if (line.trim() === "") return ok(undefined);
  // Only a long line can hold that many (each takes at least 2 characters).
  const max = MAX_JSON_CONTAINERS;
  if (line.length > 2 * max && countContainers(line, max) > max) {
    return bad(
      null,
      ErrorCodes.PARSE,
      `parse error: a message may hold at most ${max} JSON objects and arrays`,
    );
  }
  let m: JsonObject;
  try {
    m = JSON.parse(line);
  } catch (e) {
    return bad(null, ErrorCodes.PARSE, `parse error: ${(e as Error).message}`);
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    return bad(
      null,
      ErrorCodes.INVALID_REQUEST,
      "a message must be a JSON object (batches are not supported)",
    );
  }
  const id = validId(m.id) ? m.id : null;
  if (!("method" in m) && ("result" in m || "error" in m)) return ok(undefined); // a response
  if (m.jsonrpc !== "2.0") return bad(id, ErrorCodes.INVALID_REQUEST, 'jsonrpc must be "2.0"');
  if ("id" in m && !validId(m.id)) {
    return bad(null, ErrorCodes.INVALID_REQUEST, "id must be a string, a number or null");
  }
  if (typeof m.method !== "string") {
    return bad(id, ErrorCodes.INVALID_REQUEST, "method must be a string");
  }
  // Omitted params mean {}; an explicit null is not an object (PROTOCOL.md).
  const params = "params" in m ? m.params : {};
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    return bad(id, ErrorCodes.INVALID_REQUEST, "params must be an object");
  }
  return ok({ id: "id" in m ? id : undefined, method: m.method, params: params as JsonObject });
}
