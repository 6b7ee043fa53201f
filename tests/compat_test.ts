/**
 * The core end-to-end turns against EVERY pinned Codex CLI version
 * (CODEX_VERSIONS: the newest pinned and the oldest supported), with the
 * differences between them pinned down:
 *
 * - 0.135.0 prints `item.started` for a command but no `item.completed`, and
 *   has no `cache_write_input_tokens` in its usage;
 * - 0.169.0 and 0.171.0 (the newest release) print both command events and
 *   report `cache_write_input_tokens`.
 */
import assert from "node:assert/strict";
import { CODEX_VERSIONS, ensureCodex } from "../dev/codex.ts";
import type { MockReply } from "../dev/mock_api.ts";
import { chat, startRig } from "./support/rig.ts";

/**
 * What each version does differently (checked below, not assumed).
 * `commandPhases` lists every activity sequence a command turn may give:
 * 0.135.0 always reports the command started but reports its completion only
 * some of the time (measured: in 2 to 4 runs of 6), 0.169.0 always both.
 */
const DIFFERENCES: Record<string, { commandPhases: string[][]; cacheWrite: boolean }> = {
  "0.135.0": { commandPhases: [["started"], ["started", "completed"]], cacheWrite: false },
  "0.169.0": { commandPhases: [["started", "completed"]], cacheWrite: true },
  "0.171.0": { commandPhases: [["started", "completed"]], cacheWrite: true },
};

/** A rig whose plugin runs codex `version` (emit_activity on). */
async function rigFor(version: string, script: MockReply[]) {
  const binary = await ensureCodex(version);
  const rig = await startRig(script);
  try {
    const ws = await rig.workspace();
    const plugin = await rig.plugin({ binary, emit_activity: true });
    return { rig, ws, plugin };
  } catch (e) {
    await rig[Symbol.asyncDispose]();
    throw e;
  }
}

for (const v of CODEX_VERSIONS) {
  const diff = DIFFERENCES[v];

  Deno.test(`codex ${v}: plain turn gives text, usage and a stored thread`, async () => {
    assert.ok(diff, `differences of ${v} are pinned in this file`);
    const { rig, ws, plugin } = await rigFor(v, [{ text: `Hello from ${v}.` }]);
    await using _ = rig;
    const r = await chat(plugin, ws, "Say hello.");
    assert.equal(r.response.result.stop_reason, "end_turn");
    assert.equal(r.text, `Hello from ${v}.`);
    assert.deepEqual(r.errors, []);
    const usage = r.response.result.usage;
    assert.ok(usage.input_tokens > 0);
    assert.equal("cache_write_input_tokens" in usage, diff.cacheWrite);
    const ev = r.events.find((e) => e.type === "usage");
    assert.equal("cache_write_input_tokens" in ev!, diff.cacheWrite);
    assert.equal(
      await Deno.readTextFile(`${ws}/.plexum-codex-session`),
      `${r.response.result.thread_id}\n`,
    );
  });

  Deno.test(`codex ${v}: a second turn resumes the thread and sees the first`, async () => {
    const { rig, ws, plugin } = await rigFor(v, [
      { text: "Remembered: 7 blue herons." },
      { text: "There were 7 blue herons." },
    ]);
    await using _ = rig;
    const first = await chat(plugin, ws, "Remember 7 blue herons.");
    const second = await chat(plugin, ws, "How many herons?");
    assert.equal(second.response.result.stop_reason, "end_turn");
    assert.equal(second.text, "There were 7 blue herons.");
    assert.equal(second.response.result.thread_id, first.response.result.thread_id);
    assert.ok(JSON.stringify(rig.api.requests[1]).includes("Remembered: 7 blue herons."));
    // Per-turn usage from the thread's running totals: both turns cost the mock the same.
    assert.deepEqual(second.response.result.usage, first.response.result.usage);
  });

  Deno.test(`codex ${v}: a failed turn (401) is exactly one turn_failed error`, async () => {
    const { rig, ws, plugin } = await rigFor(v, [{ status: 401 }]);
    await using _ = rig;
    const r = await chat(plugin, ws, "Say hello.");
    assert.equal(r.response.result.stop_reason, "error");
    assert.equal(r.errors.length, 1, JSON.stringify(r.events));
    assert.equal(r.errors[0].code, "turn_failed");
    assert.match(r.errors[0].message, /401/);
  });

  Deno.test(`codex ${v}: a command turn sends activity ${diff?.commandPhases.map((p) => p.join("+")).join(" or ")}`, async () => {
    const { rig, ws, plugin } = await rigFor(v, [
      { shell: "echo compat-$((40+2))", via: "function" },
      { text: "The command printed compat-42." },
    ]);
    await using _ = rig;
    const r = await chat(plugin, ws, "Run the command.");
    assert.equal(r.response.result.stop_reason, "end_turn");
    assert.equal(r.text, "The command printed compat-42.");
    const activity = r.events.filter((e) => e.type === "activity");
    const phases = activity.map((e) => e.phase);
    assert.ok(
      diff.commandPhases.some((p) => JSON.stringify(p) === JSON.stringify(phases)),
      `phases ${JSON.stringify(phases)} not among ${JSON.stringify(diff.commandPhases)}`,
    );
    for (const e of activity) {
      assert.equal(e.item.type, "command_execution");
      assert.match(e.item.command, /echo compat-\$\(\(40\+2\)\)/);
    }
    const done = activity.find((e) => e.phase === "completed");
    if (done) {
      assert.equal(done.item.exit_code, 0);
      assert.equal(done.item.aggregated_output, "compat-42\n");
    }
    // The command really ran: its output went back to the model.
    assert.ok(JSON.stringify(rig.api.requests[1]).includes("compat-42"));
    assert.deepEqual(r.errors, []);
  });
}
