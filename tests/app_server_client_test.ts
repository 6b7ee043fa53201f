/**
 * The JSON-RPC client of lib/codex/app_server/client.ts over in-memory pipes:
 * the test plays the app-server line by line, so the order of everything is
 * exact. Answers matched by id whatever their order, notifications routed by
 * thread, requests that are never answered, the server's own requests
 * answered at once, and the end of the stream.
 */
import assert from "node:assert/strict";
import {
  answerServerRequest,
  AppServerClient,
  ConnectionClosed,
  RequestTimeout,
  RpcError,
} from "../lib/codex/app_server/client.ts";
import { createLogger } from "../lib/log.ts";
import { FakeClock } from "../dev/fake_clock.ts";

type Json = Record<string, unknown>;

/** A client wired to a scripted server: `say` writes a line to it, `heard` reads what it sent. */
function wire(requestTimeoutMs = 5000, clock?: FakeClock) {
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  const fromClient = new TransformStream<Uint8Array, Uint8Array>();
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const client = new AppServerClient({
    readable: toClient.readable,
    writable: fromClient.writable,
    log,
    requestTimeoutMs,
    clock,
  });
  const w = toClient.writable.getWriter();
  const enc = new TextEncoder();
  const reader = fromClient.readable.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  return {
    client,
    logs,
    say: (m: Json | string) =>
      w.write(enc.encode((typeof m === "string" ? m : JSON.stringify(m)) + "\n")),
    /** Write raw bytes (a line that is not valid UTF-8). */
    bytes: (b: Uint8Array) => w.write(b),
    end: () => w.close(),
    async heard(): Promise<Json> {
      while (!buf.includes("\n")) {
        const r = await reader.read();
        if (r.done) throw new Error("client closed its output");
        buf += r.value;
      }
      const nl = buf.indexOf("\n");
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      return JSON.parse(line);
    },
    async dispose() {
      client.close();
      await w.close().catch(() => {});
      await client.closed;
      await reader.cancel().catch(() => {});
    },
  };
}

Deno.test("client: answers are matched by id, whatever their order; no jsonrpc field is needed", async () => {
  const t = wire();
  try {
    const a = t.client.request("thread/start", { cwd: "/a" });
    const b = t.client.request("thread/start", { cwd: "/b" });
    const ra = await t.heard();
    const rb = await t.heard();
    assert.equal(ra.method, "thread/start");
    assert.deepEqual(ra.params, { cwd: "/a" });
    assert.notEqual(ra.id, rb.id);
    await t.say({ id: rb.id, result: { thread: { id: "B" } } });
    await t.say({
      id: ra.id,
      error: { code: -32600, message: "no rollout found for thread id X" },
    });
    assert.deepEqual(await b, { thread: { id: "B" } });
    await assert.rejects(
      a,
      (e) => e instanceof RpcError && e.code === -32600 && /no rollout/.test(e.message),
    );
    assert.equal(t.client.pending, 0);
  } finally {
    await t.dispose();
  }
});

Deno.test("client: a notification with invalid UTF-8 arrives with U+FFFD and a warning, never dropped", async () => {
  const t = wire();
  try {
    const got: string[] = [];
    t.client.subscribe("T", {
      onNotification: (_m, p) => got.push(p.delta as string),
      onClose() {},
    });
    const enc = new TextEncoder();
    const head = enc.encode(
      '{"method":"item/agentMessage/delta","params":{"threadId":"T","delta":"a',
    );
    await t.bytes(new Uint8Array([...head, 0xff, 0xfe, ...enc.encode('b"}}\n')]));
    // A request round trip proves the line before it was dispatched.
    const r = t.client.request("thread/loaded/list", {});
    const req = await t.heard();
    await t.say({ id: req.id, result: { data: [] } });
    await r;
    assert.deepEqual(got, ["a\uFFFD\uFFFDb"]);
    assert.equal(t.logs.filter((l) => /invalid UTF-8; passed on with U\+FFFD/.test(l)).length, 1);
  } finally {
    await t.dispose();
  }
});

