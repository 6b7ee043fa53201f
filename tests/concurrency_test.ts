/**
 * Turns running side by side, end to end (main.ts, real Codex 0.169.0, mock
 * API): different workspaces overlap, one workspace runs its turns one at a
 * time in arrival order, a queued turn can be cancelled without ever running,
 * and the workspace lock file keeps two plugin processes apart.
 *
 * Timelines come from the test's clock: when each request reached the mock
 * (polled every few ms) and when each response reached the test. The mock
 * streams slowly (`delayMs` between events), so a turn lasts seconds and the
 * orderings asserted here are far apart compared with the polling.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "./support/codex.ts";
import { type MockApi, mockCodexSetup, type MockReply, startMockApi } from "./support/mock_api.ts";
import { type Msg, type Plugin, startPlugin } from "./support/plugin.ts";

const CODEX = "0.169.0";
/** About eight SSE events 250 ms apart: a turn streams for ~2 s. */
const SLOW: MockReply = { text: "a slow reply", chunks: 4, delayMs: 250 };

/** When each mock request arrived, keyed by its prompt (the last user message). */
class RequestClock implements Disposable {
  arrivals: { prompt: string; at: number }[] = [];
  #timer: ReturnType<typeof setInterval>;
  constructor(api: MockApi) {
    this.#timer = setInterval(() => {
      while (this.arrivals.length < api.requests.length) {
        const req = api.requests[this.arrivals.length];
        this.arrivals.push({ prompt: lastUser(req), at: performance.now() });
      }
    }, 5);
  }
  at(prompt: string): number {
    const a = this.arrivals.find((x) => x.prompt === prompt);
    assert.ok(a, `the mock got a request for ${JSON.stringify(prompt)}`);
    return a.at;
  }
  [Symbol.dispose]() {
    clearInterval(this.#timer);
  }
}

function lastUser(req: Record<string, unknown>): string {
  const input = req.input as { type?: string; role?: string; content?: { text?: string }[] }[];
  const users = input.filter((i) => i.type === "message" && i.role === "user");
  return users.at(-1)?.content?.at(-1)?.text ?? "";
}

interface Rig extends AsyncDisposable {
  api: MockApi;
  clock: RequestClock;
  plugins: Plugin[];
  workspaces: string[];
}

/** A mock API, `nWorkspaces` workspaces and `nPlugins` initialized plugins sharing one CODEX_HOME. */
async function rig(script: MockReply[], nWorkspaces: number, nPlugins = 1): Promise<Rig> {
  const api = startMockApi(script);
  const home = await Deno.makeTempDir({ prefix: "plexum-codex-home-" });
  const workspaces: string[] = [];
  for (let i = 0; i < nWorkspaces; i++) {
    workspaces.push(await Deno.makeTempDir({ prefix: `plexum-ws${i}-` }));
  }
  const { args, env } = mockCodexSetup(api.baseUrl, home);
  const plugins: Plugin[] = [];
  const clock = new RequestClock(api);
  const r: Rig = {
    api,
    clock,
    plugins,
    workspaces,
    async [Symbol.asyncDispose]() {
      clock[Symbol.dispose]();
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
        config: { binary: await ensureCodex(CODEX), extra_args: args },
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
  await using r = await rig([SLOW], 2);
  const [p] = r.plugins;
  const [a, b] = await Promise.all([
    turn(p, "ta", r.workspaces[0], "prompt A"),
    turn(p, "tb", r.workspaces[1], "prompt B"),
  ]);
  assert.equal(a.msg.result.stop_reason, "end_turn");
  assert.equal(b.msg.result.stop_reason, "end_turn");
  assert.notEqual(a.msg.result.thread_id, b.msg.result.thread_id);
  const reqA = r.clock.at("prompt A");
  const reqB = r.clock.at("prompt B");
  // Each turn's request reached the mock before the other turn was answered.
  assert.ok(reqB < a.at, `B's request (${reqB}) came before A's answer (${a.at})`);
  assert.ok(reqA < b.at, `A's request (${reqA}) came before B's answer (${b.at})`);
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
  assert.ok(r.clock.at("prompt 2") > done[0].at, "turn 2 started after turn 1 ended");
  assert.ok(r.clock.at("prompt 3") > done[1].at, "turn 3 started after turn 2 ended");
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
  await using r = await rig([SLOW], 1, 2);
  const ws = r.workspaces[0];
  const [one, two] = await Promise.all([
    turn(r.plugins[0], "p1", ws, "from plugin 1"),
    turn(r.plugins[1], "p2", ws, "from plugin 2"),
  ]);
  assert.equal(one.msg.result.stop_reason, "end_turn");
  assert.equal(two.msg.result.stop_reason, "end_turn");
  const [first, second] = r.clock.arrivals;
  const firstDone = first.prompt === "from plugin 1" ? one : two;
  assert.ok(second.at > firstDone.at, "the second process's turn began after the first's ended");
  // The second turn found the first's thread in the session file and resumed it.
  assert.equal(one.msg.result.thread_id, two.msg.result.thread_id);
  assert.ok((await Deno.stat(`${ws}/.plexum-codex.lock`)).isFile);
});
