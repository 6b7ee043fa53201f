/**
 * The app-server turn driver (lib/codex/app_server/backend.ts) on an in-memory
 * connection whose server is scripted here, with time from a FakeClock: the
 * idle timeout fires on the clock Codex's silence is measured with, so the
 * test takes no wall-clock time for it.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { deadline } from "../lib/async.ts";
import { LineStream } from "../lib/lines.ts";
import { AppServerClient } from "../lib/codex/app_server/client.ts";
import type { AppServerProcess } from "../lib/codex/app_server/process.ts";
import { runAppServerTurn } from "../lib/codex/app_server/driver.ts";
import type { TurnContext } from "../lib/codex/app_server/calls.ts";
import type { PlexumEvent } from "../lib/turns/backend.ts";
import { FakeClock } from "../dev/fake_clock.ts";

const THREAD = "0199a0b1-0000-7000-8000-00000000000c";
type Msg = { id?: number; method?: string; params?: Record<string, unknown> };

/**
 * A connection to a scripted app-server: a thread (with rollout file `path`),
 * a turn that streams one delta, then silence, or with `complete` its end.
 */
function scriptedConnection(o: { path?: string; complete?: boolean } = {}) {
  const toServer = new TransformStream<Uint8Array, Uint8Array>();
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  const log = createLogger({ write: () => {} });
  const client = new AppServerClient({
    readable: toClient.readable,
    writable: toServer.writable,
    log,
  });
  const out = toClient.writable.getWriter();
  const send = (m: unknown) => out.write(new TextEncoder().encode(JSON.stringify(m) + "\n"));
  const received: string[] = [];
  const served = (async () => {
    for await (const line of toServer.readable.pipeThrough(new LineStream())) {
      if (!line) continue;
      const m = JSON.parse(line) as Msg;
      received.push(m.method ?? "");
      if (m.method === "thread/start") {
        await send({ id: m.id, result: { thread: { id: THREAD, path: o.path ?? null } } });
      } else if (m.method === "turn/start") {
        const turn = { id: "turn_1", items: [], status: "inProgress", error: null };
        await send({ id: m.id, result: { turn } });
        await send({
          method: "item/agentMessage/delta",
          params: { threadId: THREAD, turnId: "turn_1", itemId: "msg_1", delta: "Hel" },
        });
        if (o.complete) {
          await send({
            method: "turn/completed",
            params: { threadId: THREAD, turn: { ...turn, status: "completed" } },
          });
        }
      } else if (m.method === "turn/interrupt") {
        await send({ id: m.id, result: {} });
        await send({
          method: "turn/completed",
          params: {
            threadId: THREAD,
            turn: { id: "turn_1", items: [], status: "interrupted", error: null },
          },
        });
      }
    }
  })();
  const proc = {
    client,
    pid: 0,
    version: "0.169.0",
    exit: new Promise(() => {}),
    exited: false,
    stderrSummary: () => "",
  } as unknown as AppServerProcess;
  return {
    conn: { proc, loaded: new Map() },
    received,
    async [Symbol.asyncDispose]() {
      client.close();
      await out.close().catch(() => {});
      await served.catch(() => {});
    },
  };
}

/** Resolves once `cond()` holds; fails the test after `ms` of real time. */
async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("app-server turn: Codex silent for idle_timeout_s on the injected clock → interrupt, one timeout error", async () => {
  await using s = scriptedConnection();
  const ws = await Deno.makeTempDir({ prefix: "app-server-turn-" });
  try {
    const clock = new FakeClock();
    const wedged: string[] = [];
    const ctx: TurnContext = {
      conn: s.conn,
      config: { ...DEFAULTS, idle_timeout_s: 600 },
      log: createLogger({ write: () => {} }),
      graceMs: 1500,
      requestTimeoutMs: 5000,
      wedged: (why) => wedged.push(why),
      clock,
    };
    const events: PlexumEvent[] = [];
    const result = runAppServerTurn(ctx, {
      workspace: ws,
      prompt: "hi",
      model: "codex",
      reset: true,
      signal: new AbortController().signal,
      emit: (ev) => events.push(ev),
    });
    await until(() => events.length > 0);
    await clock.tick(599_000);
    assert.ok(!s.received.includes("turn/interrupt"), "not before idle_timeout_s");
    await clock.tick(1_000);
    const r = await deadline(result, 10_000); // real time: a clock not used fails here, not hangs
    assert.deepEqual(events, [
      { type: "text_delta", text: "Hel" },
      { type: "error", code: "timeout", message: "codex sent nothing for 600s; turn ended" },
    ]);
    assert.equal(r.stop_reason, "error");
    assert.equal(r.thread_id, THREAD);
    assert.ok(s.received.includes("turn/interrupt"));
    assert.deepEqual(wedged, [], "the interrupt was confirmed");
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("app-server turn: the answer does not wait for the end-of-turn stat of the rollout file", async () => {
  const ws = await Deno.makeTempDir({ prefix: "app-server-turn-" });
  const rollout = `${ws}/rollout.jsonl`;
  await using s = scriptedConnection({ path: rollout, complete: true });
  const { stat } = Deno;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  try {
    await Deno.writeTextFile(rollout, "{}\n");
    // The rollout file's stat waits at the gate.
    Object.assign(Deno, {
      stat: (p: string | URL) => String(p) === rollout ? gate.then(() => stat(p)) : stat(p),
    });
    const ctx: TurnContext = {
      conn: s.conn,
      config: { ...DEFAULTS },
      log: createLogger({ write: () => {} }),
      graceMs: 1500,
      requestTimeoutMs: 5000,
      wedged: () => {},
    };
    const events: PlexumEvent[] = [];
    const r = await deadline(
      runAppServerTurn(ctx, {
        workspace: ws,
        prompt: "hi",
        model: "codex",
        reset: true,
        signal: new AbortController().signal,
        emit: (ev) => events.push(ev),
      }),
      10_000,
    );
    assert.equal(r.stop_reason, "end_turn");
    assert.deepEqual(events, [{ type: "text_delta", text: "Hel" }]);
    const mark = s.conn.loaded.get(THREAD)?.mark;
    release();
    assert.equal((await mark)?.size, 3, "the mark the next turn compares with");
  } finally {
    Object.assign(Deno, { stat });
    release();
    await Deno.remove(ws, { recursive: true });
  }
});
