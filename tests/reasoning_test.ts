/**
 * `reasoning_delta` events (config `emit_reasoning`): exec's completed
 * reasoning items, mapped from the recorded fixtures and end to end on the
 * real Codex releases against the mock. Off by default; never in `text_delta`.
 */
import assert from "node:assert/strict";
import { type CodexEvent, TurnMapper } from "../lib/codex/exec/events.ts";
import type { PlexumEvent } from "../lib/turns/backend.ts";
import { CODEX_VERSIONS, ensureCodex } from "../dev/codex.ts";
import { chat, startRig } from "./support/rig.ts";
import { backendConfig, BACKENDS } from "./support/backends.ts";

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

for (const backend of BACKENDS) {
  for (const version of CODEX_VERSIONS) {
    Deno.test(`reasoning e2e (${backend}, codex ${version}): reasoning_delta only with emit_reasoning, never in the text`, async () => {
      await using rig = await startRig([{ reasoning: REASONING, text: "Hi there!" }]);
      const binary = await ensureCodex(version);
      for (const emit of [true, false]) {
        const p = await rig.plugin({ ...backendConfig(backend), binary, emit_reasoning: emit });
        const r = await chat(p, await rig.workspace(), "Think, then greet.");
        assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r));
        assert.equal(r.text, "Hi there!");
        const reasoning = r.events.filter((e) => e.type === "reasoning_delta");
        if (emit) {
          assert.equal(reasoning.map((e) => e.text).join(""), REASONING);
          // Before the answer, as the model produced it.
          assert.ok(
            r.events.indexOf(reasoning[0]) < r.events.findIndex((e) => e.type === "text_delta"),
          );
        } else assert.deepEqual(reasoning, []);
      }
    });
  }
}
