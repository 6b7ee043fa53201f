/**
 * lib/codex/exec/jsonl.ts (TurnMapper) and usageDelta on the real recordings
 * of every pinned Codex version (fixtures/<version>/, made by
 * scripts/record_fixtures.ts).
 */
import assert from "node:assert/strict";
import { type CodexEvent, TurnMapper } from "../lib/codex/exec/jsonl.ts";
import type { PlexumEvent } from "../lib/turns/backend.ts";
import { usageDelta } from "../lib/codex/usage.ts";
import { CODEX_VERSIONS } from "../dev/codex.ts";
import { fixturePath } from "../dev/fake_codex.ts";

// deno-lint-ignore no-explicit-any
type Line = Record<string, any>;

function load(version: string, name: string): Line[] {
  return Deno.readTextFileSync(fixturePath(version, name)).split("\n").filter(Boolean).map((l) =>
    JSON.parse(l)
  );
}

/** Feed a whole recording; the events sent, the mapper, and every note. */
function map(events: Line[], emitActivity = false) {
  const notes: string[] = [];
  const m = new TurnMapper({ emitActivity, onNote: (msg) => notes.push(msg) });
  const out: PlexumEvent[] = events.flatMap((ev) => m.push(ev as CodexEvent));
  return { m, out, notes };
}

const agentTexts = (evs: Line[]) =>
  evs.filter((e) => e.type === "item.completed" && e.item.type === "agent_message").map((e) =>
    e.item.text as string
  );
const totals = (evs: Line[]) => evs.find((e) => e.type === "turn.completed")!.usage;

for (const v of CODEX_VERSIONS) {
  Deno.test(`${v}: a plain turn gives its text, thread id and totals`, () => {
    const evs = load(v, "plain");
    const { m, out } = map(evs);
    assert.deepEqual(out, [{ type: "text_delta", text: agentTexts(evs)[0] }]);
    assert.equal(m.threadId, evs[0].thread_id);
    assert.equal(m.completed, true);
    assert.equal(m.failure, undefined);
    assert.deepEqual(m.totals, totals(evs));
  });

  Deno.test(`${v}: usage of a resumed turn is the delta of the thread's running totals`, () => {
    const first = totals(load(v, "plain"));
    const second = totals(load(v, "resume"));
    const fresh = usageDelta(first);
    assert.equal(fresh.input_tokens, first.input_tokens);
    assert.equal(fresh.cached_input_tokens, first.cached_input_tokens);
    assert.equal(fresh.output_tokens, first.output_tokens);
    assert.equal(fresh.reasoning_tokens, first.reasoning_output_tokens);
    const d = usageDelta(second, first);
    assert.equal(d.input_tokens, second.input_tokens - first.input_tokens);
    assert.equal(d.cached_input_tokens, second.cached_input_tokens - first.cached_input_tokens);
    assert.equal(d.output_tokens, second.output_tokens - first.output_tokens);
    assert.equal(
      d.reasoning_tokens,
      second.reasoning_output_tokens - first.reasoning_output_tokens,
    );
    assert.ok(d.input_tokens > 0 && d.input_tokens < second.input_tokens);
  });

  Deno.test(`${v}: error + turn.failed is one failure and no event while streaming`, () => {
    const evs = load(v, "failed");
    assert.deepEqual(evs.map((e) => e.type), [
      "thread.started",
      "turn.started",
      "error",
      "turn.failed",
    ]);
    const { m, out } = map(evs);
    assert.deepEqual(out, []);
    assert.equal(m.failure, evs[3].error.message);
    assert.equal(m.lastError, evs[2].message);
    assert.equal(m.completed, false);
  });

  Deno.test(`${v}: a non-fatal Reconnecting... error event produces no error`, () => {
    const evs = load(v, "reconnect");
    const err = evs.find((e) => e.type === "error");
    assert.match(err!.message, /^Reconnecting\.\.\./);
    const { m, out } = map(evs, true);
    assert.deepEqual(out, [{ type: "text_delta", text: agentTexts(evs)[0] }]);
    assert.equal(m.failure, undefined);
    assert.equal(m.completed, true);
  });

  Deno.test(`${v}: command activity only when emitActivity`, () => {
    const evs = load(v, "command");
    const text = { type: "text_delta", text: agentTexts(evs)[0] };
    assert.deepEqual(map(evs, false).out, [text]);
    const on = map(evs, true).out;
    const commands = evs.filter((e) => e.item?.type === "command_execution");
    assert.ok(commands.length > 0);
    assert.deepEqual(on, [
      ...commands.map((e) => ({
        type: "activity",
        phase: e.type.slice("item.".length),
        item: e.item,
      })),
      text,
    ]);
  });

  Deno.test(`${v}: a reasoning item is never sent, even with emitActivity`, () => {
    const evs = load(v, "reasoning");
    assert.ok(evs.some((e) => e.item?.type === "reasoning"));
    const { out, notes } = map(evs, true);
    assert.deepEqual(out, [{ type: "text_delta", text: agentTexts(evs)[0] }]);
    assert.ok(notes.includes("codex item.completed"));
  });

  Deno.test(`${v}: two agent messages are joined with a blank line`, () => {
    const evs = load(v, "two_messages");
    const [a, b] = agentTexts(evs);
    assert.ok(a && b);
    const texts = map(evs, true).out.filter((e) => e.type === "text_delta");
    assert.deepEqual(texts, [
      { type: "text_delta", text: a },
      { type: "text_delta", text: `\n\n${b}` },
    ]);
  });
}

