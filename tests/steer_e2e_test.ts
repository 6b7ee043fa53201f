/**
 * Steering end to end (issue 18 part 1): the REAL Codex of each pinned release
 * on the app-server against the mock API, judged by what the mock received. A
 * `steer` chat sent while the workspace's turn streams goes into that turn
 * (the mock gets a request of the running turn with both messages), is
 * answered `steered` into it, and the text the host assembles (deltas, minus
 * retracted suffixes) has no abandoned fragment. With nothing running, or on
 * exec, it is an ordinary turn that says so.
 */
import assert from "node:assert/strict";
import { chat, chatParams, closePlugin, outcome, startRig, userTexts } from "./support/rig.ts";
import { APP_SERVER_VERSIONS, pluginOn } from "./support/app_server.ts";
import type { Msg } from "../dev/plugin.ts";

const SLOW = "Working on the first question, slowly and in many small pieces.";

/** The text a host assembles: deltas concatenated, each retracted suffix dropped. */
function assembled(events: Msg[]): string {
  let text = "";
  for (const ev of events) {
    if (ev.type === "text_delta") text += ev.text;
    if (ev.type === "text_retracted") {
      assert.ok(text.endsWith(ev.text), `retracted ${JSON.stringify(ev.text)} of ${text}`);
      text = text.slice(0, -ev.text.length);
    }
  }
  return text;
}

for (const version of APP_SERVER_VERSIONS) {
  Deno.test(`steer e2e (app-server, codex ${version}): the message goes into the running turn`, async () => {
    await using rig = await startRig([{ text: SLOW, chunks: 16, delayMs: 400 }, {
      text: "Both answered.",
    }]);
    const ws = await rig.workspace();
    const p = await pluginOn(rig, version, "app-server");
    const first = chatParams(ws, "FIRST-QUESTION");
    const started = performance.now();
    const firstId = await p.send("chat", first);
    const turnA = first.turn_id as string;
    await p.waitFor((m) => m.method === "event" && m.params?.turn_id === turnA, 60_000);
    const steer = await chat(p, ws, "STEER-ADDITION", { steer: true });
    assert.deepEqual(Object.keys(steer.response.result ?? {}).sort(), [
      "steered_into",
      "stop_reason",
      "thread_id",
      "turn_id",
      "usage",
    ], JSON.stringify(steer.response));
    assert.equal(steer.response.result.stop_reason, "steered");
    assert.equal(steer.response.result.steered_into, turnA);
    assert.equal(steer.response.result.usage, null);
    assert.equal(typeof steer.response.result.thread_id, "string");
    assert.deepEqual(steer.events, [], "no events of its own");
    const resA = await p.waitFor((m) => m.id === firstId && !("method" in m), 120_000);
    const a = outcome(p, turnA, resA, performance.now() - started);
    assert.equal(a.response.result?.stop_reason, "end_turn", JSON.stringify(a.response));
    assert.equal(a.response.result.thread_id, steer.response.result.thread_id);
    // The model got the steering text inside the running turn, with the first message.
    const both = rig.api.requests.filter((b) => {
      const texts = userTexts(b).join("\n");
      return texts.includes("FIRST-QUESTION") && texts.includes("STEER-ADDITION");
    });
    assert.ok(both.length >= 1, "a request of the turn carries both messages");
    assert.equal(rig.api.requests.length, 2, "one turn: the slow answer, then both answered");
    // What the host assembles is what Codex finally said: no abandoned fragment.
    const text = assembled(a.events);
    const abandoned = a.events.some((e) => e.type === "text_retracted");
    assert.ok(
      abandoned ? text === "Both answered." : text === `${SLOW}\n\nBoth answered.`,
      `assembled ${JSON.stringify(text)} (retracted: ${abandoned})`,
    );
    console.error(`codex ${version}: abandoned the streamed message: ${abandoned}`);
  });
}

Deno.test("steer e2e (codex 0.169.0): nothing running is an ordinary turn; on exec, unsupported", async () => {
  await using rig = await startRig([{ text: "ok" }]);
  const ws = await rig.workspace();
  const p = await pluginOn(rig, "0.169.0", "app-server");
  const r = await chat(p, ws, "alone", { steer: true });
  assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r.response));
  assert.equal(r.response.result.steer, "not_running");
  assert.equal(r.text, "ok");
  await closePlugin(p);
  const e = await pluginOn(rig, "0.169.0", "exec");
  const init = await e.waitFor((m) => m.result?.capabilities !== undefined);
  assert.equal(init.result.capabilities.steer, false);
  const x = await chat(e, await rig.workspace(), "on exec", { steer: true });
  assert.equal(x.response.result?.stop_reason, "end_turn", JSON.stringify(x.response));
  assert.equal(x.response.result.steer, "unsupported");
});
