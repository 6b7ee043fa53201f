/**
 * The turn options of `chat` (lib/protocol/turn_options.ts), unit by unit:
 * what is accepted and what is refused naming its field, the config default,
 * what exec's argv gets, and which effort an app-server `turn/start` carries
 * (lib/codex/app_server/effort.ts) on a stubbed connection. End to end on
 * the real Codex: tests/turn_options_e2e_test.ts.
 */
import assert from "node:assert/strict";
import { DEFAULTS, REASONING_EFFORTS, validateConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { parseChatParams } from "../lib/protocol/chat_params.ts";
import { execArgs } from "../lib/codex/exec/argv.ts";
import { outputOf, writeSchema } from "../lib/codex/output_schema.ts";
import { TurnMapper } from "../lib/codex/exec/jsonl.ts";
import { AppServerTurnMapper } from "../lib/codex/app_server/notifications.ts";
import { MAX_OUTPUT_SCHEMA_BYTES } from "../lib/protocol/turn_options.ts";
import { noteLoadedEffort, turnEffort } from "../lib/codex/app_server/effort.ts";
import type { TurnContext } from "../lib/codex/app_server/calls.ts";
import type { TurnRequest } from "../lib/turns/backend.ts";

const ws = Deno.makeTempDirSync({ prefix: "turn-options-" });
const opts = { models: ["codex"], inFlight: () => false };
const chat = (extra: Record<string, unknown>) =>
  parseChatParams({
    turn_id: "t",
    agent: { id: "a", workspace: ws },
    messages: [{ role: "user", content: "hi" }],
    ...extra,
  }, opts);

Deno.test("reasoning_effort: each value every supported Codex takes, null or absent is none", () => {
  assert.deepEqual(REASONING_EFFORTS, ["none", "minimal", "low", "medium", "high", "xhigh"]);
  for (const e of REASONING_EFFORTS) {
    const r = chat({ reasoning_effort: e });
    assert.ok(r.ok && r.value.reasoningEffort === e, e);
  }
  for (const extra of [{}, { reasoning_effort: null }]) {
    const r = chat(extra);
    assert.ok(r.ok && !("reasoningEffort" in r.value));
  }
});

Deno.test("reasoning_effort: anything else is refused, naming the field", () => {
  for (const bad of ["max", "HIGH", "", 3, true, ["low"]]) {
    const r = chat({ reasoning_effort: bad });
    assert.ok(!r.ok);
    assert.deepEqual(r.error, [{
      field: "reasoning_effort",
      message: "must be one of none, minimal, low, medium, high, xhigh",
    }], JSON.stringify(bad));
  }
});

Deno.test("config reasoning_effort: null (the default) or a value; else one error", () => {
  assert.equal(DEFAULTS.reasoning_effort, null);
  const v = validateConfig({ reasoning_effort: "low" });
  assert.ok(v.ok && v.value.reasoning_effort === "low");
  const n = validateConfig({ reasoning_effort: null }, { ...DEFAULTS, reasoning_effort: "high" });
  assert.ok(n.ok && n.value.reasoning_effort === null);
  const bad = validateConfig({ reasoning_effort: "ultra" });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.error.map((e) => e.field), ["reasoning_effort"]);
});

Deno.test("exec: the effort is one -c before extra_args and resume, for this run only", () => {
  const args = execArgs({ extraArgs: ["-c", "x=1"], reasoningEffort: "high", threadId: "T" });
  const at = args.indexOf("-c");
  assert.deepEqual(args.slice(at), [
    "-c",
    'model_reasoning_effort="high"',
    "-c",
    "x=1",
    "resume",
    "T",
    "-",
  ]);
  assert.ok(!execArgs({ extraArgs: [] }).some((a) => a.includes("reasoning")));
});

