/**
 * Steering a running turn (issue 18 part 1), in process: the scheduler lets a
 * `steer` turn past its workspace's queue into the running turn and answers it
 * `steered`, else queues it with the reason; the app-server mapper retracts a
 * message Codex abandoned; the outbound masking retracts exactly what the host
 * got. The real Codex: steer_e2e_test.ts.
 */
import assert from "node:assert/strict";
import { Scheduler } from "../lib/turns/scheduler.ts";
import { createLogger } from "../lib/log.ts";
import type { Backend, PlexumEvent, Steer, TurnRequest, TurnResult } from "../lib/turns/backend.ts";
import { AppServerTurnMapper } from "../lib/codex/app_server/notifications.ts";
import { OutboundTurns } from "../lib/protocol/outbound.ts";
import { AppServerBackend } from "../lib/codex/app_server/backend.ts";
import { DEFAULTS } from "../lib/config.ts";
import { installFakeAppServer } from "./support/fake_app_server.ts";

/** A backend whose turns run until released, steerable with `accept`'s answer. */
function heldBackend(accept: string | undefined) {
  const steered: string[] = [];
  const started: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let running!: () => void;
  const first = new Promise<void>((r) => (running = r));
  const backend: Backend = {
    async runTurn(req: TurnRequest): Promise<TurnResult> {
      started.push(req.prompt);
      const steer: Steer = (s) => {
        steered.push(s.prompt);
        return Promise.resolve(accept);
      };
      req.steerable?.(steer);
      running();
      if (started.length === 1) await released;
      req.steerable?.(undefined);
      return { stop_reason: "end_turn", thread_id: "th-1", usage: null };
    },
    close: () => Promise.resolve(),
  };
  return { backend, steered, started, release, first };
}

const spec = (id: string, workspace: string, prompt: string, steer?: boolean) => ({
  id,
  workspace,
  prompt,
  model: "codex",
  reset: false,
  ...(steer && { steer }),
});

Deno.test("a steer turn goes into the workspace's running turn and is answered steered", async () => {
  const ws = await Deno.makeTempDir();
  const b = heldBackend("th-1");
  const s = new Scheduler({
    backend: b.backend,
    log: createLogger(),
    emit: () => {},
    steers: true,
  });
  const a = s.submit(spec("a", ws, "first"));
  await b.first;
  const steered = await s.submit(spec("b", ws, "also this", true)); // while "a" still runs
  assert.deepEqual(steered, {
    stop_reason: "steered",
    steered_into: "a",
    thread_id: "th-1",
    usage: null,
  });
  assert.deepEqual(b.steered, ["also this"]);
  assert.deepEqual(b.started, ["first"], "the steer turn never ran on its own");
  b.release();
  assert.equal((await a).stop_reason, "end_turn");
  // No turn running now: an ordinary turn, saying so.
  const alone = await s.submit(spec("c", ws, "later", true));
  assert.deepEqual(alone, {
    stop_reason: "end_turn",
    thread_id: "th-1",
    usage: null,
    steer: "not_running",
  });
  assert.deepEqual(b.started, ["first", "later"]);
});

Deno.test("a steer the running turn refuses (it ended first) runs after it as an ordinary turn", async () => {
  const ws = await Deno.makeTempDir();
  const b = heldBackend(undefined);
  const s = new Scheduler({
    backend: b.backend,
    log: createLogger(),
    emit: () => {},
    steers: true,
  });
  const a = s.submit(spec("a", ws, "first"));
  await b.first;
  const late = s.submit(spec("b", ws, "also this", true));
  b.release();
  assert.equal((await a).stop_reason, "end_turn");
  assert.equal((await late).steer, "not_running");
  assert.deepEqual(b.steered, ["also this"]);
  assert.deepEqual(b.started, ["first", "also this"]);
});

Deno.test("on a backend that cannot steer a steer turn queues and says unsupported", async () => {
  const ws = await Deno.makeTempDir();
  const b = heldBackend("th-1");
  const s = new Scheduler({
    backend: b.backend,
    log: createLogger(),
    emit: () => {},
    steers: false,
  });
  const a = s.submit(spec("a", ws, "first"));
  await b.first;
  const other = s.submit(spec("b", ws, "also this", true));
  b.release();
  await a;
  assert.equal((await other).steer, "unsupported");
});

