/**
 * Issue 19.1: a prompt holding a lone UTF-16 surrogate (a cut emoji, JSON
 * `"a\ud800b"`) reaches Codex as U+FFFD on both backends, answered within
 * seconds, while another workspace's streaming turn on the same shared
 * app-server finishes untouched. Before, the app-server never answered
 * `turn/start` for it: the turn waited `idle_timeout_s`, then the shared
 * process was restarted, ending every other workspace's turn.
 */
import assert from "node:assert/strict";
import { BACKENDS } from "./support/backends.ts";
import { chat, chatParams, outcome, startRig, userTexts } from "./support/rig.ts";

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a lone surrogate in a prompt arrives as U+FFFD within seconds while another workspace streams on`, async () => {
    const long = "streaming answer ".repeat(20).trim();
    await using rig = await startRig([
      { text: long, chunks: 20, delayMs: 150 },
      { text: "fixed" },
    ]);
    // The malformed turn must not be saved by a long idle timeout: 60 s would pass the old code
    // only after a minute, and the test bounds its answer to 15 s.
    const p = await rig.plugin({ backend, idle_timeout_s: 60 });
    const wsA = await rig.workspace("a");
    const wsB = await rig.workspace("b");
    const a = chat(p, wsA, "tell me something long");
    // Wait until A's request is streaming at the mock, so B's turn runs beside it.
    const t0 = performance.now();
    while (rig.api.requests.length < 1) {
      assert.ok(performance.now() - t0 < 60_000, "A's turn never reached the mock");
      await new Promise((r) => setTimeout(r, 20));
    }
    const params = chatParams(wsB, "PLACEHOLDER");
    const line = JSON.stringify({ jsonrpc: "2.0", id: "bad-1", method: "chat", params })
      .replace("PLACEHOLDER", "a\\ud800b");
    const sent = performance.now();
    await p.sendLine(line);
    const resp = await p.waitFor((m) => m.id === "bad-1" && !("method" in m), 15_000);
    const b = outcome(p, params.turn_id as string, resp, performance.now() - sent);
    assert.equal(b.response.result?.stop_reason, "end_turn", JSON.stringify(b.response));
    assert.equal(b.text, "fixed");
    const ra = await a;
    assert.equal(ra.response.result?.stop_reason, "end_turn", JSON.stringify(ra.response));
    assert.equal(ra.text, long);
    assert.deepEqual(ra.errors, []);
    const seen = rig.api.requests.flatMap((body) => userTexts(body));
    assert.ok(seen.some((t) => t.includes("a\uFFFDb")), JSON.stringify(seen));
    assert.ok(!seen.some((t) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(t)));
  });
}
