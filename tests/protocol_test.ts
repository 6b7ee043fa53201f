/**
 * The wire protocol (PROTOCOL.md) against main.ts as a subprocess: every
 * method, every error code, and that a bad line never stops the plugin.
 *
 * Most tests write a fixed conversation to stdin, close it, and read every
 * line of stdout: requests other than `chat` are answered in order, so the
 * replies line up with the requests. The in-flight `turn_id` test runs a real
 * turn (Codex 0.169.0 against the mock API).
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { type Msg, pluginArgs, startPlugin } from "../dev/plugin.ts";
import { checkConversation } from "../dev/protocol_check.ts";

const enc = new TextEncoder();
const INIT = { jsonrpc: "2.0", id: "init", method: "initialize", params: { protocol_version: 1 } };

/** One line of input: raw text, raw bytes, or an object sent as JSON. */
type Line = string | Uint8Array | Record<string, unknown> | unknown[];

/** Run the plugin over `lines` then stdin EOF; every stdout message and the exit status. */
async function converse(lines: Line[]): Promise<{ messages: Msg[]; code: number; raw: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: pluginArgs(),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  const sent: string[] = [];
  for (const l of lines) {
    const bytes = l instanceof Uint8Array
      ? l
      : enc.encode(typeof l === "string" ? l : JSON.stringify(l));
    sent.push(new TextDecoder().decode(bytes));
    await w.write(bytes);
    await w.write(enc.encode("\n"));
  }
  await w.close();
  const out = await child.output();
  const raw = new TextDecoder().decode(out.stdout);
  const messages = raw.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  // Every reply must match the protocol's JSON Schema (dev/protocol_check.ts).
  const broken = checkConversation(sent, messages);
  if (broken.length) throw new Error(broken.join("\n"));
  return { messages, code: out.code, raw };
}

const req = (id: string | number, method: string, params?: unknown) =>
  params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };

/** The response with `id` (exactly one). */
function byId(messages: Msg[], id: unknown): Msg {
  const found = messages.filter((m) => m.id === id && !("method" in m));
  assert.equal(
    found.length,
    1,
    `one response for id ${JSON.stringify(id)}: ${JSON.stringify(messages)}`,
  );
  return found[0];
}

const fields = (m: Msg) => (m.error?.data?.errors ?? []).map((e: { field: string }) => e.field);

Deno.test("initialize returns the plugin, provider, models and capabilities", async () => {
  const { messages, code } = await converse([
    req(1, "initialize", {
      protocol_version: 1,
      host: { name: "plexum", version: "9.9.9" },
      config: { supported_models: ["codex", "gpt-5-codex"] },
    }),
    req(2, "models", {}),
    req(3, "models"), // params may be omitted
  ]);
  assert.equal(code, 0);
  const meta = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.deepEqual(byId(messages, 1), {
    jsonrpc: "2.0",
    id: 1,
    result: {
      protocol_version: 1,
      plugin: { name: "plexum-openai-provider-plugin", version: meta.version },
      provider: "openai",
      models: ["codex", "gpt-5-codex"],
      capabilities: {
        agent_context: true,
        streaming: true,
        resume: true,
        cancel: true,
        reasoning_effort: true,
        output_schema: true,
        steer: true, // backend auto
      },
    },
  });
  assert.deepEqual(byId(messages, 2).result, { models: ["codex", "gpt-5-codex"] });
  assert.deepEqual(byId(messages, 3).result, { models: ["codex", "gpt-5-codex"] });
});

Deno.test("every request before a successful initialize is -32002", async () => {
  const { messages, code } = await converse([
    req(1, "models", {}),
    req(2, "chat", { turn_id: "t", agent: { id: "a", workspace: "/tmp" }, messages: [] }),
    req(3, "cancel", { turn_id: "t" }),
    req(4, "shutdown", {}),
    req(5, "no_such_method", {}),
    req(6, "initialize", { protocol_version: 1, config: { idle_timeout_s: 0 } }),
    req(7, "models", {}), // the failed initialize did not count
    req(8, "initialize", { protocol_version: 1 }),
    req(9, "models", {}),
  ]);
  assert.equal(code, 0);
  for (const id of [1, 2, 3, 4, 5, 7]) {
    assert.equal(byId(messages, id).error?.code, -32002, `request ${id}`);
  }
  assert.equal(byId(messages, 6).error?.code, -32602);
  assert.deepEqual(byId(messages, 9).result, { models: ["codex"] });
});

