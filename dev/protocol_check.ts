/**
 * Checks the messages of a conversation with the plugin against the JSON
 * Schema of protocol v1 (`lib/protocol/protocol-v1.schema.json`), so that
 * every end-to-end test also checks that the plugin speaks the documented
 * protocol, and a protocol change that the schema does not follow fails.
 * dev/plugin.ts runs every line it sends and reads through one
 * {@linkcode ProtocolChecker}.
 *
 * The validator (ajv) is a test-only dependency: nothing under lib/ or main.ts
 * imports this module, so the compiled plugin does not carry it.
 *
 * What is checked:
 * - every message the plugin writes: an `event` notification, an error
 *   response, or the response of the method that the request with its id
 *   named (a `chat` response must be a ChatResponse, not any response);
 * - events come only while their turn runs: between a `chat` request with
 *   their `turn_id` and its response (PROTOCOL.md);
 * - every request the host side writes is validated too, but tests send
 *   invalid requests on purpose, so an invalid request is only a violation
 *   when the plugin answers it with a result: the plugin then accepts what
 *   the schema rejects, and one of them is wrong.
 *
 * @example
 * ```ts
 * import { ProtocolChecker } from "./protocol_check.ts";
 * const check = new ProtocolChecker();
 * check.sent('{"jsonrpc":"2.0","id":1,"method":"models"}');
 * check.received({ jsonrpc: "2.0", id: 1, result: { models: [] } });
 * // 'the plugin sent a message that does not match ...#/$defs/ModelsResponse: ...'
 * ```
 *
 * @module
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import schema from "../lib/protocol/protocol-v1.schema.json" with { type: "json" };

/** Where the schema lives in the repository (named in violations). */
export const SCHEMA_FILE = "lib/protocol/protocol-v1.schema.json";

/** The schema, as parsed JSON. */
export const SCHEMA: {
  $schema: string;
  $id: string;
  $defs: Record<string, Record<string, unknown>>;
} = schema;

/**
 * One validator per mode. `all`: every problem (the plugin's messages, whose
 * size the protocol bounds). `first`: stop at the first problem, for what
 * tests send: a request of millions of bad messages must not cost an error
 * object each.
 */
function makeAjv(allErrors: boolean): Ajv2020 {
  // strictRequired off: it rejects `required` in an `if`/`then` whose
  // property the enclosing schema defines, which is standard JSON Schema.
  const ajv = new Ajv2020({
    allErrors,
    verbose: true, // errors carry their parentSchema: see explain()
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
  });
  ajv.addSchema(schema);
  return ajv;
}
const ajvs = { all: makeAjv(true), first: makeAjv(false) };
const validators = new Map<string, ValidateFunction>();

function validator(def: string, mode: keyof typeof ajvs): ValidateFunction {
  let v = validators.get(`${mode} ${def}`);
  if (!v) {
    if (!(def in SCHEMA.$defs)) throw new Error(`${SCHEMA_FILE} has no $defs/${def}`);
    v = ajvs[mode].getSchema(`${SCHEMA.$id}#/$defs/${def}`)!;
    validators.set(`${mode} ${def}`, v);
  }
  return v;
}

/**
 * Validate `value` against `$defs/<def>`: the problems, one line each
 * (instance path, what is wrong, schema path), or none when it is valid.
 * `mode: "first"` stops at the first problem.
 */
export function validate(def: string, value: unknown, mode: "all" | "first" = "all"): string[] {
  const v = validator(def, mode);
  return v(value) ? [] : explain(v.errors ?? []);
}

/** Where each schema object is: its `$defs` entry and JSON pointer (refs not followed). */
const owners = new Map<unknown, { def: string; pointer: string }>();
function own(node: unknown, def: string, pointer: string) {
  if (typeof node !== "object" || node === null) return;
  owners.set(node, { def, pointer });
  for (const [k, v] of Object.entries(node)) own(v, def, `${pointer}/${k}`);
}
for (const [def, node] of Object.entries(SCHEMA.$defs)) own(node, def, `#/$defs/${def}`);

/**
 * ajv reports every branch of a `oneOf`; keep those of the branch the value
 * meant (its `type` or `method` matched), so the message says what is wrong
 * with a usage event rather than why it is not a text_delta. A branch is told
 * by the `$defs` entry its failing keyword belongs to (ajv's schemaPath is
 * relative to the referenced schema, so it cannot tell).
 */
function explain(errors: ErrorObject[]): string[] {
  const defOf = (e: ErrorObject) => owners.get(e.parentSchema)?.def ?? e.schemaPath;
  const isMiss = (e: ErrorObject) =>
    e.keyword === "const" && /\/(type|method)$/.test(e.instancePath);
  const missed = new Set(errors.filter(isMiss).map(defOf));
  const summary = new Set(["oneOf", "anyOf", "if"]);
  const kept = errors.filter((e) => !missed.has(defOf(e)) && !summary.has(e.keyword));
  if (kept.length === 0) {
    // No branch matched: name the values the discriminator may take.
    const byPath = new Map<string, unknown[]>();
    for (const e of errors.filter(isMiss)) {
      byPath.set(e.instancePath, [...byPath.get(e.instancePath) ?? [], e.params.allowedValue]);
    }
    if (byPath.size) {
      return [...byPath].map(([path, values]) =>
        `${path} must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}`
      );
    }
    return errors.map(line);
  }
  return [...new Set(kept.map(line))];
}