Deno.test("client: notifications reach only their thread's subscribers (the account's limits all), in order", async () => {
  const t = wire();
  try {
    const got: Record<string, string[]> = { T1: [], T2: [] };
    const off1 = t.client.subscribe("T1", {
      onNotification: (m, p) => got.T1.push(`${m}:${p.delta ?? ""}`),
      onClose() {},
    });
    t.client.subscribe("T2", {
      onNotification: (m, p) => got.T2.push(`${m}:${p.delta ?? ""}`),
      onClose() {},
    });
    await t.say({
      method: "item/agentMessage/delta",
      params: { threadId: "T1", turnId: "a", delta: "1" },
    });
    await t.say({
      method: "item/agentMessage/delta",
      params: { threadId: "T2", turnId: "b", delta: "x" },
    });
    await t.say({ method: "account/rateLimits/updated", params: { rateLimits: {} } }); // the account's
    await t.say({ method: "configWarning", params: { summary: "`nonsense_key` is ignored" } });
    await t.say({ method: "thread/started", params: { thread: { id: "T2" } } }); // thread inside params.thread
    await t.say({
      method: "item/agentMessage/delta",
      params: { threadId: "T1", turnId: "a", delta: "2" },
    });
    off1();
    await t.say({
      method: "item/agentMessage/delta",
      params: { threadId: "T1", turnId: "a", delta: "3" },
    });
    // A request round trip proves every line before it was dispatched.
    const p = t.client.request("ping", {});
    const r = await t.heard();
    await t.say({ id: r.id, result: {} });
    await p;
    const limits = "account/rateLimits/updated:";
    assert.deepEqual(got.T1, ["item/agentMessage/delta:1", limits, "item/agentMessage/delta:2"]);
    assert.deepEqual(got.T2, ["item/agentMessage/delta:x", limits, "thread/started:"]);
    const warning = t.logs.find((l) => l.includes("config warning"));
    assert.match(
      warning ?? "",
      / INFO .*nonsense_key/,
      "Codex's config warnings are logged at info",
    );
  } finally {
    await t.dispose();
  }
});

Deno.test("client: a request the server never answers times out; a late answer is dropped", async () => {
  const clock = new FakeClock();
  const t = wire(30_000, clock);
  try {
    const p = t.client.request("turn/start", { threadId: "T" });
    const r = await t.heard();
    const timedOut = assert.rejects(
      p,
      (e) => e instanceof RequestTimeout && e.method === "turn/start",
    );
    await clock.tick(30_000);
    await timedOut;
    await t.say({ id: r.id, result: { turn: { id: "late" } } });
    const q = t.client.request("ping", {}, 5000);
    const r2 = await t.heard();
    await t.say({ id: r2.id, result: { ok: true } });
    assert.deepEqual(await q, { ok: true });
    assert.ok(t.logs.some((l) => l.includes("no longer pending")), t.logs.join(""));
  } finally {
    await t.dispose();
  }
});

Deno.test("client: a request takes {signal, timeout}: an abort ends the wait with its reason, the timeout is its own", async () => {
  const clock = new FakeClock();
  const t = wire(30_000, clock);
  try {
    const c = new AbortController();
    const p = t.client.request("turn/start", { threadId: "T" }, { signal: c.signal });
    await t.heard();
    c.abort(new Error("turn cancelled"));
    await assert.rejects(p, /turn cancelled/);
    assert.equal(t.client.pending, 0);
    const q = t.client.request("turn/interrupt", {}, { timeout: 2_000 });
    await t.heard();
    const timedOut = assert.rejects(
      q,
      (e) => e instanceof RequestTimeout && e.timeoutMs === 2_000,
    );
    await clock.tick(2_000);
    await timedOut;
  } finally {
    await t.dispose();
  }
});

