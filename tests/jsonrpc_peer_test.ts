/**
 * The generic JSON-RPC peer (lib/jsonrpc/peer.ts) and its line transport,
 * over in-memory pipes: the test plays the other side line by line. Time
 * comes from a FakeClock, so timeouts are tested without waiting.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../dev/fake_clock.ts";
import {
  ErrorResponse,
  Peer,
  PeerClosed,
  type PeerOptions,
  RequestTimedOut,
} from "../lib/jsonrpc/peer.ts";
import { LineTransport } from "../lib/jsonrpc/transport.ts";

type Json = Record<string, unknown>;

/** A peer wired to a scripted other side: `say` writes it a line, `heard` reads what it sent. */
function wire(o: PeerOptions = {}) {
  const toPeer = new TransformStream<Uint8Array, Uint8Array>();
  const fromPeer = new TransformStream<Uint8Array, Uint8Array>();
  const peer = new Peer(
    new LineTransport({ readable: toPeer.readable, writable: fromPeer.writable }),
    o,
  );
  const w = toPeer.writable.getWriter();
  const enc = new TextEncoder();
  const reader = fromPeer.readable.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return {
    peer,
    say: (m: Json | string) =>
      w.write(enc.encode((typeof m === "string" ? m : JSON.stringify(m)) + "\n")),
    end: () => w.close(),
    async heard(): Promise<Json | undefined> {
      while (!buf.includes("\n")) {
        const r = await reader.read();
        if (r.done) return undefined; // the peer ended its output
        buf += r.value;
      }
      const nl = buf.indexOf("\n");
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      return JSON.parse(line);
    },
    async dispose() {
      peer.close();
      await w.close().catch(() => {});
      await peer.closed;
      await reader.cancel().catch(() => {});
    },
  };
}

Deno.test("peer: a request gets its own answer by id; jsonrpc is added unless the wire has none", async () => {
  for (const jsonrpc of [true, false]) {
    const t = wire({ jsonrpc });
    try {
      const a = t.peer.request("a", { n: 1 });
      const b = t.peer.request("b", {});
      const [ra, rb] = [await t.heard(), await t.heard()];
      assert.equal(ra!.jsonrpc, jsonrpc ? "2.0" : undefined);
      assert.deepEqual({ ...ra, jsonrpc: undefined }, {
        jsonrpc: undefined,
        id: ra!.id,
        method: "a",
        params: { n: 1 },
      });
      await t.say({ id: rb!.id, result: { who: "b" } });
      await t.say({ id: ra!.id, error: { code: -32600, message: "no", data: { why: 1 } } });
      assert.deepEqual(await b, { who: "b" });
      const e = await a.catch((e) => e);
      assert.ok(e instanceof ErrorResponse);
      assert.deepEqual([e.code, e.message, e.data], [-32600, "no", { why: 1 }]);
      assert.equal(t.peer.pending, 0);
    } finally {
      await t.dispose();
    }
  }
});

Deno.test("peer: a request times out on the clock; its late answer goes to onStrayResponse", async () => {
  const clock = new FakeClock();
  const strays: Json[] = [];
  const t = wire({ clock, timeoutMs: 5_000, onStrayResponse: (m) => strays.push(m) });
  try {
    const p = t.peer.request("slow", {}).catch((e) => e);
    const sent = await t.heard();
    const own = t.peer.request("own", {}, { timeout: 60_000 }).catch((e) => e);
    await t.heard();
    await clock.tick(5_000);
    const e = await p;
    assert.ok(e instanceof RequestTimedOut, String(e));
    assert.deepEqual([e.method, e.timeoutMs], ["slow", 5_000]);
    assert.equal(t.peer.pending, 1, "the request with its own, longer timeout still waits");
    await t.say({ id: sent!.id, result: {} });
    await t.say({ id: 2, result: { late: false } });
    assert.deepEqual(await own, { late: false });
    assert.deepEqual(strays, [{ id: sent!.id, result: {} }]);
  } finally {
    await t.dispose();
  }
});

Deno.test("peer: an aborted signal ends the wait with its reason, before or after sending", async () => {
  const t = wire();
  try {
    const c = new AbortController();
    const p = t.peer.request("x", {}, { signal: c.signal }).catch((e: Error) => e);
    await t.heard();
    c.abort(new Error("cancelled by the user"));
    assert.equal(((await p) as Error).message, "cancelled by the user");
    assert.equal(t.peer.pending, 0);
    const before = await t.peer.request("y", {}, { signal: c.signal }).catch((e: Error) => e);
    assert.equal((before as Error).message, "cancelled by the user");
    const late = new AbortController();
    const z = t.peer.request("z", {}, { signal: late.signal, timeout: 60_000 }).catch((e) => e);
    await t.heard();
    late.abort(new DOMException("the caller's own deadline", "TimeoutError"));
    const r = await z;
    assert.ok(!(r instanceof RequestTimedOut), "a signal's reason is not the peer's timeout");
  } finally {
    await t.dispose();
  }
});

