/**
 * The JSON Schema of protocol v1 (lib/protocol/protocol-v1.schema.json)
 * against what it describes, so the schema, PROTOCOL.md and the code cannot
 * drift apart: it compiles; every example of PROTOCOL.md matches it (the JSON
 * blocks are read from the document itself); messages the protocol forbids
 * do not; every method, event type, error code, activity type, image type
 * and config key the code defines is in it; the dev/plugin.ts hook fails a
 * test on a message that does not match; and the shipped plugin does not
 * carry the validator.
 */
import assert from "node:assert/strict";
import { ProtocolChecker, SCHEMA, SCHEMA_FILE, validate } from "../dev/protocol_check.ts";
import { startPlugin } from "../dev/plugin.ts";
import { CONFIG_KEYS, REASONING_EFFORTS } from "../lib/config.ts";
import { parseJsonc } from "../lib/config_file.ts";
import { METHODS } from "../lib/protocol/server.ts";
import { ErrorCodes } from "../lib/jsonrpc/message.ts";
import {
  ACTIVITY_TYPES,
  ERROR_CODES,
  EVENT_TYPES,
  IMAGE_MIME_TYPES,
} from "../lib/turns/backend.ts";

const root = new URL("../", import.meta.url).pathname;
const defs = SCHEMA.$defs;
type Schema = Record<string, unknown>;

/** The `$defs` names a union (`oneOf`/`anyOf` of `$ref`s) is made of. */
function members(def: string): string[] {
  const d = defs[def] as { oneOf?: Schema[]; anyOf?: Schema[] };
  return (d.oneOf ?? d.anyOf ?? []).map((s) => String(s.$ref).replace("#/$defs/", ""));
}

/** The `const` of property `prop` in each member of a union. */
function consts(union: string, prop: string): unknown[] {
  return members(union).map((m) =>
    ((defs[m].properties as Record<string, Schema>)[prop] as Schema).const
  );
}

const sorted = (xs: readonly unknown[]) => [...xs].map(String).sort();

Deno.test("the schema is draft 2020-12 and every $defs entry compiles in ajv's strict mode", () => {
  assert.equal(SCHEMA.$schema, "https://json-schema.org/draft/2020-12/schema");
  for (const def of Object.keys(defs)) validate(def, null); // compiles it, or throws
  assert.ok(Object.keys(defs).length > 40);
});

Deno.test("the schema's consts are strings: quicktype, a common generator, fails on any other", () => {
  const bad: string[] = [];
  const walk = (node: unknown, at: string) => {
    if (typeof node !== "object" || node === null) return;
    const n = node as Schema;
    if ("const" in n && typeof n.const !== "string") bad.push(`${at}/const`);
    for (const [k, v] of Object.entries(n)) walk(v, `${at}/${k}`);
  };
  walk(SCHEMA, "#");
  assert.deepEqual(bad, [], "write enum: [value] instead");
});

Deno.test("numbers a host generates types from say integer where they are (issue 19.9: quicktype made union structs and float64)", () => {
  const bad: string[] = [];
  const walk = (node: unknown, at: string, inCondition: boolean) => {
    if (typeof node !== "object" || node === null) return;
    const n = node as Schema;
    // A numeric enum outside if/then conditions needs its type, and an integer one says integer.
    if (!inCondition && Array.isArray(n.enum) && n.enum.some((v) => typeof v === "number")) {
      const ints = n.enum.every((v) => Number.isInteger(v));
      if (n.type !== (ints ? "integer" : "number")) bad.push(`${at}: enum without "type"`);
    }
    for (const [k, v] of Object.entries(n)) walk(v, `${at}/${k}`, inCondition || k === "if");
  };
  walk(SCHEMA, "#", false);
  assert.deepEqual(bad, []);
  assert.deepEqual(defs.RequestId.type, ["string", "integer"]);
  assert.deepEqual(defs.ResponseId.type, ["string", "integer", "null"]);
  assert.deepEqual(validate("RequestId", 7), []);
  assert.deepEqual(validate("RequestId", "a"), []);
  assert.notDeepEqual(validate("RequestId", 1.5), []);
});

Deno.test("PROTOCOL.md names the schema file", () => {
  const doc = Deno.readTextFileSync(`${root}PROTOCOL.md`);
  assert.ok(doc.includes(SCHEMA_FILE), `PROTOCOL.md should name ${SCHEMA_FILE}`);
});