Deno.test("0.135.0 has no cache_write_input_tokens: usage omits it; 0.169.0 reports it", () => {
  const old = totals(load("0.135.0", "plain"));
  assert.equal("cache_write_input_tokens" in old, false);
  assert.equal("cache_write_input_tokens" in usageDelta(old), false);
  assert.equal(
    "cache_write_input_tokens" in usageDelta(totals(load("0.135.0", "resume")), old),
    false,
  );
  const now = totals(load("0.169.0", "plain"));
  assert.equal(typeof now.cache_write_input_tokens, "number");
  assert.equal(usageDelta(now).cache_write_input_tokens, now.cache_write_input_tokens);
  const later = totals(load("0.169.0", "resume"));
  assert.equal(
    usageDelta(later, now).cache_write_input_tokens,
    later.cache_write_input_tokens - now.cache_write_input_tokens,
  );
});

Deno.test("0.135.0 sends item.started only for a command; 0.169.0 also item.completed", () => {
  const phases = (v: string) =>
    map(load(v, "command"), true).out.filter((e) => e.type === "activity").map((e) =>
      e.type === "activity" && e.phase
    );
  assert.deepEqual(phases("0.135.0"), ["started"]);
  assert.deepEqual(phases("0.169.0"), ["started", "completed"]);
});

Deno.test("usageDelta never goes negative (totals reset by a new thread)", () => {
  const u = usageDelta({ input_tokens: 5, output_tokens: 1 }, {
    input_tokens: 9,
    output_tokens: 0,
  });
  assert.deepEqual(u, {
    input_tokens: 0,
    cached_input_tokens: 0,
    output_tokens: 1,
    reasoning_tokens: 0,
  });
});

Deno.test("long command output in an activity is cut to its last 4096 characters", () => {
  const item =
    load("0.169.0", "command").find((e) =>
      e.type === "item.completed" && e.item.type === "command_execution"
    )!.item;
  const output = "a".repeat(5000) + "b".repeat(4096);
  const m = new TurnMapper({ emitActivity: true });
  const [ev] = m.push({ type: "item.completed", item: { ...item, aggregated_output: output } });
  assert.equal(ev.type, "activity");
  const sent = (ev as { item: Record<string, unknown> }).item;
  assert.equal(sent.aggregated_output, "b".repeat(4096));
  assert.equal(sent.output_truncated, true);
  assert.equal(sent.command, item.command);
});

Deno.test("turn.failed without a message falls back to the last error event", () => {
  const m = new TurnMapper({ emitActivity: false });
  m.push({ type: "error", message: "stream broke" });
  m.push({ type: "turn.failed" });
  assert.equal(m.failure, "stream broke");
  const n = new TurnMapper({ emitActivity: false });
  n.push({ type: "turn.failed" });
  assert.equal(n.failure, "turn failed");
});

Deno.test("unknown events and malformed items are noted, never sent", () => {
  const notes: string[] = [];
  const m = new TurnMapper({ emitActivity: true, onNote: (msg) => notes.push(msg) });
  const out = [
    m.push({ type: "some.future.event" } as unknown as CodexEvent),
    m.push({ type: "item.completed" } as unknown as CodexEvent),
    m.push({ type: "item.completed", item: { id: "x", type: "agent_message", text: "" } }),
  ].flat();
  assert.deepEqual(out, []);
  assert.ok(notes.includes("codex event"));
});
