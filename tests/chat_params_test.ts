/** parseChatParams: what a valid chat request becomes, and one error per bad field. */
import assert from "node:assert/strict";
import { parseChatParams, parseMessages } from "../lib/protocol/chat_params.ts";

const opts = { models: ["codex", "o4"], inFlight: (id: string) => id === "busy" };

Deno.test("chat params: the prompt is the last user message, system messages are joined", () => {
  const ws = Deno.makeTempDirSync();
  try {
    const r = parseChatParams({
      turn_id: "t1",
      agent: { id: "a", workspace: ws },
      messages: [
        { role: "system", content: "Be terse." },
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "system", content: "Use metric units." },
        { role: "user", content: "second" },
      ],
    }, opts);
    assert.ok(r.ok);
    assert.deepEqual(r.value, {
      turnId: "t1",
      workspace: ws,
      prompt: "second",
      history: [{ role: "user", text: "first" }, { role: "assistant", text: "ok" }],
      system: "Be terse.\n\nUse metric units.",
      model: "codex",
      reset: false,
    });
  } finally {
    Deno.removeSync(ws);
  }
});

Deno.test("chat params: every bad field is named once", () => {
  const r = parseChatParams({
    turn_id: "busy",
    agent: { id: "", workspace: "relative/dir" },
    model: "gpt-unknown",
    reset: "yes",
    messages: [{ role: "robot", content: 1 }],
  }, opts);
  assert.ok(!r.ok);
  assert.deepEqual(r.error.map((e) => e.field), [
    "turn_id",
    "agent.id",
    "agent.workspace",
    "model",
    "reset",
    "messages[0].role",
    "messages[0].content",
    "messages",
  ]);
});

Deno.test("messages: lone surrogates in any message become U+FFFD (issue 19.1)", () => {
  const r = parseMessages([
    { role: "system", content: "sys\udc00" },
    { role: "user", content: "early\ud800" },
    { role: "assistant", content: [{ type: "text", text: "\ud83d" }] },
    { role: "user", content: "a\ud800b \ud83d\ude00" },
  ]);
  assert.ok(r.ok);
  assert.equal(r.value.prompt, "a\uFFFDb \ud83d\ude00"); // a whole pair is kept
  assert.equal(r.value.system, "sys\uFFFD");
  assert.deepEqual(r.value.history.map((m) => m.text), ["early\uFFFD", "\uFFFD"]);
});