/** The ```json blocks of PROTOCOL.md (also those indented in a list), unindented. */
function docBlocks(): string[] {
  const doc = Deno.readTextFileSync(`${root}PROTOCOL.md`);
  return [...doc.matchAll(/^([ \t]*)```json\n([\s\S]*?)^\1```$/gm)].map(([, indent, body]) =>
    body.split("\n").map((l) => l.slice(indent.length)).join("\n")
  );
}

Deno.test("every example of PROTOCOL.md matches the schema", () => {
  const blocks = docBlocks();
  let messages = 0;
  for (const block of blocks) {
    const lines = block.split("\n").filter((l) => l.trim() !== "");
    if (!lines.some((l) => /^[→←] /.test(l))) {
      // Events on their own: one JSON value, or one per line.
      let values: unknown[];
      try {
        values = [JSON.parse(block)];
      } catch {
        values = lines.map((l) => JSON.parse(l));
      }
      for (const value of values) {
        assert.deepEqual(validate("Event", value), [], `PROTOCOL.md example:\n${block}`);
        messages++;
      }
      continue;
    }
    // A conversation: → the host's lines, ← the plugin's, checked as the tests' hook checks them.
    const check = new ProtocolChecker();
    const sent: Record<string, unknown>[] = [];
    const received: Record<string, unknown>[] = [];
    for (const line of lines) {
      assert.match(line, /^[→←] \{/, `PROTOCOL.md: a conversation line is → or ← JSON: ${line}`);
      const json = line.slice(2);
      const msg = JSON.parse(json); // a typo in the document fails here
      messages++;
      if (line.startsWith("→")) {
        check.sent(json);
        sent.push(msg);
      } else {
        assert.equal(check.received(msg), undefined, `PROTOCOL.md example: ${line}`);
        received.push(msg);
      }
    }
    // A request the schema rejects must be shown getting an error.
    for (const req of sent) {
      const problems = validate("HostMessage", req);
      if (problems.length === 0) continue;
      assert.ok(
        received.some((r) => r.id === req.id && "error" in r),
        `PROTOCOL.md shows a request the schema rejects without its error:\n` +
          `${JSON.stringify(req)}\n${problems.join("\n")}`,
      );
    }
  }
  // The document has a dozen blocks and some forty messages: finding far
  // fewer means the extraction broke, not that everything matched.
  assert.ok(blocks.length >= 10, `found ${blocks.length} json blocks`);
  assert.ok(messages >= 35, `found ${messages} example messages`);
});

Deno.test("README's --config file examples match HostConfig", () => {
  const readme = Deno.readTextFileSync(`${root}README.md`);
  // The config file examples are the jsonc blocks that name their file …-provider.jsonc.
  const blocks = [...readme.matchAll(/^```jsonc\n(\/\/ \S*provider\.jsonc\n[\s\S]*?)^```$/gm)];
  assert.ok(blocks.length >= 1, "README shows a --config file");
  for (const [, text] of blocks) {
    const r = parseJsonc(text);
    assert.ok(r.ok, text);
    assert.deepEqual(validate("HostConfig", r.value), [], text);
  }
});

const usage = { input_tokens: 1, cached_input_tokens: 0, output_tokens: 2, reasoning_tokens: 0 };
const event = (ev: unknown) => ({
  jsonrpc: "2.0",
  method: "event",
  params: { turn_id: "t", event: ev },
});
const chatResult = (r: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id: 3,
  result: { turn_id: "t", stop_reason: "end_turn", thread_id: "th", usage, ...r },
});
const chatRequest = (p: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id: 2,
  method: "chat",
  params: { turn_id: "t", agent: { id: "a", workspace: "/w" }, ...p },
});
// The smallest PNG header: what the plugin checks an image/png starts with.
const PNG = btoa(String.fromCharCode(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0));