/** A context whose app-server answers config/read and model/list as given, counting them. */
function stubContext(answers: Record<string, unknown>, config = { ...DEFAULTS }) {
  const asked: string[] = [];
  const client = {
    request(method: string) {
      asked.push(method);
      const a = answers[method];
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  };
  const ctx = {
    conn: { proc: { client }, loaded: new Map() },
    config,
    log: createLogger({ write: () => {} }),
    requestTimeoutMs: 1000,
  } as unknown as TurnContext;
  return { ctx, asked };
}

const req = (reasoningEffort?: TurnRequest["reasoningEffort"]): TurnRequest => ({
  workspace: ws,
  prompt: "hi",
  model: "codex",
  reset: false,
  signal: new AbortController().signal,
  emit: () => {},
  ...(reasoningEffort && { reasoningEffort }),
});

const MODELS = {
  data: [
    { id: "m-other", model: "m-other", defaultReasoningEffort: "high", isDefault: false },
    { id: "m-default", model: "m-default", defaultReasoningEffort: "medium", isDefault: true },
  ],
};

Deno.test("app-server effort: a turn without one restores Codex's own after one with it", async () => {
  const { ctx, asked } = stubContext({ "config/read": { config: {} }, "model/list": MODELS });
  const turn = async (e: TurnRequest["reasoningEffort"]) => {
    const t = await turnEffort(ctx, req(e), "T", false);
    t.started();
    return t.params;
  };
  noteLoadedEffort(ctx.conn, "T", null); // thread/resume says: no effort of its own
  assert.deepEqual(await turn(undefined), {}, "a thread no turn gave an effort has Codex's own");
  assert.deepEqual(await turn(undefined), {}, "still Codex's own");
  assert.deepEqual(asked, [], "nothing asked while the thread is known to have Codex's own");
  assert.deepEqual(await turn("xhigh"), { effort: "xhigh" });
  assert.deepEqual(await turn(undefined), { effort: "medium" }, "the default model's default");
  assert.deepEqual(await turn(undefined), {}, "restored: nothing more to send");
  assert.deepEqual(await turn("low"), { effort: "low" });
  assert.deepEqual(await turn(undefined), { effort: "medium" });
  assert.deepEqual(asked, ["config/read", "model/list"], "each asked once per app-server");
});

Deno.test("app-server effort: a resumed thread may carry another's effort, so Codex's own is sent", async () => {
  const configured = stubContext({ "config/read": { config: { model_reasoning_effort: "low" } } });
  noteLoadedEffort(configured.ctx.conn, "T", "xhigh"); // thread/resume: what a turn left, or config
  const t = await turnEffort(configured.ctx, req(), "T", false);
  assert.deepEqual(t.params, { effort: "low" }, "config.toml's (or -c) effort");
  assert.deepEqual(configured.asked, ["config/read"]);

  const named = stubContext(
    { "config/read": { config: {} }, "model/list": MODELS },
    { ...DEFAULTS, supported_models: ["codex", "m-other"] },
  );
  const other = await turnEffort(named.ctx, { ...req(), model: "m-other" }, "T", false);
  assert.deepEqual(other.params, { effort: "high" }, "the turn's model's default");

  const unknown = stubContext({ "config/read": new Error("no"), "model/list": new Error("no") });
  const u = await turnEffort(unknown.ctx, req(), "T", false);
  assert.deepEqual(u.params, {}, "nothing when Codex's own cannot be told");
});

Deno.test("app-server effort: a new thread has Codex's own, whatever its loading said", async () => {
  const { ctx, asked } = stubContext({});
  noteLoadedEffort(ctx.conn, "N", "high"); // thread/start under config.toml's effort
  assert.deepEqual((await turnEffort(ctx, req(), "N", true)).params, {});
  assert.deepEqual(asked, []);
});

Deno.test("app-server effort: config reasoning_effort is every turn's default", async () => {
  const { ctx, asked } = stubContext({}, { ...DEFAULTS, reasoning_effort: "minimal" });
  assert.deepEqual((await turnEffort(ctx, req(), "T", false)).params, { effort: "minimal" });
  assert.deepEqual((await turnEffort(ctx, req("high"), "T", false)).params, { effort: "high" });
  assert.deepEqual(asked, []);
});

globalThis.addEventListener("unload", () => Deno.removeSync(ws, { recursive: true }));

Deno.test("output_schema: an object of at most 64 KiB as JSON; else refused, naming the field", () => {
  const schema = { type: "object", properties: { a: { type: "string" } } };
  const r = chat({ output_schema: schema });
  assert.ok(r.ok);
  assert.deepEqual(r.value.outputSchema, schema);
  const none = chat({ output_schema: null });
  assert.ok(none.ok && !("outputSchema" in none.value));
  // 64 KiB of JSON exactly is taken; one byte more is not (UTF-8 bytes, not characters).
  const sized = (bytes: number) => ({ d: "é".repeat((bytes - 8) / 2) }); // {"d":"…"} is 8 + 2n
  assert.ok(chat({ output_schema: sized(MAX_OUTPUT_SCHEMA_BYTES) }).ok);
  for (const bad of [sized(MAX_OUTPUT_SCHEMA_BYTES + 2), [], "schema", true, 3]) {
    const e = chat({ output_schema: bad });
    assert.ok(!e.ok);
    assert.deepEqual(
      e.error.map((x) => x.field),
      ["output_schema"],
      JSON.stringify(bad).slice(0, 40),
    );
  }
});

Deno.test("output: the final answer parsed; not JSON, or none, is one turn_failed saying so", () => {
  assert.deepEqual(outputOf(' {"a": [1, null]} '), { ok: true, value: { a: [1, null] } });
  assert.deepEqual(outputOf("false"), { ok: true, value: false });
  for (const answer of ["Sure, here it is: {}", "", undefined]) {
    const r = outputOf(answer);
    assert.ok(!r.ok);
    assert.equal(r.error.code, "turn_failed");
    assert.match(r.error.message, /^output_schema: /);
  }
});

Deno.test("exec: the schema file is one --output-schema= argument before resume", () => {
  const args = execArgs({ extraArgs: [], outputSchema: "/tmp/s.json", threadId: "T" });
  assert.deepEqual(args.slice(-4), ["--output-schema=/tmp/s.json", "resume", "T", "-"]);
});

Deno.test("exec: the schema file is private while the turn runs and gone after", async () => {
  const schema = { type: "object" };
  let path: string | undefined;
  {
    await using f = await writeSchema(schema);
    path = f.path!;
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), schema);
  }
  await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  assert.equal((await writeSchema(undefined)).path, undefined);
});