function line(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const detail = p.additionalProperty !== undefined
    ? `: ${JSON.stringify(p.additionalProperty)}`
    : p.allowedValues !== undefined
    ? `: ${JSON.stringify(p.allowedValues)}`
    : p.allowedValue !== undefined
    ? ` ${JSON.stringify(p.allowedValue)}`
    : "";
  const where = owners.get(e.parentSchema);
  const path = where ? `${where.pointer}/${e.keyword}` : e.schemaPath;
  return `${e.instancePath || "(the message)"} ${e.message}${detail} (schema ${path})`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function show(msg: unknown): string {
  const s = JSON.stringify(msg) ?? String(msg);
  return s.length > 600 ? `${s.slice(0, 600)}… (${s.length} characters)` : s;
}

/** The `$defs` entry of a successful response to `method`, if the schema has one. */
export function responseDef(method: string): string | undefined {
  const def = `${method[0]?.toUpperCase()}${method.slice(1)}Response`;
  return method !== "" && def in SCHEMA.$defs && def !== "ErrorResponse" ? def : undefined;
}

/** The `$defs` entry of a request of `method`, if the schema has one. */
function requestDef(method: string): string | undefined {
  const def = `${method[0]?.toUpperCase()}${method.slice(1)}Request`;
  return method !== "" && def in SCHEMA.$defs ? def : undefined;
}

interface Pending {
  method: string;
  /** Why the request does not match HostMessage (empty: it does). */
  problems: string[];
  line: string;
  /** A chat's `turn_id`: its events may come until its response. */
  turnId?: string;
}

/** Follows one plugin's conversation; see the module doc. */
export class ProtocolChecker {
  #pending = new Map<string, Pending[]>();
  /** Turns of chat notifications (no id): never answered, so never over. */
  #unanswered = new Set<string>();

  /** A line written to the plugin. Only requests with an id are looked at. */
  sent(line: string): void {
    let m: unknown;
    try {
      m = JSON.parse(line);
    } catch {
      return; // garbage sent on purpose: the plugin's answer is checked like any other
    }
    if (!isObject(m) || typeof m.method !== "string") return;
    const p = m.params;
    const turnId = m.method === "chat" && isObject(p) && typeof p.turn_id === "string"
      ? p.turn_id
      : undefined;
    if (typeof m.id !== "string" && typeof m.id !== "number") {
      if (turnId !== undefined && !("id" in m)) this.#unanswered.add(turnId);
      return;
    }
    const key = JSON.stringify(m.id);
    // The method's own request type names the problem better than the union.
    const def = requestDef(m.method) ?? "HostMessage";
    const entry = { method: m.method, problems: validate(def, m, "first"), line, turnId };
    this.#pending.set(key, [...this.#pending.get(key) ?? [], entry]);
  }

  /** A message the plugin wrote (parsed): what is wrong with it, or undefined. */
  received(msg: unknown): string | undefined {
    if (isObject(msg) && "method" in msg) {
      return this.#verdict(msg, "EventNotification") ?? this.#eventInTurn(msg);
    }
    if (!isObject(msg)) return this.#verdict(msg, "PluginMessage");
    if ("error" in msg) {
      this.#answered(msg);
      return this.#verdict(msg, "ErrorResponse");
    }
    if (!("id" in msg)) return this.#verdict(msg, "PluginMessage");
    // A result: it must be the result of the method its request named. Ids
    // may repeat, so the first pending request whose response it is wins.
    const queue = this.#pending.get(JSON.stringify(msg.id)) ?? [];
    const known = queue.filter((q) => responseDef(q.method));
    if (known.length === 0) return this.#verdict(msg, "PluginMessage");
    const fits = known.find((q) => validate(responseDef(q.method)!, msg).length === 0);
    if (!fits) return this.#verdict(msg, responseDef(known[0].method)!);
    queue.splice(queue.indexOf(fits), 1);
    if (fits.problems.length) {
      return `the plugin accepted a request that ${SCHEMA_FILE} rejects ` +
        `(the schema or the plugin's validation is wrong):\n  request: ${show(fits.line)}\n` +
        `  response: ${show(msg)}\n  ${fits.problems.join("\n  ")}`;
    }
  }

  /** PROTOCOL.md: events are sent only between a chat request and its response. */
  #eventInTurn(msg: Record<string, unknown>): string | undefined {
    const turnId = (msg.params as { turn_id: string }).turn_id;
    if (this.#unanswered.has(turnId)) return;
    for (const queue of this.#pending.values()) {
      if (queue.some((q) => q.method === "chat" && q.turnId === turnId)) return;
    }
    return `the plugin sent an event of turn ${JSON.stringify(turnId)} outside that turn ` +
      `(no chat request with that turn_id awaits its response):\n  ${show(msg)}`;
  }

  /** Forget the first request an error response answers. */
  #answered(msg: Record<string, unknown>) {
    if (typeof msg.id !== "string" && typeof msg.id !== "number") return;
    this.#pending.get(JSON.stringify(msg.id))?.shift();
  }

  #verdict(msg: unknown, def: string): string | undefined {
    const problems = validate(def, msg);
    if (problems.length === 0) return;
    return `the plugin sent a message that does not match ${SCHEMA_FILE}#/$defs/${def}:\n` +
      `  ${show(msg)}\n  ${problems.join("\n  ")}`;
  }
}

/**
 * Check a whole conversation written before any reply was read (every line
 * sent, then every message received): the violations, one per message.
 */
export function checkConversation(sent: string[], received: unknown[]): string[] {
  const check = new ProtocolChecker();
  for (const line of sent) check.sent(line);
  return received.map((m) => check.received(m)).filter((v) => v !== undefined);
}