Deno.test("what the documentation only describes in prose matches the schema", () => {
  const valid: [string, unknown][] = [
    ["EventNotification", event({ type: "reasoning_delta", text: "thinking" })],
    ["EventNotification", event({ type: "usage", ...usage, cache_write_input_tokens: 4 })],
    [
      "EventNotification",
      event({ type: "error", code: "rate_limited", message: "slow down", retry_after_s: 12.5 }),
    ],
    ["EventNotification", event({ type: "error", code: "rate_limited", message: "slow down" })],
    ["ChatResponse", chatResult({ replayed_messages: 3 })],
    ["ChatResponse", chatResult({ output: { files: 3 } })],
    ["ChatResponse", chatResult({ output: null })],
    ["ChatResponse", chatResult({ stop_reason: "error", thread_id: null, usage: null })],
    [
      "ChatRequest",
      chatRequest({
        model: "codex",
        reset: true,
        reasoning_effort: "xhigh",
        output_schema: { type: "object", properties: {}, additionalProperties: false },
        messages: [
          { role: "system", content: [{ type: "text", text: "be brief" }] },
          { role: "assistant", content: "earlier" },
          {
            role: "user",
            content: [{ type: "text", text: "what is it?" }, {
              type: "image",
              mime_type: "image/png",
              data: PNG,
            }],
          },
        ],
      }),
    ],
    [
      "InitializeRequest",
      {
        jsonrpc: "2.0",
        id: "init",
        method: "initialize",
        params: {
          protocol_version: 1,
          config: {
            binary: "/usr/bin/codex",
            extra_args: ["-c", "x=1"],
            supported_models: ["codex", "gpt-5"],
            model_args: { "gpt-5": "gpt-5-codex" },
            idle_timeout_s: 0.5,
            log_level: "debug",
            log_format: "json",
            emit_activity: true,
            emit_reasoning: true,
            replay_history: false,
            backend: "app-server",
            app_server_idle_s: 0,
            reasoning_effort: null,
          },
        },
      },
    ],
    ["ModelsRequest", { jsonrpc: "2.0", id: 1, method: "models" }],
    ["ShutdownRequest", { jsonrpc: "2.0", method: "shutdown", params: {} }],
    ["CancelResponse", { jsonrpc: "2.0", id: "c", result: { cancelled: false } }],
    ["ErrorResponse", { jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse" } }],
    ["ErrorResponse", { jsonrpc: "2.0", id: 7, error: { code: -32002, message: "init first" } }],
  ];
  const items = [
    {
      id: "i",
      type: "command_execution",
      command: "ls",
      aggregated_output: "x",
      exit_code: null,
      status: "in_progress",
      output_truncated: true,
    },
    { id: "i", type: "file_change", changes: [{ path: "a", kind: "add" }], status: "completed" },
    { id: "i", type: "mcp_tool_call", server: "s", tool: "t", status: "failed", error: "no" },
    { id: "i", type: "web_search", query: "deno" },
    { id: "i", type: "todo_list", items: [{ text: "x", completed: false }] },
  ];
  for (const item of items) {
    valid.push(["EventNotification", event({ type: "activity", phase: "updated", item })]);
  }
  assert.deepEqual(sorted(items.map((i) => i.type)), sorted(ACTIVITY_TYPES));
  for (const [def, value] of valid) {
    assert.deepEqual(validate(def, value), [], `${def}: ${JSON.stringify(value)}`);
    const side = def.endsWith("Request") ? "HostMessage" : "PluginMessage";
    assert.deepEqual(validate(side, value), [], `${side}: ${JSON.stringify(value)}`);
  }
});

Deno.test("messages the protocol forbids do not match, and the problem is named", () => {
  const invalid: [string, unknown, RegExp][] = [
    [
      "EventNotification",
      event({ type: "text", text: "hi" }),
      /\/params\/event\/type must be one of/,
    ],
    [
      "EventNotification",
      { jsonrpc: "2.0", method: "event", params: { event: { type: "text_delta", text: "x" } } },
      /required property 'turn_id'/,
    ],
    [
      "EventNotification",
      event({ type: "usage", ...usage, input_tokens: -5 }),
      /\/params\/event\/input_tokens must be >= 0/,
    ],
    [
      "EventNotification",
      event({ type: "usage", ...usage, output_tokens: 1.5 }),
      /output_tokens must be integer/,
    ],
    ["EventNotification", event({ type: "text_delta", text: 3 }), /text must be string/],
    ["EventNotification", event({ type: "error", code: "boom", message: "x" }), /code must be/],
    [
      "EventNotification",
      event({ type: "error", code: "timeout", message: "x", retry_after_s: 3 }),
      /retry_after_s/,
    ],
    [
      "EventNotification",
      event({ type: "activity", phase: "started", item: { id: "i", type: "plan" } }),
      /\/params\/event\/item\/type must be one of/,
    ],
    [
      "EventNotification",
      event({ type: "text_delta", text: "x", extra: 1 }),
      /additional properties: "extra"/,
    ],
    ["ChatResponse", chatResult({ stop_reason: "stopped" }), /stop_reason must be equal to one/],
    ["ChatResponse", chatResult({ stop_reason: "cancelled" }), /\/result\/usage must be null/],
    [
      "ChatResponse",
      chatResult({ usage: { ...usage, reasoning_tokens: -1 } }),
      /reasoning_tokens must be >= 0/,
    ],
    ["ChatResponse", chatResult({ replayed_messages: -1 }), /replayed_messages must be >= 0/],
    [
      "ChatResponse",
      chatResult({ stop_reason: "error", usage: null, output: {} }),
      /\/result\/output/,
    ],
    [
      "ChatRequest",
      chatRequest({ output_schema: [], messages: [{ role: "user", content: "hi" }] }),
      /\/params\/output_schema must be object,null/,
    ],
    ["ChatResponse", chatResult({ thread_id: undefined }), /required property 'thread_id'/],
    [
      "ErrorResponse",
      { jsonrpc: "2.0", id: 1, error: { code: -32602, message: "invalid params" } },
      /required property 'data'/,
    ],
    [
      "ErrorResponse",
      { jsonrpc: "2.0", id: 1, error: { code: -32700, message: "parse error" } },
      /\/id must be null/,
    ],
    [
      "ErrorResponse",
      { jsonrpc: "2.0", id: 1, error: { code: -1, message: "what" } },
      /code must be equal to one of the allowed values/,
    ],
    [
      "InitializeResponse",
      {
        jsonrpc: "2.0",
        id: 1,
        result: {
          protocol_version: 1,
          plugin: { name: "plexum-openai-provider-plugin", version: "1" },
          provider: "openai",
          models: ["codex"],
          capabilities: { agent_context: true, streaming: true, resume: true, cancel: true },
          images: true,
        },
      },
      /additional properties: "images"/,
    ],
    [
      "InitializeRequest",
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocol_version: 2 } },
      /protocol_version must be equal to one of the allowed values: \[1\]/,
    ],
    [
      "InitializeRequest",
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocol_version: 1, config: { bogus: 1 } },
      },
      /additional properties: "bogus"/,
    ],
    [
      "ChatRequest",
      chatRequest({ messages: [{ role: "system", content: "only instructions" }] }),
      /\/params\/messages must contain at least 1 valid item/,
    ],
    [
      "ChatRequest",
      chatRequest({
        messages: [
          { role: "system", content: [{ type: "image", mime_type: "image/png", data: PNG }] },
          { role: "user", content: "hi" },
        ],
      }),
      /\/params\/messages\/0\/content/,
    ],
    [
      "ChatRequest",
      chatRequest({
        messages: [{
          role: "user",
          content: [{ type: "image", mime_type: "image/bmp", data: PNG }],
        }],
      }),
      /mime_type must be equal to one of/,
    ],
    [
      "ChatRequest",
      chatRequest({
        agent: { id: "a", workspace: "w" },
        messages: [{ role: "user", content: "" }],
      }),
      /workspace must match pattern/,
    ],
    [
      "ChatRequest",
      chatRequest({ reasoning_effort: "max", messages: [{ role: "user", content: "hi" }] }),
      /\/params\/reasoning_effort must be equal to one of/,
    ],
  ];
  for (const [def, value, want] of invalid) {
    const problems = validate(def, value).join("\n");
    assert.match(problems, want, `${def}: ${JSON.stringify(value)}\ngot:\n${problems}`);
  }
});

