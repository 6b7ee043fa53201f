import assert from "node:assert/strict";
import { deadline } from "../lib/async.ts";
import { lockWorkspace } from "../lib/turns/scheduler.ts";

Deno.test("lock: a wait abandoned at once or midway gives the lock back, so the next turn gets it", async () => {
  const ws = await Deno.makeTempDir();
  try {
    const gone = new AbortController();
    gone.abort(new Error("cancelled"));
    await assert.rejects(lockWorkspace(ws, gone.signal), { message: "cancelled" });
    const first = await deadline(lockWorkspace(ws), 5_000);
    const waiting = new AbortController();
    const second = lockWorkspace(ws, waiting.signal);
    waiting.abort(new Error("cancelled while waiting"));
    await assert.rejects(second, { message: "cancelled while waiting" });
    first?.release();
    const third = await deadline(lockWorkspace(ws), 5_000); // never held by an abandoned wait
    third?.release();
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});
