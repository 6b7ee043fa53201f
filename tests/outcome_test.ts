import assert from "node:assert/strict";
import { cancelledTurn, failTurn, TurnFailure } from "../lib/turns/outcome.ts";
import type { PlexumEvent } from "../lib/turns/backend.ts";

Deno.test("outcome: a failed turn emits exactly one error event, with retry_after_s only when known", () => {
  const got: PlexumEvent[] = [];
  const r = failTurn({ emit: (ev) => got.push(ev) }, new TurnFailure("rate_limited", "limit", 30), {
    thread_id: "t1",
    replayed_messages: 2,
  });
  assert.deepEqual(got, [{
    type: "error",
    code: "rate_limited",
    message: "limit",
    retry_after_s: 30,
  }]);
  assert.deepEqual(r, { stop_reason: "error", usage: null, thread_id: "t1", replayed_messages: 2 });
  got.length = 0;
  failTurn({ emit: (ev) => got.push(ev) }, new TurnFailure("timeout", "quiet"));
  assert.deepEqual(got, [{ type: "error", code: "timeout", message: "quiet" }]);
});

Deno.test("outcome: a cancelled turn emits nothing and leaves out replayed_messages of 0", () => {
  assert.deepEqual(cancelledTurn(), { stop_reason: "cancelled", usage: null, thread_id: null });
  assert.deepEqual(cancelledTurn({ thread_id: "t", replayed_messages: 0 }), {
    stop_reason: "cancelled",
    usage: null,
    thread_id: "t",
  });
});