Deno.test("peer: the other side's requests are answered by the handler: result, error, unknown method", async () => {
  const notes: string[] = [];
  const t = wire({
    jsonrpc: false,
    onRequest: (method, params) => {
      if (method === "add") return (params.a as number) + (params.b as number);
      if (method === "later") return Promise.resolve("done");
      throw new ErrorResponse(-32000, `refused ${method}`);
    },
    onNotification: (m, p) => notes.push(`${m}:${JSON.stringify(p)}`),
  });
  try {
    await t.say({ id: 7, method: "add", params: { a: 1, b: 2 } });
    assert.deepEqual(await t.heard(), { id: 7, result: 3 });
    await t.say({ id: "s", method: "later" });
    assert.deepEqual(await t.heard(), { id: "s", result: "done" });
    await t.say({ id: 8, method: "approve", params: {} });
    assert.deepEqual(await t.heard(), {
      id: 8,
      error: { code: -32000, message: "refused approve" },
    });
    await t.say({ method: "hello", params: { x: 1 } });
    await t.say({ id: 9, method: "add", params: { a: 2, b: 2 } }); // a round trip: "hello" was handled
    assert.deepEqual(await t.heard(), { id: 9, result: 4 });
    assert.deepEqual(notes, ['hello:{"x":1}']);
  } finally {
    await t.dispose();
  }
  const bare = wire();
  try {
    await bare.say({ jsonrpc: "2.0", id: 1, method: "anything" });
    assert.deepEqual(await bare.heard(), {
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32601, message: "unknown method: anything" },
    });
  } finally {
    await bare.dispose();
  }
});

Deno.test("peer: lines that are no message go to onInvalid and reading goes on", async () => {
  const invalid: (string | undefined)[] = [];
  const t = wire({ onInvalid: (l) => invalid.push(l) });
  try {
    const p = t.peer.request("x", {});
    const r = await t.heard();
    await t.say("not json");
    await t.say("[1,2]");
    await t.say("");
    await t.say({ id: r!.id, result: "ok" });
    assert.equal(await p, "ok");
    assert.deepEqual(invalid, ["not json", "[1,2]"]);
  } finally {
    await t.dispose();
  }
});

Deno.test("peer: the end of the input fails every pending request once, ends our output, and calls onClose once", async () => {
  let closes = 0;
  const t = wire({ onClose: () => closes++ });
  const a = t.peer.request("a", {}).catch((e) => e);
  const b = t.peer.request("b", {}).catch((e) => e);
  await t.heard();
  await t.heard();
  await t.end();
  await t.peer.closed;
  for (const [p, m] of [[a, "a"], [b, "b"]] as const) {
    const e = await p;
    assert.ok(e instanceof PeerClosed);
    assert.equal(e.method, m);
  }
  assert.equal(await t.heard(), undefined, "our output ended too");
  assert.ok(t.peer.isClosed);
  assert.ok((await t.peer.request("c", {}).catch((e) => e)) instanceof PeerClosed);
  t.peer.close();
  assert.equal(closes, 1);
  await t.dispose();
});

Deno.test("LineTransport: endOutput() writes what was queued first, then closes; later sends are dropped", async () => {
  const got: string[] = [];
  let closed = 0;
  const w = new LineTransport({
    readable: new ReadableStream(),
    writable: {
      write: (p) => (got.push(new TextDecoder().decode(p)), Promise.resolve(p.length)),
      close: () => void closed++,
    },
  });
  w.send({ a: 1 });
  await w.endOutput();
  await w.send({ b: 2 });
  assert.deepEqual(got, ['{"a":1}\n']);
  assert.equal(closed, 1);
  assert.equal(await w.outputClosed, "closed");
});

Deno.test("LineTransport: a write blocked for stallMs on the clock closes it as stalled", async () => {
  const clock = new FakeClock();
  const w = new LineTransport({
    readable: new ReadableStream(),
    writable: { write: () => new Promise<number>(() => {}) },
    stallMs: 60_000,
    clock,
  });
  w.send({ a: 1 });
  await clock.tick(59_999);
  const early = await Promise.race([w.outputClosed, Promise.resolve("open")]);
  assert.equal(early, "open");
  await clock.tick(1);
  assert.equal(await w.outputClosed, "stalled");
  await w.flush(); // does not wait for the stuck write
});