Deno.test("the checker matches a result to the method of its request", () => {
  const check = new ProtocolChecker();
  check.sent('{"jsonrpc":"2.0","id":1,"method":"chat","params":{}}'); // invalid: an error answers it
  check.sent('{"jsonrpc":"2.0","id":2,"method":"models"}');
  check.sent('{"jsonrpc":"2.0","id":3,"method":"models","params":{"bogus":1}}');
  assert.equal(
    check.received({
      jsonrpc: "2.0",
      id: 1,
      error: {
        code: -32602,
        message: "invalid params",
        data: { errors: [{ field: "turn_id", message: "must be a non-empty string" }] },
      },
    }),
    undefined,
  );
  // A models request answered with a chat result.
  assert.match(
    check.received({ ...chatResult({}), id: 2 }) ?? "",
    /does not match lib\/protocol\/protocol-v1\.schema\.json#\/\$defs\/ModelsResponse/,
  );
  // A request the schema rejects, answered with a result.
  assert.match(
    check.received({ jsonrpc: "2.0", id: 3, result: { models: ["codex"] } }) ?? "",
    /accepted a request that .* rejects[\s\S]*additional properties: "bogus"/,
  );
  assert.match(check.received({ __not_json: "hello" }) ?? "", /PluginMessage/);
});