Deno.test("client: every server request is answered at once, logged at warn, and shown to the thread", async () => {
  const t = wire();
  try {
    const seen: string[] = [];
    t.client.subscribe("T", {
      onNotification() {},
      onServerRequest: (m) => seen.push(m),
      onClose() {},
    });
    const cases: [string, (a: Json) => void][] = [
      [
        "item/commandExecution/requestApproval",
        (a) => assert.deepEqual(a.result, { decision: "decline" }),
      ],
      [
        "item/fileChange/requestApproval",
        (a) => assert.deepEqual(a.result, { decision: "decline" }),
      ],
      [
        "item/permissions/requestApproval",
        (a) => assert.deepEqual(a.result, { permissions: {}, scope: "turn" }),
      ],
      ["mcpServer/elicitation/request", (a) => assert.equal((a.result as Json).action, "cancel")],
      ["item/tool/requestUserInput", (a) => assert.deepEqual(a.result, { answers: {} })],
      ["item/tool/call", (a) => assert.equal((a.result as Json).success, false)],
      [
        "account/chatgptAuthTokens/refresh",
        (a) => assert.equal(typeof (a.error as Json).message, "string"),
      ],
      ["execCommandApproval", (a) => assert.ok(a.error)],
      ["something/new", (a) => assert.equal((a.error as Json).code, -32601)],
    ];
    let id = 0;
    for (const [method, check] of cases) {
      await t.say({ id, method, params: { threadId: "T", turnId: "u", command: "rm -rf /" } });
      const a = await t.heard();
      assert.equal(a.id, id, method);
      assert.ok(!("method" in a), method);
      check(a);
      id++;
    }
    assert.deepEqual(seen, cases.map(([m]) => m));
    const warns = t.logs.filter((l) => l.includes(" WARN ") && l.includes("without asking anyone"));
    assert.equal(warns.length, cases.length);
    assert.ok(!t.logs.some((l) => l.includes("rm -rf")), "the command text is not logged");
  } finally {
    await t.dispose();
  }
});

Deno.test("client: answers follow the shapes of codex's generated types", () => {
  // Values from `codex app-server generate-ts` of 0.135.0 and 0.169.0.
  const decision = answerServerRequest("item/fileChange/requestApproval");
  assert.ok(
    "result" in decision &&
      ["accept", "acceptForSession", "decline", "cancel"].includes(
        decision.result.decision as string,
      ),
  );
  const elicit = answerServerRequest("mcpServer/elicitation/request");
  assert.ok("result" in elicit);
  assert.deepEqual(Object.keys(elicit.result).sort(), ["_meta", "action", "content"]);
});

Deno.test("client: lines that are not JSON objects are skipped and reading goes on", async () => {
  const t = wire();
  try {
    const p = t.client.request("initialize", {});
    const r = await t.heard();
    await t.say("not json");
    await t.say("[1,2,3]");
    await t.say("");
    await t.say({ id: r.id, result: { userAgent: "x" } });
    assert.deepEqual(await p, { userAgent: "x" });
    assert.equal(t.logs.filter((l) => l.includes("not a JSON object")).length, 2);
  } finally {
    await t.dispose();
  }
});

Deno.test("client: the end of the stream fails what is pending and tells each subscriber once", async () => {
  const t = wire();
  let closes = 0;
  t.client.subscribe("T", { onNotification() {}, onClose: () => closes++ });
  const p = t.client.request("turn/start", {});
  await t.heard();
  await t.end();
  await assert.rejects(p, (e) => e instanceof ConnectionClosed && /turn\/start/.test(e.message));
  await t.client.closed;
  assert.equal(closes, 1);
  await assert.rejects(t.client.request("x", {}), ConnectionClosed);
  let late = 0;
  t.client.subscribe("U", { onNotification() {}, onClose: () => late++ });
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(late, 1, "a subscriber after the end is told at once");
  await t.dispose();
});
