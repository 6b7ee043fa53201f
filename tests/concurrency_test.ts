/**
 * Turns running side by side, end to end (main.ts, real Codex 0.169.0, mock
 * API): different workspaces overlap, one workspace runs its turns one at a
 * time in arrival order, a queued turn can be cancelled without ever running,
 * and the workspace lock file keeps two plugin processes apart.
 *
 * Timelines come from the mock (when each request arrived, when its stream
 * ended) and from the test (when each response arrived), all on this
 * process's `performance.now()`. The mock streams slowly (`delayMs` between
 * events), so each turn holds the API for seconds.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { type MockApi, mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";
import { type Msg, type Plugin, startPlugin } from "../dev/plugin.ts";

const CODEX = "0.169.0";
/** About eight SSE events 250 ms apart: a turn streams for ~2 s. */
const SLOW: MockReply = { text: "a slow reply", chunks: 4, delayMs: 250 };
/** ~4 s of streaming: room for the other turn's Codex to start even on a busy machine. */
const SLOWER: MockReply = { text: "a slower reply", chunks: 4, delayMs: 500 };

/** The mock's interval for the request whose prompt is `prompt`: arrival to end of stream. */
function span(api: MockApi, prompt: string): { start: number; end: number } {
  const i = api.requests.findIndex((r) => lastUser(r) === prompt);
  assert.ok(i >= 0, `the mock got a request for ${JSON.stringify(prompt)}`);
  const { start, end } = api.timings[i];
  assert.ok(end !== undefined, `the mock finished answering ${JSON.stringify(prompt)}`);
  return { start, end };
}

function lastUser(req: Record<string, unknown>): string {
  const input = req.input as { type?: string; role?: string; content?: { text?: string }[] }[];
  const users = input.filter((i) => i.type === "message" && i.role === "user");
  return users.at(-1)?.content?.at(-1)?.text ?? "";
}

interface Rig extends AsyncDisposable {
  api: MockApi;
  plugins: Plugin[];
  workspaces: string[];
}

/**
 * A mock API, `nWorkspaces` workspaces and `nPlugins` initialized plugins sharing one CODEX_HOME;
 * `config` is added to each plugin's.
 */
async function rig(
  script: MockReply[],
  nWorkspaces: number,
  nPlugins = 1,
  config: Record<string, unknown> = {},
): Promise<Rig> {
  const api = startMockApi(script);
  const home = await Deno.makeTempDir({ prefix: "plexum-codex-home-" });
  const workspaces: string[] = [];
  for (let i = 0; i < nWorkspaces; i++) {
    workspaces.push(await Deno.makeTempDir({ prefix: `plexum-ws${i}-` }));
  }
  const { args, env } = mockCodexSetup(api.baseUrl, home);
  const plugins: Plugin[] = [];
  const r: Rig = {
    api,
    plugins,
    workspaces,
    async [Symbol.asyncDispose]() {
      await Promise.all(plugins.map((p) => p.close()));
      await api.close();
      for (const d of [home, ...workspaces]) await Deno.remove(d, { recursive: true });
    },
  };
  try {
    for (let i = 0; i < nPlugins; i++) {
      const p = startPlugin({ env });
      plugins.push(p);
      const init = await p.request("initialize", {
        protocol_version: 1,
        config: { binary: await ensureCodex(CODEX), extra_args: args, ...config },
      });
      assert.ok(init.result, JSON.stringify(init));
    }
  } catch (e) {
    await r[Symbol.asyncDispose]();
    throw e;
  }
  return r;
}

/** Send one turn; resolves the response and the time it arrived. */
async function turn(
  p: Plugin,
  turnId: string,
  workspace: string,
  prompt: string,
): Promise<{ msg: Msg; at: number }> {
  const id = await p.send("chat", {
    turn_id: turnId,
    agent: { id: "agent", workspace },
    messages: [{ role: "user", content: prompt }],
  });
  const msg = await p.waitFor((m) => m.id === id && !("method" in m), 90_000);
  return { msg, at: performance.now() };
}

/** Poll until `cond()` holds or fail naming `what`. */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

const answered = (p: Plugin, turnId: string) =>
  p.messages.find((m) => !("method" in m) && m.result?.turn_id === turnId);

Deno.test("turns in two workspaces run at the same time", async () => {
  await using r = await rig([SLOWER], 2);
  const [p] = r.plugins;
  const [a, b] = await Promise.all([
    turn(p, "ta", r.workspaces[0], "prompt A"),
    turn(p, "tb", r.workspaces[1], "prompt B"),
  ]);
  assert.equal(a.msg.result.stop_reason, "end_turn");
  assert.equal(b.msg.result.stop_reason, "end_turn");
  assert.notEqual(a.msg.result.thread_id, b.msg.result.thread_id);
  // The mock streamed both answers at once: the two intervals overlap.
  const sa = span(r.api, "prompt A");
  const sb = span(r.api, "prompt B");
  assert.ok(
    sb.start < sa.end && sa.start < sb.end,
    `A ${JSON.stringify(sa)} B ${JSON.stringify(sb)}`,
  );
  assert.ok(sb.start < a.at && sa.start < b.at, "each began before the other was answered");
});