Deno.test("a second initialize is -32600 and leaves the first config in force", async () => {
  const { messages } = await converse([
    req(1, "initialize", { protocol_version: 1, config: { supported_models: ["a"] } }),
    req(2, "initialize", { protocol_version: 1, config: { supported_models: ["b"] } }),
    req(3, "models", {}),
  ]);
  assert.ok(byId(messages, 1).result);
  assert.equal(byId(messages, 2).error.code, -32600);
  assert.match(byId(messages, 2).error.message, /already initialized/);
  assert.deepEqual(byId(messages, 3).result, { models: ["a"] });
});

Deno.test("an unsupported protocol_version is -32602 with data.supported", async () => {
  const { messages } = await converse([
    req(1, "initialize", { protocol_version: 2 }),
    req(2, "initialize", {}),
    req(3, "initialize", { protocol_version: "1" }),
  ]);
  for (const id of [1, 2, 3]) {
    const e = byId(messages, id).error;
    assert.equal(e.code, -32602, `request ${id}`);
    assert.deepEqual(e.data.supported, [1]);
    assert.deepEqual(fields(byId(messages, id)), ["protocol_version"]);
  }
});

Deno.test("invalid initialize config is -32602 naming each bad field", async () => {
  const { messages } = await converse([
    req(1, "initialize", {
      protocol_version: 1,
      host: "plexum",
      config: {
        idle_timeout_s: -1,
        log_level: "loud",
        emit_activity: "yes",
        extra_args: "--x",
        supported_models: [],
        model_args: { codex: "-m" },
        api_key: "sk-secret",
        bogus: true,
      },
    }),
    req(2, "initialize", { protocol_version: 1, config: ["not", "an", "object"] }),
  ]);
  const e = byId(messages, 1).error;
  assert.equal(e.code, -32602);
  assert.deepEqual(fields(byId(messages, 1)).sort(), [
    "config.api_key",
    "config.bogus",
    "config.emit_activity",
    "config.extra_args",
    "config.idle_timeout_s",
    "config.log_level",
    "config.model_args.codex",
    "config.supported_models",
    "host",
  ]);
  for (const err of e.data.errors) assert.equal(typeof err.message, "string");
  assert.doesNotMatch(JSON.stringify(e), /sk-secret/);
  assert.deepEqual(fields(byId(messages, 2)), ["config"]);
});

Deno.test("an unknown method is -32601", async () => {
  const { messages } = await converse([INIT, req(1, "completions", {})]);
  const e = byId(messages, 1).error;
  assert.equal(e.code, -32601);
  assert.match(e.message, /completions/);
});

Deno.test("an unparsable line is -32700 with id null and the next request is still served", async () => {
  const { messages, code } = await converse([
    INIT,
    '{"jsonrpc":"2.0","id":1,"method":"models"', // cut short
    "not json at all",
    req(2, "models", {}),
  ]);
  assert.equal(code, 0);
  const parseErrors = messages.filter((m) => m.error?.code === -32700);
  assert.equal(parseErrors.length, 2);
  for (const m of parseErrors) assert.equal(m.id, null);
  assert.deepEqual(byId(messages, 2).result, { models: ["codex"] });
});

Deno.test("a request with id null is carried out and answered with id null (PROTOCOL.md's checklist)", async () => {
  const { messages, code } = await converse([
    INIT,
    '{"jsonrpc":"2.0","id":null,"method":"models"}',
  ]);
  assert.equal(code, 0);
  const answer = messages.filter((m) => m.id === null);
  assert.equal(answer.length, 1, JSON.stringify(messages));
  assert.deepEqual(answer[0].result, { models: ["codex"] });
});

