/** lib/codex/turn_runner.ts `Channel`: callbacks in, an async iterable out. */
import assert from "node:assert/strict";
import { Channel } from "../lib/codex/turn_runner.ts";

Deno.test("values come out in order, those queued before close included; later pushes are dropped", async () => {
  const ch = new Channel<number>();
  ch.push(1);
  ch.push(2);
  ch.close();
  ch.push(3);
  const got: number[] = [];
  for await (const n of ch) got.push(n);
  assert.deepEqual(got, [1, 2]);
});

Deno.test("a reader waiting on an empty channel wakes for each push and ends at close", async () => {
  const ch = new Channel<string>();
  const got: string[] = [];
  const reading = (async () => {
    for await (const s of ch) got.push(s);
  })();
  await Promise.resolve();
  ch.push("a");
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(got, ["a"]);
  ch.push("b");
  ch.close();
  await reading;
  assert.deepEqual(got, ["a", "b"]);
});