Deno.test("app-server: turn/steer names the running Codex turn; refused (it ended), the chat runs after it", async () => {
  await using fake = await installFakeAppServer({
    deltas: "abcdefghij".split(""),
    deltaDelayMs: 200,
  });
  const log = createLogger({ write: () => {} });
  const config = { ...DEFAULTS, binary: fake.binary, backend: "app-server" as const };
  const backend = new AppServerBackend({ config, log, clientVersion: "test" });
  const ws = await Deno.makeTempDir();
  let delta!: () => void;
  const streaming = new Promise<void>((r) => (delta = r));
  const emit = (id: string, ev: PlexumEvent) => id === "a" && ev.type === "text_delta" && delta();
  const s = new Scheduler({ backend, log, emit, steers: true });
  try {
    const a = s.submit(spec("a", ws, "first"));
    await streaming;
    const b = await s.submit(spec("b", ws, "also this", true)); // the fake knows no turn/steer
    assert.equal((await a).stop_reason, "end_turn");
    assert.equal(b.stop_reason, "end_turn");
    assert.equal(b.steer, "not_running");
    const got = await fake.received();
    const steer = got.find((r) => r.msg.method === "turn/steer");
    assert.ok(steer, "turn/steer was sent");
    const params = steer.msg.params as Record<string, unknown>;
    assert.deepEqual(params.input, [{ type: "text", text: "also this", text_elements: [] }]);
    // The fake's turn ids are turn-<pid>-<n>: the first turn of that process is the running one.
    assert.equal(params.expectedTurnId, `turn-${steer.pid}-1`);
  } finally {
    await backend.close();
  }
});

Deno.test("the mapper retracts a message abandoned for a new one, and at the end of a steered turn", () => {
  const m = new AppServerTurnMapper({ emitActivity: false });
  const evs: PlexumEvent[] = [];
  const push = (method: string, params: Record<string, unknown>) =>
    evs.push(...m.push(method, params));
  const msg = (id: string, text = "") => ({ item: { type: "agentMessage", id, text } });
  push("item/started", msg("m0"));
  push("item/agentMessage/delta", { itemId: "m0", delta: "Done." });
  push("item/completed", msg("m0", "Done."));
  push("item/started", msg("m1"));
  push("item/agentMessage/delta", { itemId: "m1", delta: "Half an ans" });
  m.steered = true;
  push("item/started", msg("m2")); // Codex samples again with both messages
  push("item/agentMessage/delta", { itemId: "m2", delta: "Both" });
  push("item/completed", msg("m2", "Both answered"));
  push("item/started", msg("m3"));
  push("item/agentMessage/delta", { itemId: "m3", delta: "Lost" });
  // The final message only in turn/completed; m3 never completed: retracted before it.
  push("turn/completed", {
    turn: { id: "t", status: "completed", error: null, items: [msg("m4", "Last").item] },
  });
  assert.deepEqual(evs, [
    { type: "text_delta", text: "Done." },
    { type: "text_delta", text: "\n\nHalf an ans" },
    { type: "text_retracted", text: "\n\nHalf an ans" },
    { type: "text_delta", text: "\n\nBoth" },
    { type: "text_delta", text: " answered" },
    { type: "text_delta", text: "\n\nLost" },
    { type: "text_retracted", text: "\n\nLost" },
    { type: "text_delta", text: "\n\nLast" },
  ]);
  assert.equal(assemble(evs), "Done.\n\nBoth answered\n\nLast");
});

Deno.test("a retraction is masked as the host got the text, held-back tail included", () => {
  const got: PlexumEvent[] = [];
  const out = new OutboundTurns((_t, ev) => got.push(ev));
  const key = "sk-proj-" + "a".repeat(40);
  out.send("t", { type: "text_delta", text: `key ${key}` });
  out.send("t", { type: "text_delta", text: "\n\nthe key is sk-" }); // partly held back
  out.send("t", { type: "text_retracted", text: "\n\nthe key is sk-" });
  out.send("t", { type: "text_delta", text: "\n\nfine" });
  out.end("t");
  const text = assemble(got);
  assert.ok(!text.includes(key) && !got.some((e) => "text" in e && e.text.includes(key)));
  assert.equal(text, assemble(mask({ type: "text_delta", text: `key ${key}\n\nfine` })));
  assert.ok(got.some((e) => e.type === "text_retracted"));
});

/** The text a host assembles: deltas concatenated, retracted suffixes dropped. */
function assemble(evs: PlexumEvent[]): string {
  let text = "";
  for (const ev of evs) {
    if (ev.type === "text_delta") text += ev.text;
    if (ev.type === "text_retracted") {
      assert.ok(text.endsWith(ev.text), `${JSON.stringify(ev.text)} ends ${JSON.stringify(text)}`);
      text = text.slice(0, -ev.text.length);
    }
  }
  return text;
}

function mask(ev: PlexumEvent): PlexumEvent[] {
  const got: PlexumEvent[] = [];
  const out = new OutboundTurns((_t, e) => got.push(e));
  out.send("x", ev);
  out.end("x");
  return got;
}
