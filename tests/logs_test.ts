/**
 * The tests' log waits (tests/support/logs.ts): a line that arrives after the
 * response is waited for, never missed; a turn's log ends at its own `turn`
 * record; a wait is bounded and says what it waited for.
 */
import assert from "node:assert/strict";
import type { Plugin } from "../dev/plugin.ts";
import { isTurnRecord, turnLog, turnRecord, waitForLog, waitForLogs } from "./support/logs.ts";

/** A plugin whose stderr is `text` (only `stderr()` is used by the waits). */
function fakePlugin(): { p: Plugin; write(s: string): void } {
  let text = "";
  return { p: { stderr: () => text } as Plugin, write: (s) => (text += s) };
}

const TEXT_TURN = (id: string) =>
  `2026-01-01T00:00:00.000Z INFO turn turn_id=${id} outcome=end_turn\n`;

Deno.test("waitForLog: a line written after the wait began is found; a half-written one is not", async () => {
  const { p, write } = fakePlugin();
  const found = waitForLog(p, /WARN la/);
  write("2026 WARN la"); // not a whole line yet
  await new Promise((r) => setTimeout(r, 30));
  write("te one\n");
  assert.equal(await found, "2026 WARN late one");
});

Deno.test("waitForLogs: waits for the count; a timeout names the pattern and shows stderr", async () => {
  const { p, write } = fakePlugin();
  write("a WARN x\n");
  const two = waitForLogs(p, / WARN /, 2);
  setTimeout(() => write("b WARN y\n"), 20);
  assert.deepEqual(await two, ["a WARN x", "b WARN y"]);
  await assert.rejects(waitForLog(p, /never/, { timeoutMs: 50 }), /\/never\/.*b WARN y/s);
});

Deno.test("turnLog: everything up to the turn's own record, and after an earlier turn's with `after`", async () => {
  const { p, write } = fakePlugin();
  write("one\n" + TEXT_TURN("t1") + "two\n");
  const log = turnLog(p, "t2");
  setTimeout(() => write(TEXT_TURN("t2") + "three\n"), 20);
  assert.equal(await log, "one\n" + TEXT_TURN("t1") + "two\n" + TEXT_TURN("t2"));
  assert.equal(await turnLog(p, "t2", { after: "t1" }), "two\n" + TEXT_TURN("t2"));
});

Deno.test("turn records: text and json formats, never another turn whose id starts the same", async () => {
  const json = JSON.stringify({ msg: "turn", turn_id: "t1", replayed_messages: 3 });
  assert.ok(isTurnRecord(json, "t1"));
  assert.ok(isTurnRecord(TEXT_TURN("t1").trim(), "t1"));
  assert.ok(!isTurnRecord(TEXT_TURN("t10").trim(), "t1"));
  assert.ok(!isTurnRecord(JSON.stringify({ msg: "turn", turn_id: "t10" }), "t1"));
  const { p, write } = fakePlugin();
  setTimeout(() => write(json + "\n"), 10);
  assert.equal((await turnRecord(p, "t1")).replayed_messages, 3);
});