Deno.test("the final answer is the last completed agent message, on both mappers", () => {
  const exec = new TurnMapper({ emitActivity: false });
  for (const [id, text] of [["a", "Let me look."], ["b", '{"files":3}']]) {
    exec.push({ type: "item.completed", item: { id, type: "agent_message", text } });
  }
  assert.equal(exec.answer, '{"files":3}');
  const app = new AppServerTurnMapper({ emitActivity: false });
  app.push("item/completed", { item: { type: "agentMessage", id: "a", text: "Let me look." } });
  app.push("item/agentMessage/delta", { itemId: "b", delta: '{"files":' });
  assert.equal(app.answer, "Let me look.", "a message still streaming is not the answer yet");
  app.push("item/completed", { item: { type: "agentMessage", id: "b", text: '{"files":3}' } });
  assert.equal(app.answer, '{"files":3}');
});

Deno.test("steer: a boolean or null; else refused, naming the field", () => {
  const steer = (extra: Record<string, unknown>) => {
    const r = chat(extra);
    return r.ok ? r.value.steer : undefined;
  };
  assert.equal(steer({ steer: true }), true);
  for (const extra of [{}, { steer: null }, { steer: false }]) {
    assert.equal(steer(extra), undefined);
  }
  for (const bad of ["true", 1, {}]) {
    const r = chat({ steer: bad });
    assert.ok(!r.ok);
    assert.deepEqual(r.error, [{ field: "steer", message: "must be a boolean" }]);
  }
});
