/**
 * The protocol server (lib/protocol/server.ts) in process, with a scripted
 * {@linkcode Backend}: no subprocess, no Codex. The test decides when each
 * turn ends, so ordering, queueing, cancel and shutdown are pinned exactly;
 * the end-to-end tests (protocol_test.ts, lifecycle_test.ts) cover the same
 * behaviour through main.ts and the real Codex.
 *
 * Workspaces are real temp dirs: the scheduler takes a lock file in each.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { METHODS, Server } from "../lib/protocol/server.ts";
import { ErrorCodes } from "../lib/jsonrpc/message.ts";
import type { Backend, TurnRequest, TurnResult } from "../lib/turns/backend.ts";

/** A message the server sent (loosely typed: tests inspect any field). */
// deno-lint-ignore no-explicit-any
type Msg = Record<string, any>;

const CANCELLED: TurnResult = { stop_reason: "cancelled", thread_id: null, usage: null };

/** One `runTurn` call, held open until the test ends it. */
interface Call {
  req: TurnRequest;
  /** Resolve the turn (default: end_turn). */
  finish(r?: Partial<TurnResult>): void;
  /** Reject the turn, as a backend with a bug would. */
  fail(e: Error): void;
}

/**
 * A backend whose turns end when the test says (or at once, with `auto`). A
 * turn whose signal is aborted resolves `cancelled`, as the real ones do.
 * Records each call, the turns running per workspace, and `close` calls.
 */
class ScriptedBackend implements Backend {
  calls: Call[] = [];
  closes = 0;
  /** Messages the server had sent when `close` was called. */
  sentAtClose = -1;
  /** Most turns seen running at once in one workspace. */
  maxPerWorkspace = 0;
  #running = new Map<string, number>();

  constructor(
    private sent: Msg[],
    private onTurn: (call: Call) => void = () => {},
  ) {}