Deno.test("PROTOCOL.md's host checklist names what a host needs, in step with --help and deno.json", async () => {
  const read = (p: string) => Deno.readTextFile(new URL(p, import.meta.url));
  const doc = await read("../PROTOCOL.md");
  const start = doc.indexOf("## Host author's checklist");
  const list = doc.slice(start, doc.indexOf("\n## ", start + 1));
  assert.ok(start >= 0, "no checklist");
  const deno = JSON.parse(await read("../deno.json"));
  const perms = (deno.tasks["compile:raw"] as string).split(/\s+/).filter((w) =>
    w.startsWith("--allow")
  );
  assert.ok(list.includes(`deno run ${perms.join(" ")} main.ts`), "the start command's flags");
  for (const v of ["PATH", "HOME", "CODEX_HOME", "OPENAI_API_KEY", "CODEX_API_KEY"]) {
    assert.ok(list.includes(`\`${v}\``), v);
  }
  for (
    const what of [
      "**Exit codes.**",
      "`2` for a bad command line or a bad `--config` file",
      "**`agent.id`**",
      "**`id: null`.**",
      "**How many workspaces at once.**",
    ]
  ) {
    assert.ok(list.includes(what), what);
  }
  // Backend-neutral: exec's command line is described as exec's, not as what every turn runs.
  assert.doesNotMatch(doc, /^- Codex runs as\s*$/m);
});

Deno.test("a line of invalid UTF-8 is -32700 and the next request is still served", async () => {
  const bad = new Uint8Array([
    ...enc.encode('{"jsonrpc":"2.0","id":1,"method":"models","x":"'),
    0xff,
    0xfe,
    0x22,
    0x7d,
  ]);
  const { messages } = await converse([INIT, bad, req(2, "models", {})]);
  const e = messages.find((m) => m.error);
  assert.equal(e?.error.code, -32700);
  assert.equal(e?.id, null);
  assert.match(e?.error.message, /UTF-8/);
  assert.ok(!messages.some((m) => m.id === 1), "the invalid line was not executed");
  assert.deepEqual(byId(messages, 2).result, { models: ["codex"] });
});

Deno.test("malformed requests are -32600: batch, missing jsonrpc, bad id, bad method, params not an object", async () => {
  const { messages } = await converse([
    INIT,
    [req(1, "models", {}), req(2, "models", {})], // batch
    { id: 3, method: "models", params: {} }, // no jsonrpc
    { jsonrpc: "1.0", id: 4, method: "models" },
    { jsonrpc: "2.0", id: { x: 1 }, method: "models" },
    { jsonrpc: "2.0", id: 5, method: 7 },
    { jsonrpc: "2.0", id: 6, method: "models", params: "x" },
    { jsonrpc: "2.0", id: 7, method: "models", params: [1] },
    "42",
    req(8, "models", {}),
  ]);
  const errors = messages.filter((m) => m.error);
  assert.equal(errors.length, 8, JSON.stringify(messages));
  for (const m of errors) assert.equal(m.error.code, -32600, JSON.stringify(m));
  // The id is echoed when it is a valid id; a batch, a non-object and a bad id get null.
  assert.deepEqual(errors.map((m) => m.id), [null, 3, 4, null, 5, 6, 7, null]);
  assert.match(errors[0].error.message, /batch/);
  assert.match(errors[1].error.message, /jsonrpc/);
  assert.match(errors[5].error.message, /params/);
  assert.ok(!messages.some((m) => m.id === 1 || m.id === 2), "no member of the batch ran");
  assert.deepEqual(byId(messages, 8).result, { models: ["codex"] });
});

Deno.test("notifications, host responses, blank lines and CRLF get no reply and break nothing", async () => {
  const { messages } = await converse([
    INIT,
    { jsonrpc: "2.0", method: "models", params: {} }, // a notification: no response
    { jsonrpc: "2.0", method: "no_such_method" }, // even an unknown one
    { jsonrpc: "2.0", id: 99, result: {} }, // a response: the plugin sends no requests
    "",
    "   ",
    JSON.stringify(req(1, "models", {})) + "\r",
  ]);
  assert.equal(messages.length, 2, JSON.stringify(messages));
  assert.equal(messages[0].id, "init");
  assert.deepEqual(byId(messages, 1).result, { models: ["codex"] });
});