Deno.test("the checker stops at a request's first problem: a million bad messages cost no more", () => {
  // With every problem reported (ajv's allErrors), this took minutes and gigabytes.
  const line = '{"jsonrpc":"2.0","id":1,"method":"chat","params":{"turn_id":"t",' +
    `"agent":{"id":"a","workspace":"/w"},"messages":[${"1,".repeat(1_000_000)}1]}}`;
  const check = new ProtocolChecker();
  const t0 = performance.now();
  check.sent(line);
  assert.ok(performance.now() - t0 < 10_000, `took ${performance.now() - t0} ms`);
  assert.match(
    check.received({ ...chatResult({}), id: 1 }) ?? "",
    /accepted a request[\s\S]*\/params\/messages\/0 must be object/,
  );
});

Deno.test("the checker accepts events only between a chat request and its response", () => {
  const check = new ProtocolChecker();
  const text = (turn_id: string) => ({
    jsonrpc: "2.0",
    method: "event",
    params: { turn_id, event: { type: "text_delta", text: "x" } },
  });
  assert.match(check.received(text("t")) ?? "", /event of turn "t" outside that turn/);
  check.sent(JSON.stringify(chatRequest({ messages: [{ role: "user", content: "hi" }] })));
  assert.equal(check.received(text("t")), undefined);
  assert.equal(check.received({ ...chatResult({}), id: 2 }), undefined);
  assert.match(check.received(text("t")) ?? "", /outside that turn/);
  // A chat sent as a notification is never answered: its events may come at any time.
  const { id: _, ...notification } = chatRequest({ turn_id: "n", messages: [] });
  check.sent(JSON.stringify(notification));
  assert.equal(check.received(text("n")), undefined);
});

Deno.test("dev/plugin.ts fails a test whose plugin sends a message the schema rejects", async () => {
  // `wrap` runs a stand-in instead of the plugin: it answers the first line with an empty model list.
  const reply = '{"jsonrpc":"2.0","id":"m","result":{"models":[]}}';
  const p = startPlugin({ wrap: ["sh", "-c", `read -r l; echo '${reply}'; cat >/dev/null`, "sh"] });
  await assert.rejects(
    p.request("models", {}, "m"),
    /ModelsResponse:[\s\S]*\/result\/models must NOT have fewer than 1 items/,
  );
  assert.equal(p.protocolErrors.length, 1);
  await assert.rejects(p.waitFor(() => true), /ModelsResponse/);
  await assert.rejects(p.close(), /ModelsResponse/);
});

Deno.test("every method, event type, error code, activity type and config key is in the schema", () => {
  assert.deepEqual(sorted(consts("HostMessage", "method")), sorted(METHODS));
  for (const m of METHODS) {
    const response = `${m[0].toUpperCase()}${m.slice(1)}Response`;
    assert.ok(members("PluginMessage").includes(response), `PluginMessage lacks ${response}`);
  }
  assert.deepEqual(sorted(consts("Event", "type")), sorted(EVENT_TYPES));
  assert.deepEqual(sorted(defs.ErrorCode.enum as string[]), sorted(ERROR_CODES));
  assert.deepEqual(sorted(consts("ActivityItem", "type")), sorted(ACTIVITY_TYPES));
  assert.deepEqual(sorted(defs.RpcErrorCode.enum as number[]), sorted(Object.values(ErrorCodes)));
  assert.deepEqual(sorted(defs.ImageMimeType.enum as string[]), sorted(IMAGE_MIME_TYPES));
  assert.deepEqual(sorted(defs.ReasoningEffort.enum as string[]), sorted(REASONING_EFFORTS));
  assert.deepEqual(
    sorted(Object.keys(defs.HostConfig.properties as Schema)),
    sorted(Object.keys(CONFIG_KEYS)),
  );
});

/** The modules (npm packages included) that `deno info` finds in the graph of `file`. */
async function graphOf(file: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${root}${file}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout));
  return graph.modules.map((m: { specifier: string }) => m.specifier);
}

Deno.test("the shipped plugin does not carry the validator", async () => {
  const test = (s: string) => /\/dev\/|ajv/.test(s);
  assert.ok((await graphOf("dev/protocol_check.ts")).some((s) => s.includes("npm:/ajv@")));
  const shipped = await graphOf("main.ts");
  assert.ok(shipped.some((s) => s.endsWith("/lib/protocol/server.ts")), "main.ts's graph");
  assert.deepEqual(shipped.filter(test), []);
});
