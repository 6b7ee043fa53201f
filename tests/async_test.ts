import assert from "node:assert/strict";
import { abortable, deadline, delay, IdleTimer, isTimeout, within } from "../lib/async.ts";
import { FakeClock } from "../dev/fake_clock.ts";

const never = new Promise<never>(() => {});

Deno.test("async: within gives the value when it comes first, the fallback when time is up", async () => {
  const clock = new FakeClock();
  assert.deepEqual(await within(Promise.resolve(1), 10, "late", { clock }), 1);
  const r = within(never, 5_000, "late", { clock });
  await clock.tick(4_999);
  let settled = false;
  r.then(() => (settled = true));
  await clock.tick(0);
  assert.deepEqual(settled, false);
  await clock.tick(1);
  assert.deepEqual(await r, "late");
  assert.deepEqual(clock.pending, 0);
});

Deno.test("async: within clears its timer once the promise settles", async () => {
  const clock = new FakeClock();
  await within(Promise.resolve(1), 10, "late", { clock });
  assert.deepEqual(clock.pending, 0);
});

Deno.test("async: deadline rejects with a TimeoutError, abort with the signal's reason", async () => {
  const clock = new FakeClock();
  const late = deadline(never, 100, { clock }).catch((e) => e);
  await clock.tick(100);
  const e = await late;
  assert.deepEqual(isTimeout(e), true);
  const c = new AbortController();
  const aborted = deadline(never, 100, { clock, signal: c.signal });
  aborted.catch(() => {});
  c.abort(new Error("cancelled by host"));
  await assert.rejects(aborted, { message: "cancelled by host" });
  assert.deepEqual(await deadline(Promise.resolve("v"), 100, { clock }), "v");
});

Deno.test("async: abortable passes the value through and rejects on abort", async () => {
  const c = new AbortController();
  assert.deepEqual(await abortable(Promise.resolve(2), c.signal), 2);
  const p = abortable(never, c.signal);
  p.catch(() => {});
  c.abort(new Error("stop"));
  await assert.rejects(p, { message: "stop" });
  await assert.rejects(abortable(Promise.resolve(3), c.signal), { message: "stop" });
});

Deno.test("async: delay waits on the clock and ends early on abort", async () => {
  const clock = new FakeClock();
  let done = false;
  const d = delay(1_000, { clock }).then(() => (done = true));
  await clock.tick(999);
  assert.deepEqual(done, false);
  await clock.tick(1);
  await d;
  assert.deepEqual(done, true);
  const c = new AbortController();
  const d2 = delay(1_000, { clock, signal: c.signal });
  d2.catch(() => {});
  c.abort(new Error("x"));
  await assert.rejects(d2, { message: "x" });
  assert.deepEqual(clock.pending, 0);
});

Deno.test("async: an idle timer fires only after a quiet period, each touch restarting it", async () => {
  const clock = new FakeClock();
  const t = new IdleTimer(1_000, clock);
  let fired = false;
  t.fired.then(() => (fired = true));
  await clock.tick(800);
  t.touch();
  await clock.tick(800);
  assert.deepEqual(fired, false);
  await clock.tick(200);
  assert.deepEqual(fired, true);
  const s = new IdleTimer(1_000, clock);
  s.stop();
  assert.deepEqual(clock.pending, 0);
});