Deno.test("cancel of an unknown turn is {cancelled: false}; a bad turn_id is -32602", async () => {
  const { messages } = await converse([
    INIT,
    req(1, "cancel", { turn_id: "never-started" }),
    req(2, "cancel", {}),
    req(3, "cancel", { turn_id: 5 }),
  ]);
  assert.deepEqual(byId(messages, 1).result, { cancelled: false });
  for (const id of [2, 3]) {
    assert.equal(byId(messages, id).error.code, -32602);
    assert.deepEqual(fields(byId(messages, id)), ["turn_id"]);
  }
});

Deno.test("shutdown answers {} and the plugin exits 0", async () => {
  const { messages, code } = await converse([INIT, req(1, "shutdown", {}), req(2, "models", {})]);
  assert.equal(code, 0);
  assert.deepEqual(byId(messages, 1).result, {});
  assert.ok(!messages.some((m) => m.id === 2), "nothing is served after shutdown");
});

Deno.test("each invalid chat is -32602 naming its fields, and no turn starts", async (t) => {
  const ws = await Deno.makeTempDir({ prefix: "plexum-proto-" });
  try {
    const file = `${ws}/a-file`;
    await Deno.writeTextFile(file, "");
    const agent = { id: "agent-1", workspace: ws };
    const user = [{ role: "user", content: "hi" }];
    const good = { turn_id: "t", agent, messages: user };
    const cases: [string, Record<string, unknown>, string[]][] = [
      ["turn_id missing", { agent, messages: user }, ["turn_id"]],
      ["turn_id empty", { ...good, turn_id: "" }, ["turn_id"]],
      ["turn_id not a string", { ...good, turn_id: 7 }, ["turn_id"]],
      ["agent missing", { turn_id: "t", messages: user }, ["agent"]],
      ["agent not an object", { ...good, agent: "a" }, ["agent"]],
      ["agent.id missing", { ...good, agent: { workspace: ws } }, ["agent.id"]],
      ["workspace relative", { ...good, agent: { id: "a", workspace: "tmp/x" } }, [
        "agent.workspace",
      ]],
      ["workspace missing", { ...good, agent: { id: "a" } }, ["agent.workspace"]],
      ["workspace does not exist", { ...good, agent: { id: "a", workspace: `${ws}/nope` } }, [
        "agent.workspace",
      ]],
      ["workspace is a file", { ...good, agent: { id: "a", workspace: file } }, [
        "agent.workspace",
      ]],
      ["model not advertised", { ...good, model: "gpt-4o" }, ["model"]],
      ["model not a string", { ...good, model: 1 }, ["model"]],
      ["messages missing", { turn_id: "t", agent }, ["messages"]],
      ["messages not an array", { ...good, messages: "hi" }, ["messages"]],
      ["messages empty", { ...good, messages: [] }, ["messages"]],
      ["no user message", {
        ...good,
        messages: [{ role: "system", content: "s" }, { role: "assistant", content: "a" }],
      }, ["messages"]],
      ["empty prompt", { ...good, messages: [{ role: "user", content: " \n" }] }, [
        "messages[0].content",
      ]],
      ["last user message empty", {
        ...good,
        messages: [...user, { role: "assistant", content: "a" }, { role: "user", content: "" }],
      }, ["messages[2].content"]],
      ["bad role", { ...good, messages: [...user, { role: "tool", content: "x" }] }, [
        "messages[1].role",
      ]],
      ["content not a string", { ...good, messages: [...user, { role: "user", content: 1 }] }, [
        "messages[1].content",
      ]],
      ["message not an object", { ...good, messages: [...user, "x"] }, ["messages[1]"]],
      ["reset not a boolean", { ...good, reset: "yes" }, ["reset"]],
      ["several at once", { turn_id: "", agent: { id: "", workspace: "rel" }, messages: [] }, [
        "turn_id",
        "agent.id",
        "agent.workspace",
        "messages",
      ]],
    ];
    const { messages } = await converse([
      INIT,
      ...cases.map(([, params], i) => req(i, "chat", params)),
    ]);
    for (const [name, , want] of cases) {
      await t.step(name, () => {
        const m = byId(messages, cases.findIndex((c) => c[0] === name));
        assert.equal(m.error?.code, -32602, JSON.stringify(m));
        assert.deepEqual(fields(m), want);
        for (const f of want) {
          assert.match(m.error.message, new RegExp(f.replace(/[[\].]/g, "\\$&")));
        }
      });
    }
    assert.ok(!messages.some((m) => m.method === "event"), "no events");
    assert.deepEqual(
      [...Deno.readDirSync(ws)].map((e) => e.name),
      ["a-file"],
      "no lock, no session",
    );
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("chat with a turn_id already in flight is -32602 and the running turn is untouched", async () => {
  const api = startMockApi([{ hang: true }]);
  const home = await Deno.makeTempDir({ prefix: "plexum-codex-home-" });
  const ws = await Deno.makeTempDir({ prefix: "plexum-proto-" });
  const { args, env } = mockCodexSetup(api.baseUrl, home);
  const p = startPlugin({ env });
  try {
    await p.request("initialize", {
      protocol_version: 1,
      config: { binary: await ensureCodex("0.169.0"), extra_args: args },
    });
    const chat = {
      turn_id: "dup",
      agent: { id: "a", workspace: ws },
      messages: [{ role: "user", content: "hi" }],
    };
    const first = await p.send("chat", chat);
    const until = Date.now() + 30_000;
    while (api.requests.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(api.requests.length, 1, "the first turn is running");
    const again = await p.request("chat", chat);
    assert.equal(again.error?.code, -32602);
    assert.deepEqual(fields(again), ["turn_id"]);
    assert.match(again.error.message, /in flight/);
    assert.deepEqual((await p.request("cancel", { turn_id: "dup" })).result, { cancelled: true });
    const done = await p.waitFor((m) => m.id === first);
    assert.equal(done.result.stop_reason, "cancelled");
    assert.equal(api.requests.length, 1, "the duplicate never reached Codex");
    // Once answered, the id is free again.
    const reuse = await p.send("chat", chat);
    assert.deepEqual((await p.request("cancel", { turn_id: "dup" })).result, { cancelled: true });
    const reused = await p.waitFor((m) => m.id === reuse);
    assert.equal(reused.result?.turn_id, "dup");
    assert.equal(reused.result?.stop_reason, "cancelled");
  } finally {
    await p.close();
    await api.close();
    await Deno.remove(home, { recursive: true });
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("PROTOCOL.md documents every method, JSON-RPC error code, event type and event error code", async () => {
  const read = (p: string) => Deno.readTextFile(new URL(p, import.meta.url));
  const doc = await read("../PROTOCOL.md");
  const { ErrorCodes } = await import("../lib/jsonrpc/message.ts");
  const { METHODS } = await import("../lib/protocol/server.ts");
  const { ERROR_CODES, EVENT_TYPES, ACTIVITY_TYPES } = await import("../lib/turns/backend.ts");
  assert.deepEqual([...METHODS].sort(), ["cancel", "chat", "initialize", "models", "shutdown"]);
  for (const m of METHODS) assert.match(doc, new RegExp(`^## ${m}$`, "m"), `method ${m}`);
  for (const code of Object.values(ErrorCodes)) {
    assert.ok(doc.includes(`| \`${code}\``), `error ${code}`);
  }
  assert.ok(ERROR_CODES.length >= 5);
  for (const c of ERROR_CODES) assert.ok(doc.includes(`| \`${c}\``), `event error code ${c}`);
  assert.deepEqual([...EVENT_TYPES].sort(), [
    "activity",
    "error",
    "reasoning_delta",
    "text_delta",
    "text_retracted",
    "usage",
  ]);
  for (const t of EVENT_TYPES) assert.match(doc, new RegExp(`^### ${t}$`, "m"), `event ${t}`);
  for (const t of ACTIVITY_TYPES) assert.ok(doc.includes(`\`${t}\``), `activity type ${t}`);
  for (const f of [".plexum-codex-session", ".plexum-codex-usage", ".plexum-codex.lock"]) {
    assert.ok(doc.includes(`\`${f}\``), f);
  }
});