Deno.test("turns to one workspace run one at a time in arrival order", async () => {
  await using r = await rig([SLOW], 1);
  const [p] = r.plugins;
  const ws = r.workspaces[0];
  const done = await Promise.all(["1", "2", "3"].map((n) => turn(p, `t${n}`, ws, `prompt ${n}`)));
  for (const d of done) assert.equal(d.msg.result.stop_reason, "end_turn");
  assert.deepEqual(r.api.requests.map(lastUser), ["prompt 1", "prompt 2", "prompt 3"]);
  const order = p.messages.filter((m) => m.result?.turn_id).map((m) => m.result.turn_id);
  assert.deepEqual(order, ["t1", "t2", "t3"]);
  // Never overlapping: turn n+1 reaches Codex's API only after turn n was answered.
  const spans = ["prompt 1", "prompt 2", "prompt 3"].map((x) => span(r.api, x));
  for (const n of [1, 2]) {
    assert.ok(
      spans[n].start > spans[n - 1].end,
      `turn ${n + 1} reached the API after turn ${n}'s reply`,
    );
    assert.ok(
      spans[n].start > done[n - 1].at,
      `turn ${n + 1} started after turn ${n} was answered`,
    );
  }
  // They share the workspace's thread.
  assert.equal(new Set(done.map((d) => d.msg.result.thread_id)).size, 1);
});

Deno.test("cancel of a queued turn answers it at once and it never runs", async () => {
  await using r = await rig([{ hang: true }], 2);
  const [p] = r.plugins;
  const [ws, other] = r.workspaces;
  const running = turn(p, "running", ws, "prompt running");
  const queued = turn(p, "queued", ws, "prompt queued");
  await until(() => r.api.requests.length === 1, "the first turn reached the mock");
  assert.deepEqual((await p.request("cancel", { turn_id: "queued" })).result, { cancelled: true });
  const q = await queued;
  assert.deepEqual(q.msg.result, {
    turn_id: "queued",
    stop_reason: "cancelled",
    thread_id: null,
    usage: null,
  });
  assert.equal(answered(p, "running"), undefined, "the running turn goes on");
  assert.deepEqual(p.eventsOf("queued"), []);
  // Another workspace is not held up by the hanging one.
  r.api.setScript([{ text: "elsewhere" }]);
  const o = await turn(p, "other", other, "prompt other");
  assert.equal(o.msg.result.stop_reason, "end_turn");
  assert.equal(answered(p, "running"), undefined, "still running");
  assert.deepEqual((await p.request("cancel", { turn_id: "running" })).result, { cancelled: true });
  assert.equal((await running).msg.result.stop_reason, "cancelled");
  assert.deepEqual(r.api.requests.map(lastUser), ["prompt running", "prompt other"]);
});

Deno.test("two plugin processes never run codex in one workspace at once (lock file)", async () => {
  // Exec only: on the app-server, Codex >= 0.169 refuses a second writer while the first
  // plugin's app-server holds the thread (tests/app_server_e2e_process_test.ts pins that).
  await using r = await rig([SLOW], 1, 2, { backend: "exec" });
  const ws = r.workspaces[0];
  const [one, two] = await Promise.all([
    turn(r.plugins[0], "p1", ws, "from plugin 1"),
    turn(r.plugins[1], "p2", ws, "from plugin 2"),
  ]);
  assert.equal(one.msg.result.stop_reason, "end_turn");
  assert.equal(two.msg.result.stop_reason, "end_turn");
  const [first, second] = r.api.requests.map(lastUser);
  assert.deepEqual([first, second].sort(), ["from plugin 1", "from plugin 2"]);
  const firstDone = first === "from plugin 1" ? one : two;
  assert.ok(span(r.api, second).start > span(r.api, first).end, "the API calls never overlapped");
  assert.ok(
    span(r.api, second).start > firstDone.at,
    "the second process began after the first ended",
  );
  // The second turn found the first's thread in the session file and resumed it.
  assert.equal(one.msg.result.thread_id, two.msg.result.thread_id);
  assert.ok((await Deno.stat(`${ws}/.plexum-codex.lock`)).isFile);
});

Deno.test("a turn waiting for another process's workspace lock can be cancelled", async () => {
  await using r = await rig([{ hang: true }], 1, 2);
  const ws = r.workspaces[0];
  const [holder, waiter] = r.plugins;
  const held = turn(holder, "holder", ws, "holds the lock");
  await until(() => r.api.requests.length === 1, "the first process's codex reached the mock");
  const waiting = turn(waiter, "waiter", ws, "waits for the lock");
  await new Promise((res) => setTimeout(res, 500));
  assert.equal(
    answered(waiter, "waiter"),
    undefined,
    "it waits while the other process holds the lock",
  );
  const t0 = performance.now();
  assert.deepEqual((await waiter.request("cancel", { turn_id: "waiter" })).result, {
    cancelled: true,
  });
  const w = await waiting;
  assert.equal(w.msg.result.stop_reason, "cancelled");
  assert.ok(w.at - t0 < 10_000, `answered ${w.at - t0} ms after cancel`);
  assert.equal(r.api.requests.length, 1, "the waiting turn never ran codex");
  assert.equal(answered(holder, "holder"), undefined, "the holder runs on");
  await holder.request("cancel", { turn_id: "holder" });
  assert.equal((await held).msg.result.stop_reason, "cancelled");
});
