/**
 * The turn runner (lib/codex/turn_runner.ts) with scripted drivers: what
 * every turn needs, whichever backend runs it, pinned once — stale-thread
 * recovery, history replay, the thread id saved, exactly one error event,
 * rate limits, usage and its baseline, the result.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { type Driver, type DriverTurn, type Happening, runTurn } from "../lib/codex/turn_runner.ts";
import { readThreadId, writeThreadId } from "../lib/codex/session.ts";
import { readTotals, writeTotals } from "../lib/codex/usage.ts";
import type { PlexumEvent, TurnRequest } from "../lib/turns/backend.ts";
import { TurnFailure } from "../lib/turns/outcome.ts";

const OLD = "0199a0b1-0000-7000-8000-00000000000a";
const NEW = "0199a0b1-0000-7000-8000-00000000000b";

/** A driver that plays `script(turn)` and remembers each turn it got. */
function scripted(script: (t: DriverTurn, n: number) => Happening[]) {
  const turns: DriverTurn[] = [];
  const driver: Driver = {
    async *run(t) {
      turns.push(t);
      for (const h of script(t, turns.length)) yield await Promise.resolve(h);
    },
  };
  return { driver, turns };
}

async function run(driver: Driver, req: Partial<TurnRequest> = {}, ws?: string) {
  const workspace = ws ?? await Deno.makeTempDir({ prefix: "turn-runner-" });
  const events: PlexumEvent[] = [];
  const logs: string[] = [];
  try {
    const result = await runTurn(driver, {
      workspace,
      prompt: "What is my name?",
      history: [{ role: "user", text: "I am Ada." }, { role: "assistant", text: "Hi Ada." }],
      model: "codex",
      reset: false,
      signal: new AbortController().signal,
      emit: (ev) => events.push(ev),
      ...req,
    }, { config: { ...DEFAULTS }, log: createLogger({ write: (l) => logs.push(l) }) });
    return { result, events, logs, thread: await readThreadId(workspace), workspace };
  } finally {
    if (!ws) await Deno.remove(workspace, { recursive: true });
  }
}

const errors = (evs: PlexumEvent[]) => evs.filter((e) => e.type === "error");

Deno.test("a new thread: history replayed first, the thread id saved, usage of the fresh thread", async () => {
  const { driver, turns } = scripted(() => [
    { type: "thread", id: NEW, fresh: true },
    { type: "text_delta", text: "Ada." },
    { type: "totals", totals: { input_tokens: 10, output_tokens: 2 } },
    { type: "completed" },
  ]);
  const r = await run(driver);
  assert.equal(turns[0].threadId, undefined);
  assert.match(turns[0].text, /^<earlier_conversation>[\s\S]*I am Ada\.[\s\S]*What is my name\?$/);
  assert.equal(r.thread, NEW);
  assert.deepEqual(r.events, [
    { type: "text_delta", text: "Ada." },
    {
      type: "usage",
      input_tokens: 10,
      cached_input_tokens: 0,
      output_tokens: 2,
      reasoning_tokens: 0,
    },
  ]);
  assert.deepEqual(r.result, {
    stop_reason: "end_turn",
    thread_id: NEW,
    usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 2, reasoning_tokens: 0 },
    replayed_messages: 2,
  });
});

Deno.test("a stale stored thread is replaced within the turn, once, with a warning", async () => {
  const ws = await Deno.makeTempDir({ prefix: "turn-runner-" });
  try {
    await writeThreadId(ws, OLD);
    const { driver, turns } = scripted((t) =>
      t.threadId
        ? [{ type: "failed", cause: { type: "stale_thread", message: "no rollout found" } }]
        : [{ type: "thread", id: NEW, fresh: true }, { type: "completed" }]
    );
    const r = await run(driver, {}, ws);
    assert.deepEqual(turns.map((t) => t.threadId), [OLD, undefined]);
    assert.equal(turns[0].text, "What is my name?", "a resumed thread gets only the prompt");
    assert.match(turns[1].text, /earlier_conversation/, "the new thread gets the history");
    assert.deepEqual(errors(r.events), []);
    assert.equal(r.thread, NEW);
    assert.equal(r.result.replayed_messages, 2);
    assert.ok(r.logs.some((l) => l.includes("codex no longer knows the stored thread")));
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("a failed turn gives exactly one error; a usage limit is rate_limited with retry_after_s", async () => {
  const limit = "You've hit your usage limit. Try again in 30 seconds.";
  const { driver } = scripted(() => [
    { type: "thread", id: NEW, fresh: true },
    { type: "failed", cause: { type: "codex", message: limit } },
  ]);
  const r = await run(driver);
  assert.deepEqual(errors(r.events), [
    { type: "error", code: "rate_limited", message: limit, retry_after_s: 30 },
  ]);
  assert.deepEqual(r.result, {
    stop_reason: "error",
    thread_id: NEW,
    usage: null,
    replayed_messages: 2,
  });

  const other = scripted(() => [{
    type: "failed",
    cause: { type: "failure", failure: new TurnFailure("codex_exit", "codex exited") },
  }]);
  const o = await run(other.driver, { reset: true });
  assert.deepEqual(errors(o.events), [{
    type: "error",
    code: "codex_exit",
    message: "codex exited",
  }]);
  assert.equal(o.result.replayed_messages, undefined, "no thread got the history");
});

Deno.test("a cancelled turn emits nothing and keeps Codex's totals as the next baseline", async () => {
  const ws = await Deno.makeTempDir({ prefix: "turn-runner-" });
  try {
    await writeThreadId(ws, OLD);
    await writeTotals(ws, OLD, { input_tokens: 5 });
    const { driver } = scripted(() => [
      { type: "thread", id: OLD, fresh: false },
      { type: "totals", totals: { input_tokens: 50 } },
      { type: "failed", cause: { type: "cancelled" } },
    ]);
    const r = await run(driver, {}, ws);
    assert.deepEqual(r.events, []);
    assert.deepEqual(r.result, { stop_reason: "cancelled", thread_id: OLD, usage: null });
    assert.deepEqual(await readTotals(ws, OLD), { input_tokens: 50 });
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("nothing after the end counts, and a driver that ends unreported is an internal error", async () => {
  const { driver } = scripted(() => [
    { type: "completed" },
    { type: "text_delta", text: "late" },
  ]);
  const r = await run(driver, { reset: true });
  assert.deepEqual(r.events, []);
  assert.equal(r.result.stop_reason, "end_turn");

  const silent = scripted(() => []);
  const s = await run(silent.driver, { reset: true });
  assert.equal(errors(s.events).length, 1);
  assert.equal((errors(s.events)[0] as { code: string }).code, "internal");
});

Deno.test("an aborted request never reaches the driver", async () => {
  const { driver, turns } = scripted(() => [{ type: "completed" }]);
  const ac = new AbortController();
  ac.abort();
  const r = await run(driver, { signal: ac.signal });
  assert.equal(turns.length, 0);
  assert.deepEqual(r.result, { stop_reason: "cancelled", thread_id: null, usage: null });
});