  runTurn(req: TurnRequest): Promise<TurnResult> {
    const n = (this.#running.get(req.workspace) ?? 0) + 1;
    this.#running.set(req.workspace, n);
    this.maxPerWorkspace = Math.max(this.maxPerWorkspace, n);
    return new Promise<TurnResult>((resolve, reject) => {
      const call: Call = {
        req,
        finish: (r = {}) =>
          resolve({ stop_reason: "end_turn", thread_id: null, usage: null, ...r }),
        fail: reject,
      };
      req.signal.addEventListener("abort", () => resolve(CANCELLED), { once: true });
      this.calls.push(call);
      this.onTurn(call);
    }).finally(() => this.#running.set(req.workspace, this.#running.get(req.workspace)! - 1));
  }

  close(): Promise<void> {
    this.closes++;
    this.sentAtClose = this.sent.length;
    return Promise.resolve();
  }

  /** Prompts of the turns that reached the backend, in call order. */
  get prompts(): string[] {
    return this.calls.map((c) => c.req.prompt);
  }

  /** The call whose prompt is `prompt`. */
  call(prompt: string): Call {
    const c = this.calls.find((c) => c.req.prompt === prompt);
    assert.ok(c, `turn ${prompt} reached the backend (calls: ${this.prompts})`);
    return c;
  }
}

interface Harness extends AsyncDisposable {
  server: Server;
  backend: ScriptedBackend;
  sent: Msg[];
  /** How many times the server asked for a backend. */
  backendsMade(): number;
  /** Send one request line. */
  request(id: string | number, method: string, params?: unknown): void;
  /** Send `initialize` and wait for its answer. */
  initialize(): Promise<Msg>;
  /** Send a chat turn whose prompt (and turn_id) is `turnId`; the request id is `turnId` too. */
  chat(turnId: string, workspace: string): void;
  /** The response to request `id` (waits for it). */
  response(id: string | number): Promise<Msg>;
  /** The event payloads of `turnId` so far. */
  events(turnId: string): Msg[];
  /** Index in `sent` of the response to `id` (-1 when none). */
  indexOfResponse(id: string | number): number;
  /** Wait until `pred` holds. */
  until(pred: () => boolean, what: string): Promise<void>;
  /** A new empty workspace (a temp dir, removed with the harness). */
  workspace(): Promise<string>;
}

function harness(onTurn?: (call: Call) => void): Harness {
  const sent: Msg[] = [];
  const backend = new ScriptedBackend(sent, onTurn);
  let made = 0;
  const dirs: string[] = [];
  const server = new Server({
    // A copy, as the wire would carry it: later changes to an object cannot leak in.
    send: (msg) => sent.push(JSON.parse(JSON.stringify(msg))),
    log: createLogger({ level: "error", write: () => {} }),
    baseConfig: { ...DEFAULTS },
    version: "0.0.0-test",
    backend: () => {
      made++;
      return backend;
    },
  });
  const isResponse = (m: Msg, id: unknown) => m.id === id && !("method" in m);
  const h: Harness = {
    server,
    backend,
    sent,
    backendsMade: () => made,
    request(id, method, params = {}) {
      server.handle(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    },
    async initialize() {
      h.request("init", "initialize", { protocol_version: 1 });
      const r = await h.response("init");
      assert.ok(r.result, JSON.stringify(r));
      return r;
    },
    chat(turnId, workspace) {
      h.request(turnId, "chat", {
        turn_id: turnId,
        agent: { id: "agent", workspace },
        messages: [{ role: "user", content: turnId }],
      });
    },
    async response(id) {
      await h.until(() => sent.some((m) => isResponse(m, id)), `the response to ${id}`);
      return sent.find((m) => isResponse(m, id))!;
    },
    events: (turnId) =>
      sent.filter((m) => m.method === "event" && m.params.turn_id === turnId).map((m) =>
        m.params.event
      ),
    indexOfResponse: (id) => sent.findIndex((m) => isResponse(m, id)),
    async until(pred, what) {
      const end = Date.now() + 5_000;
      while (!pred()) {
        if (Date.now() > end) {
          throw new Error(`timed out waiting for ${what}; sent: ${JSON.stringify(sent)}`);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    async workspace() {
      const d = await Deno.makeTempDir({ prefix: "plexum-server-test-" });
      dirs.push(d);
      return d;
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    },
  };
  return h;
}

Deno.test("a turn's events all come before its response, and none after it", async () => {
  let late: TurnRequest | undefined;
  await using h = harness((call) => {
    call.req.emit({ type: "text_delta", text: "one " });
    call.req.emit({ type: "text_delta", text: "two" });
    call.req.emit({
      type: "usage",
      input_tokens: 1,
      cached_input_tokens: 0,
      output_tokens: 2,
      reasoning_tokens: 0,
    });
    late = call.req;
    call.finish();
  });
  await h.initialize();
  h.chat("t1", await h.workspace());
  const r = await h.response("t1");
  assert.equal(r.result.stop_reason, "end_turn");
  assert.deepEqual(h.events("t1").map((e) => e.type), ["text_delta", "text_delta", "usage"]);
  const answered = h.indexOfResponse("t1");
  const eventAt = h.sent.flatMap((m, i) => m.params?.turn_id === "t1" ? [i] : []);
  assert.ok(eventAt.every((i) => i < answered), `events at ${eventAt}, response at ${answered}`);
  const before = h.sent.length;
  late!.emit({ type: "text_delta", text: "too late" });
  assert.equal(h.sent.length, before, "an event after the response is dropped");
});

Deno.test("turns of one workspace run one at a time in arrival order; other workspaces overlap", async () => {
  await using h = harness();
  await h.initialize();
  const [a, b] = [await h.workspace(), await h.workspace()];
  const queued = ["a1", "a2", "a3", "a4", "a5", "a6"];
  for (const t of queued) h.chat(t, a);
  h.chat("b1", b);
  await h.until(() => h.backend.calls.length === 2, "a1 and b1 to start");
  assert.deepEqual(h.backend.prompts.toSorted(), ["a1", "b1"], "b1 runs while a1 does");

  h.backend.call("b1").finish();
  await h.response("b1");
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(h.backend.prompts.toSorted(), ["a1", "b1"], "a2 still waits for a1");

  // End each turn of `a` once it runs: the next starts only then, and in arrival order.
  for (const [i, t] of queued.entries()) {
    await h.until(() => h.backend.calls.length === i + 2, `${t} to start`);
    assert.equal(h.backend.prompts.filter((p) => p !== "b1").at(-1), t);
    h.backend.call(t).finish();
    await h.response(t);
  }
  assert.deepEqual(h.backend.prompts.filter((p) => p !== "b1"), queued);
  assert.equal(h.backend.maxPerWorkspace, 1);
  const answered = queued.map((t) => h.indexOfResponse(t));
  assert.deepEqual(answered, answered.toSorted((x, y) => x - y), "answered in arrival order");
});

Deno.test("cancel of a queued turn answers cancelled at once and never calls the backend", async () => {
  await using h = harness();
  await h.initialize();
  const ws = await h.workspace();
  h.chat("first", ws);
  h.chat("queued", ws);
  await h.until(() => h.backend.calls.length === 1, "the first turn to start");
  h.request("c", "cancel", { turn_id: "queued" });
  assert.deepEqual((await h.response("c")).result, { cancelled: true });
  assert.deepEqual((await h.response("queued")).result, {
    turn_id: "queued",
    stop_reason: "cancelled",
    thread_id: null,
    usage: null,
  });
  assert.equal(h.indexOfResponse("first"), -1, "answered while the turn ahead still runs");
  h.backend.call("first").finish();
  await h.response("first");
  h.chat("after", ws); // the queue moves on past the cancelled turn
  await h.until(() => h.backend.calls.length === 2, "the next turn to start");
  h.backend.call("after").finish();
  await h.response("after");
  assert.deepEqual(h.backend.prompts, ["first", "after"], "the cancelled turn never ran");
  assert.deepEqual(h.events("queued"), []);
});

Deno.test("cancel of a running turn aborts its signal and answers cancelled", async () => {
  await using h = harness();
  await h.initialize();
  h.chat("t1", await h.workspace());
  await h.until(() => h.backend.calls.length === 1, "the turn to start");
  const { signal } = h.backend.call("t1").req;
  assert.equal(signal.aborted, false);
  h.request("c", "cancel", { turn_id: "t1" });
  assert.deepEqual((await h.response("c")).result, { cancelled: true });
  assert.equal(signal.aborted, true);
  assert.equal((await h.response("t1")).result.stop_reason, "cancelled");
  h.request("again", "cancel", { turn_id: "t1" });
  assert.deepEqual((await h.response("again")).result, { cancelled: false }, "no longer in flight");
});

Deno.test("shutdown cancels and drains every turn, answers each, then closes the backend once", async () => {
  await using h = harness();
  await h.initialize();
  const [a, b] = [await h.workspace(), await h.workspace()];
  h.chat("a1", a);
  h.chat("a2", a); // queued behind a1
  h.chat("b1", b);
  await h.until(() => h.backend.calls.length === 2, "a1 and b1 to start");
  const signals = h.backend.calls.map((c) => c.req.signal);
  h.request("bye", "shutdown");
  const bye = await h.response("bye");
  assert.deepEqual(bye.result, {});
  assert.ok(signals.every((s) => s.aborted), "every running turn's signal was aborted");
  const turns = ["a1", "a2", "b1"];
  for (const t of turns) {
    assert.equal((await h.response(t)).result.stop_reason, "cancelled", t);
    assert.ok(h.indexOfResponse(t) < h.indexOfResponse("bye"), `${t} answered before shutdown`);
  }
  assert.deepEqual(h.backend.prompts.toSorted(), ["a1", "b1"], "the queued turn never ran");
  assert.equal(h.backend.closes, 1);
  assert.ok(
    turns.every((t) => h.indexOfResponse(t) < h.backend.sentAtClose),
    "the backend was closed after every turn was answered",
  );
  h.chat("late", a);
  assert.equal((await h.response("late")).error?.code, ErrorCodes.INVALID_REQUEST);
  await h.server.shutdown(); // stdin EOF after the request: still one close
  assert.equal(h.backend.closes, 1);
});

Deno.test("a backend that rejects gives exactly one internal error event and stop_reason error", async () => {
  await using h = harness((call) => {
    if (call.req.prompt === "broken") call.fail(new Error("scripted bug"));
    else call.finish();
  });
  await h.initialize();
  const ws = await h.workspace();
  h.chat("broken", ws);
  const r = await h.response("broken");
  assert.equal(r.result.stop_reason, "error");
  const events = h.events("broken");
  assert.equal(events.length, 1, JSON.stringify(events));
  assert.equal(events[0].type, "error");
  assert.equal(events[0].code, "internal");
  assert.match(events[0].message, /scripted bug/);
  h.chat("next", ws); // the workspace is usable again (its lock was released)
  assert.equal((await h.response("next")).result.stop_reason, "end_turn");
});

Deno.test("an unknown method is -32601", async () => {
  await using h = harness();
  await h.initialize();
  h.request(7, "bogus");
  const r = await h.response(7);
  assert.equal(r.error.code, ErrorCodes.METHOD_NOT_FOUND);
  assert.match(r.error.message, /bogus/);
});

Deno.test("chat before initialize is -32002 and never makes a backend", async () => {
  await using h = harness();
  h.chat("early", await h.workspace());
  const r = await h.response("early");
  assert.equal(r.error.code, ErrorCodes.NOT_INITIALIZED);
  assert.equal(h.backendsMade(), 0);
  assert.deepEqual(h.events("early"), []);
});

Deno.test("every method in METHODS gets an answer, none of them -32601", async () => {
  await using h = harness((call) => call.finish());
  await h.initialize();
  const ws = await h.workspace();
  const params: Record<(typeof METHODS)[number], unknown> = {
    initialize: { protocol_version: 1 },
    models: {},
    chat: {
      turn_id: "m",
      agent: { id: "a", workspace: ws },
      messages: [{ role: "user", content: "hi" }],
    },
    cancel: { turn_id: "nothing" },
    shutdown: {},
  };
  // shutdown last: after it, chat is refused.
  const order = [...METHODS].sort((x, y) => Number(x === "shutdown") - Number(y === "shutdown"));
  for (const m of order) {
    h.request(`req-${m}`, m, params[m]);
    const r = await h.response(`req-${m}`);
    assert.notEqual(r.error?.code, ErrorCodes.METHOD_NOT_FOUND, `${m}: ${JSON.stringify(r)}`);
  }
});
