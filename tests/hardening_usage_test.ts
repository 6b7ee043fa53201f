/**
 * Issue 13, points 2 and 3: usage is never a wrong number. A read-only
 * workspace keeps its baseline in memory and in the state directory (per-turn
 * usage stays exact, also in a new plugin process); counts that are not
 * non-negative integers, in the baseline file the agent can write or in
 * Codex's own totals, are ignored with a warning and the turn reports
 * `usage: null` rather than a wild number.
 */
import assert from "node:assert/strict";
import { turnLog } from "./support/logs.ts";
import { installFaultyCodex, type Step } from "./support/faulty_codex.ts";
import { chat, startRig } from "./support/rig.ts";

const EXEC = { backend: "exec" };
const THREAD = "0199a0b1-0000-7000-8000-0000000050a9";

/** As in tests/faults_test.ts: mode bits apply to root too, without CAP_DAC_OVERRIDE. */
function withoutDacOverride(): string[] {
  if (Deno.uid() !== 0) return [];
  const caps = "-dac_override,-dac_read_search";
  return ["setpriv", `--inh-caps=${caps}`, `--bounding-set=${caps}`, "--"];
}

Deno.test("a read-only workspace: every turn's usage is that turn's, in this plugin and in the next", async () => {
  await using rig = await startRig([{ text: "answer" }]);
  const ws = await rig.workspace();
  const a = await rig.plugin(EXEC);
  const first = await chat(a, ws, "turn 1");
  assert.equal(first.response.result.usage?.input_tokens, 120);
  await Deno.chmod(ws, 0o555); // the session file stays; nothing new can be written
  try {
    const p = await rig.plugin(EXEC, { wrap: withoutDacOverride() });
    const seen: number[] = [];
    for (let i = 2; i <= 4; i++) {
      const r = await chat(p, ws, `turn ${i}`);
      assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
      assert.equal(r.response.result.thread_id, first.response.result.thread_id, "resumed");
      seen.push(r.response.result.usage?.input_tokens);
    }
    // A new plugin process: the baseline comes from the state directory.
    const q = await rig.plugin(EXEC, { wrap: withoutDacOverride() });
    const r5 = await chat(q, ws, "turn 5");
    seen.push(r5.response.result.usage?.input_tokens);
    console.log(`read-only workspace, input tokens per turn: 120, ${seen.join(", ")}`);
    assert.deepEqual(seen, [120, 120, 120, 120], "each turn: one request of 120 tokens");
    const usageFile = JSON.parse(await Deno.readTextFile(`${ws}/.plexum-codex-usage`));
    assert.equal(usageFile.totals.input_tokens, 120, "the workspace was not written");
  } finally {
    await Deno.chmod(ws, 0o755);
  }
});

/** A fake codex resuming THREAD that reports `usage` as the thread's totals. */
function steps(usage: unknown): Step[] {
  return [
    { line: JSON.stringify({ type: "thread.started", thread_id: THREAD }) },
    { line: JSON.stringify({ type: "turn.started" }) },
    {
      line: JSON.stringify({
        type: "item.completed",
        item: { id: "m", type: "agent_message", text: "ok" },
      }),
    },
    { line: JSON.stringify({ type: "turn.completed", usage }) },
  ];
}

const GOOD = { input_tokens: 3000, cached_input_tokens: 100, output_tokens: 40 };

Deno.test("baselines the agent rewrote (negative, strings, fractions, larger than the totals) are ignored: usage null, a warning", async (t) => {
  const cases: Record<string, unknown> = {
    "negative": { input_tokens: -1000000000, output_tokens: 0 },
    "strings": { input_tokens: "1000", output_tokens: "2" },
    "fraction": { input_tokens: 0.5, output_tokens: 1 },
    "larger than codex's totals": { input_tokens: 1e12, output_tokens: 1e12 },
  };
  await using fake = await installFaultyCodex({ steps: steps(GOOD) });
  await using rig = await startRig();
  const p = await rig.plugin({ ...EXEC, binary: fake.binary });
  let previous: string | undefined; // the last turn of the step before
  for (const [name, totals] of Object.entries(cases)) {
    await t.step(name, async () => {
      const ws = await rig.workspace();
      await Deno.writeTextFile(`${ws}/.plexum-codex-session`, `${THREAD}\n`);
      await Deno.writeTextFile(
        `${ws}/.plexum-codex-usage`,
        JSON.stringify({ thread_id: THREAD, totals }),
      );
      const r = await chat(p, ws, "hi");
      assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
      assert.equal(r.response.result.usage, null, JSON.stringify(r.response.result.usage));
      assert.deepEqual(r.events.filter((e) => e.type === "usage"), []);
      assert.match(
        await turnLog(p, r.turnId, { after: previous }),
        /WARN no usage baseline for this resumed thread/,
      );
      // The next turn has a trustworthy baseline again: Codex's totals did not move.
      const next = await chat(p, ws, "again");
      assert.equal(next.response.result.usage?.input_tokens, 0);
      previous = next.turnId;
    });
  }
});

Deno.test('codex totals that are not counts (-5, "x", 1e300, null) give usage null and a warning, never the numbers', async (t) => {
  const cases: Record<string, unknown> = {
    "negative": { ...GOOD, input_tokens: -5 },
    "string": { ...GOOD, output_tokens: "x" },
    "1e300": { ...GOOD, input_tokens: 1e300 },
    "null": { ...GOOD, cached_input_tokens: null },
  };
  await using rig = await startRig();
  for (const [name, usage] of Object.entries(cases)) {
    await t.step(name, async () => {
      await using fake = await installFaultyCodex({ steps: steps(usage) });
      const p = await rig.plugin({ ...EXEC, binary: fake.binary });
      const ws = await rig.workspace();
      const r = await chat(p, ws, "hi", { reset: true });
      assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
      assert.equal(r.response.result.usage, null, JSON.stringify(r.response.result.usage));
      assert.match(
        await turnLog(p, r.turnId),
        /WARN codex reported token totals that are not counts/,
      );
    });
  }
});
