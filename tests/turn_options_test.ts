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
import { turnEffort } from "../lib/codex/app_server/effort.ts";
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
  const turn = async (e: TurnRequest["reasoningEffort"], fresh = false) => {
    const t = await turnEffort(ctx, req(e), "T", fresh);
    t.started();
    return t.params;
  };
  assert.deepEqual(await turn(undefined, true), {}, "a new thread has Codex's own");
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

Deno.test("app-server effort: config reasoning_effort is every turn's default", async () => {
  const { ctx, asked } = stubContext({}, { ...DEFAULTS, reasoning_effort: "minimal" });
  assert.deepEqual((await turnEffort(ctx, req(), "T", true)).params, { effort: "minimal" });
  assert.deepEqual((await turnEffort(ctx, req("high"), "T", false)).params, { effort: "high" });
  assert.deepEqual(asked, []);
});

globalThis.addEventListener("unload", () => Deno.removeSync(ws, { recursive: true }));
