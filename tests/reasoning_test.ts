/**
 * `reasoning_delta` events (config `emit_reasoning`): exec's completed
 * reasoning items whole, the app-server's summary deltas as they come; mapped
 * from the recorded fixtures and end to end on the real Codex releases
 * against the mock. Off by default; never in `text_delta`.
 */
import assert from "node:assert/strict";
import { type CodexEvent, TurnMapper } from "../lib/codex/exec/jsonl.ts";
import { AppServerTurnMapper } from "../lib/codex/app_server/notifications.ts";
import type { PlexumEvent } from "../lib/turns/backend.ts";
import { CODEX_VERSIONS, ensureCodex } from "../dev/codex.ts";
import { chat, startRig } from "./support/rig.ts";
import { backendConfig, BACKENDS, EDGE_VERSIONS } from "./support/backends.ts";

const REASONING = "The user wants a greeting.";

async function replay(version: string, emitReasoning: boolean): Promise<PlexumEvent[]> {
  const lines =
    (await Deno.readTextFile(new URL(`../fixtures/${version}/reasoning.jsonl`, import.meta.url)))
      .split("\n").filter(Boolean);
  const m = new TurnMapper({ emitActivity: false, emitReasoning });
  return lines.flatMap((l) => m.push(JSON.parse(l) as CodexEvent));
}

for (const version of CODEX_VERSIONS) {
  Deno.test(`reasoning fixture ${version}: one reasoning_delta per completed item, only when asked`, async () => {
    assert.deepEqual(await replay(version, true), [
      { type: "reasoning_delta", text: REASONING },
      { type: "text_delta", text: "Hi there!" },
    ]);
    assert.deepEqual(await replay(version, false), [{ type: "text_delta", text: "Hi there!" }]);
  });
}

Deno.test("exec: a second reasoning item starts on a new paragraph", () => {
  const m = new TurnMapper({ emitActivity: false, emitReasoning: true });
  const item = (id: string, text: string) =>
    ({ type: "item.completed", item: { id, type: "reasoning", text } }) as CodexEvent;
  assert.deepEqual([...m.push(item("a", "One.")), ...m.push(item("b", "Two."))], [
    { type: "reasoning_delta", text: "One." },
    { type: "reasoning_delta", text: "\n\nTwo." },
  ]);
});

Deno.test("app-server reasoning: deltas as they come, the completed item adds only what is missing", () => {
  const m = new AppServerTurnMapper({ emitActivity: false, emitReasoning: true });
  const d = (delta: string, summaryIndex = 0) =>
    m.push("item/reasoning/summaryTextDelta", { itemId: "rs", delta, summaryIndex });
  const completed = (id: string, summary: string[]) =>
    m.push("item/completed", { item: { type: "reasoning", id, summary } });
  assert.deepEqual([...d("The user "), ...d("wants")], [
    { type: "reasoning_delta", text: "The user " },
    { type: "reasoning_delta", text: "wants" },
  ]);
  assert.deepEqual(completed("rs", ["The user wants a greeting.", "Then act."]), [
    { type: "reasoning_delta", text: " a greeting." },
    { type: "reasoning_delta", text: "\n\nThen act." },
  ]);
  assert.deepEqual(d("late"), [], "nothing after the item completed");
  assert.deepEqual(completed("rs2", ["Whole."]), [
    { type: "reasoning_delta", text: "\n\nWhole." },
  ]);
});

for (const version of CODEX_VERSIONS) {
  Deno.test(`app-server reasoning fixture ${version}: a whole reasoning item, only when asked`, async () => {
    const lines = (await Deno.readTextFile(
      new URL(`../fixtures/app-server/${version}/reasoning.jsonl`, import.meta.url),
    )).split("\n").filter(Boolean).map((l) => JSON.parse(l).msg);
    for (const emitReasoning of [true, false]) {
      const m = new AppServerTurnMapper({ emitActivity: false, emitReasoning });
      const events = lines.filter((msg) => typeof msg.method === "string" && msg.params)
        .flatMap((msg) => m.push(msg.method, msg.params));
      assert.deepEqual(
        events.filter((e) => e.type !== "text_delta"),
        emitReasoning ? [{ type: "reasoning_delta", text: REASONING }] : [],
      );
      assert.equal(
        events.filter((e) => e.type === "text_delta").map((e) => e.text).join(""),
        "Hi there!",
      );
    }
  });
}

for (const version of CODEX_VERSIONS) {
  Deno.test(`app-server reasoning fixture ${version}: summary deltas as they came, nothing twice`, async () => {
    const lines = (await Deno.readTextFile(
      new URL(`../fixtures/app-server/${version}/reasoning_stream.jsonl`, import.meta.url),
    )).split("\n").filter(Boolean).map((l) => JSON.parse(l).msg);
    const m = new AppServerTurnMapper({ emitActivity: false, emitReasoning: true });
    const events = lines.filter((msg) => typeof msg.method === "string" && msg.params)
      .flatMap((msg) => m.push(msg.method, msg.params));
    assert.deepEqual(events.filter((e) => e.type === "reasoning_delta"), [
      { type: "reasoning_delta", text: "The user " },
      { type: "reasoning_delta", text: "wants a g" },
      { type: "reasoning_delta", text: "reeting." },
    ]);
  });
}

for (const backend of BACKENDS) {
  // Each release's reasoning items are pinned by its fixtures above; end to end, where the
  // wire can change: the oldest and the newest.
  for (const version of EDGE_VERSIONS) {
    Deno.test(`reasoning e2e (${backend}, codex ${version}): reasoning_delta only with emit_reasoning, never in the text`, async () => {
      // The summary streamed in 3 deltas: the app-server passes each on, exec prints the item whole.
      await using rig = await startRig([{
        reasoning: REASONING,
        text: "Hi there!",
        reasoningChunks: 3,
      }]);
      const binary = await ensureCodex(version);
      for (const emit of [true, false]) {
        const p = await rig.plugin({ ...backendConfig(backend), binary, emit_reasoning: emit });
        const r = await chat(p, await rig.workspace(), "Think, then greet.");
        assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r));
        assert.equal(r.text, "Hi there!");
        const reasoning = r.events.filter((e) => e.type === "reasoning_delta");
        if (emit) {
          assert.equal(reasoning.map((e) => e.text).join(""), REASONING);
          assert.equal(reasoning.length, backend === "exec" ? 1 : 3);
          // Before the answer, as the model produced it.
          assert.ok(
            r.events.indexOf(reasoning[0]) < r.events.findIndex((e) => e.type === "text_delta"),
          );
        } else assert.deepEqual(reasoning, []);
      }
    });
  }
}
