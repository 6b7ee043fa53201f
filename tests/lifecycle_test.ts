/**
 * A turn's life through the plugin, end to end: main.ts as a subprocess, the
 * real Codex CLI 0.169.0, the mock Responses API. Resume and reset, system
 * messages, usage per turn, failures, and every way a turn can be cut short
 * (cancel, idle timeout, shutdown, stdin EOF, SIGTERM), each proven to leave
 * no Codex process behind by scanning `/proc/<pid>/cwd`.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { type MockApi, mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";
import { type Msg, type Plugin, startPlugin } from "../dev/plugin.ts";
import { pidsInDir } from "./support/proc.ts";
import { codexPids } from "./support/app_server.ts";

const CODEX = "0.169.0";

interface Harness extends AsyncDisposable {
  api: MockApi;
  plugin: Plugin;
  ws: string;
  /** Send a chat turn to `ws` with one user message (plus `extra` params); returns its id. */
  chat(turnId: string, text: string, extra?: Record<string, unknown>): Promise<string | number>;
  /** The response to a request id. */
  answer(id: string | number, timeoutMs?: number): Promise<Msg>;
}

/** Mock API + temp CODEX_HOME + workspace + initialized plugin; disposed in reverse. */
async function harness(
  script: MockReply[],
  config: Record<string, unknown> = {},
): Promise<Harness> {
  const api = startMockApi(script);
  const home = await Deno.makeTempDir({ prefix: "plexum-codex-home-" });
  const ws = await Deno.makeTempDir({ prefix: "plexum-ws-" });
  const { args, env } = mockCodexSetup(api.baseUrl, home);
  const plugin = startPlugin({ env });
  const init = await plugin.request("initialize", {
    protocol_version: 1,
    config: { binary: await ensureCodex(CODEX), extra_args: args, ...config },
  });
  assert.ok(init.result, JSON.stringify(init));
  return {
    api,
    plugin,
    ws,
    chat: (turnId, text, extra = {}) =>
      plugin.send("chat", {
        turn_id: turnId,
        agent: { id: "agent-1", workspace: ws },
        messages: [{ role: "user", content: text }],
        ...extra,
      }),
    answer: (id, timeoutMs = 60_000) =>
      plugin.waitFor((m) => m.id === id && !("method" in m), timeoutMs),
    async [Symbol.asyncDispose]() {
      await plugin.close();
      await api.close();
      await Deno.remove(home, { recursive: true });
      await Deno.remove(ws, { recursive: true });
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `cond()` holds (polling), or fail with `what`. */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/**
 * Wait until Codex runs for the turn (exec: in `h.ws`; app-server: the plugin's
 * app-server) and has sent its request to the mock.
 */
async function codexRunning(h: Harness, requests = 1): Promise<void> {
  await until(() => h.api.requests.length >= requests, "codex reached the mock API");
  assert.ok(
    codexPids(h.plugin.child.pid, h.ws).length > 0,
    "codex runs for the turn (the /proc scan sees it)",
  );
}

/** Text of every input message of `role` in one mock request. */
function texts(req: Record<string, unknown>, role: string): string[] {
  const input = req.input as { type?: string; role?: string; content?: { text?: string }[] }[];
  return input.filter((i) => i.type === "message" && i.role === role)
    .flatMap((i) => (i.content ?? []).map((c) => c.text ?? ""));
}

const session = (ws: string) => Deno.readTextFileSync(`${ws}/.plexum-codex-session`);
const PER_REQUEST = {
  input_tokens: 120,
  cached_input_tokens: 20,
  output_tokens: 7,
  reasoning_tokens: 3,
};

Deno.test("a second turn resumes the thread: same thread_id, history sent, usage per turn", async () => {
  await using h = await harness([{ text: "The word is pelican.", chunks: 3 }, { text: "pelican" }]);
  const r1 = await h.answer(await h.chat("t1", "Remember the word pelican."));
  const r2 = await h.answer(await h.chat("t2", "Which word?"));
  assert.equal(r1.result.stop_reason, "end_turn");
  assert.equal(r2.result.stop_reason, "end_turn");
  assert.match(r1.result.thread_id, /^[0-9a-f-]{36}$/);
  assert.equal(r2.result.thread_id, r1.result.thread_id);
  assert.equal(session(h.ws), `${r1.result.thread_id}\n`);

  assert.equal(h.api.requests.length, 2);
  const second = h.api.requests[1];
  assert.ok(
    texts(second, "user").includes("Remember the word pelican."),
    "turn 1's prompt is in turn 2's request",
  );
  assert.ok(texts(second, "assistant").includes("The word is pelican."), "turn 1's reply too");
  assert.equal(texts(second, "user").at(-1), "Which word?");

  // Codex reports thread totals; each turn reports only its own tokens.
  for (const [r, id] of [[r1, "t1"], [r2, "t2"]] as const) {
    const { cache_write_input_tokens: _, ...usage } = r.result.usage;
    assert.deepEqual(usage, PER_REQUEST);
    const { type, ...last } = h.plugin.eventsOf(id).at(-1) ?? {};
    assert.equal(type, "usage", "usage is the last event");
    assert.deepEqual(last, r.result.usage);
  }
  assert.deepEqual(
    h.plugin.eventsOf("t1").filter((e) => e.type === "text_delta").map((e) => e.text).join(""),
    "The word is pelican.",
  );
  const stored = JSON.parse(Deno.readTextFileSync(`${h.ws}/.plexum-codex-usage`));
  assert.equal(stored.thread_id, r1.result.thread_id);
  assert.equal(stored.totals.input_tokens, 240, "the usage file keeps the thread's running totals");
});

Deno.test("reset: true starts a new thread and replaces the session file", async () => {
  await using h = await harness([{ text: "one" }, { text: "two" }]);
  const r1 = await h.answer(await h.chat("t1", "first thread"));
  const r2 = await h.answer(await h.chat("t2", "fresh start", { reset: true }));
  assert.equal(r2.result.stop_reason, "end_turn");
  assert.notEqual(r2.result.thread_id, r1.result.thread_id);
  assert.equal(session(h.ws), `${r2.result.thread_id}\n`);
  assert.ok(
    !texts(h.api.requests[1], "user").includes("first thread"),
    "no history in the new thread",
  );
  const { cache_write_input_tokens: _, ...usage } = r2.result.usage;
  assert.deepEqual(usage, PER_REQUEST, "a new thread's usage has no baseline to subtract");
});

Deno.test("system messages become developer instructions only when a thread starts", async () => {
  // Without history replay (tests/history_test.ts), a new thread gets the prompt alone.
  await using h = await harness([{ text: "ok" }], { replay_history: false });
  const turn = (id: string, system: string, user: string, reset = false) =>
    h.plugin.send("chat", {
      turn_id: id,
      agent: { id: "agent-1", workspace: h.ws },
      reset,
      messages: [
        { role: "system", content: system },
        { role: "user", content: "an older user message" },
        { role: "assistant", content: "an older reply" },
        { role: "user", content: user },
      ],
    });
  assert.equal(
    (await h.answer(await turn("t1", "SYSTEM-A: answer in French.", "prompt one"))).result
      .stop_reason,
    "end_turn",
  );
  assert.equal(
    (await h.answer(await turn("t2", "SYSTEM-B", "prompt two"))).result.stop_reason,
    "end_turn",
  );
  assert.equal(
    (await h.answer(await turn("t3", "SYSTEM-C", "prompt three", true))).result.stop_reason,
    "end_turn",
  );
  const [a, b, c] = h.api.requests;
  assert.ok(texts(a, "developer").includes("SYSTEM-A: answer in French."));
  assert.equal(texts(a, "user").at(-1), "prompt one", "the prompt is the last user message");
  assert.ok(
    !texts(a, "user").includes("an older user message"),
    "earlier messages are Codex's to keep",
  );
  assert.ok(
    !texts(b, "developer").some((t) => t.includes("SYSTEM-B")),
    "a resumed thread keeps its instructions",
  );
  assert.ok(
    texts(c, "developer").includes("SYSTEM-C"),
    "reset starts a thread with the new instructions",
  );
  assert.ok(!texts(c, "developer").some((t) => t.includes("SYSTEM-A")));
});

Deno.test("cancel ends a running turn within seconds and leaves no codex process", async () => {
  await using h = await harness([{ hang: true }, { text: "after cancel" }]);
  const id = await h.chat("t1", "hang please");
  await codexRunning(h);
  const t0 = performance.now();
  assert.deepEqual((await h.plugin.request("cancel", { turn_id: "t1" })).result, {
    cancelled: true,
  });
  const r = await h.answer(id, 15_000);
  const ms = performance.now() - t0;
  assert.equal(r.result.stop_reason, "cancelled");
  assert.equal(r.result.turn_id, "t1");
  assert.ok(ms < 10_000, `answered ${ms} ms after cancel`);
  await until(() => pidsInDir(h.ws).length === 0, "no process runs in the workspace", 5_000);
  assert.ok(!h.plugin.eventsOf("t1").some((e) => e.type === "error"), "a cancel is not an error");
  assert.deepEqual((await h.plugin.request("cancel", { turn_id: "t1" })).result, {
    cancelled: false,
  });
  // The lock was released: the workspace takes the next turn.
  const next = await h.answer(await h.chat("t2", "again"));
  assert.equal(next.result.stop_reason, "end_turn");
});

Deno.test("a failed turn (HTTP 401) is one error event and stop_reason error", async () => {
  await using h = await harness([{ status: 401 }]);
  const r = await h.answer(await h.chat("t1", "hi"));
  assert.equal(r.result.stop_reason, "error");
  assert.equal(r.result.usage, null);
  const errors = h.plugin.eventsOf("t1").filter((e) => e.type === "error");
  assert.equal(errors.length, 1, JSON.stringify(h.plugin.eventsOf("t1")));
  assert.equal(errors[0].code, "turn_failed");
  assert.match(errors[0].message, /401/);
});

Deno.test("a codex binary that does not exist is one codex_not_found error", async () => {
  await using h = await harness([{ text: "unused" }], { binary: "/nonexistent/codex" });
  const r = await h.answer(await h.chat("t1", "hi"));
  assert.deepEqual(r.result, { turn_id: "t1", stop_reason: "error", thread_id: null, usage: null });
  const events = h.plugin.eventsOf("t1");
  assert.equal(events.length, 1);
  assert.equal(events[0].type, "error");
  assert.equal(events[0].code, "codex_not_found");
  assert.match(events[0].message, /\/nonexistent\/codex/);
  assert.equal(h.api.requests.length, 0);
});

Deno.test("idle timeout ends a silent turn with one timeout error and no codex left", async () => {
  await using h = await harness([{ hang: true }], { idle_timeout_s: 2 });
  const r = await h.answer(await h.chat("t1", "hang"));
  assert.equal(r.result.stop_reason, "error");
  const errors = h.plugin.eventsOf("t1").filter((e) => e.type === "error");
  assert.deepEqual(errors.map((e) => e.code), ["timeout"]);
  await until(() => pidsInDir(h.ws).length === 0, "no process runs in the workspace", 5_000);
});

Deno.test("activity events are sent only when emit_activity is true", async (t) => {
  for (const emit of [true, false]) {
    await t.step(`emit_activity ${emit}`, async () => {
      await using h = await harness([{ shell: "echo from-the-shell", via: "code" }, {
        text: "ran it",
      }], {
        emit_activity: emit,
      });
      const r = await h.answer(await h.chat("t1", "run a command"));
      assert.equal(r.result.stop_reason, "end_turn");
      const activity = h.plugin.eventsOf("t1").filter((e) => e.type === "activity");
      if (!emit) return assert.deepEqual(activity, []);
      assert.deepEqual(activity.map((e) => e.phase), ["started", "completed"]);
      assert.equal(activity[1].item.type, "command_execution");
      assert.match(activity[1].item.aggregated_output, /from-the-shell/);
    });
  }
});

Deno.test("stdin EOF with a turn in flight: answered cancelled, exit 0, no codex left", async () => {
  await using h = await harness([{ hang: true }]);
  const id = await h.chat("t1", "hang");
  await codexRunning(h);
  const t0 = performance.now();
  const status = await h.plugin.close();
  const ms = performance.now() - t0;
  assert.equal(status.code, 0);
  assert.ok(ms < 10_000, `exited ${ms} ms after EOF`);
  const r = h.plugin.messages.find((m) => m.id === id);
  assert.equal(r?.result?.stop_reason, "cancelled");
  await until(() => pidsInDir(h.ws).length === 0, "no process runs in the workspace", 5_000);
});

Deno.test("shutdown with turns in flight: each answered cancelled, then {}, exit 0, no codex left", async () => {
  await using h = await harness([{ hang: true }]);
  const running = await h.chat("t1", "hang");
  const queued = await h.chat("t2", "queued behind t1");
  await codexRunning(h);
  const shutdown = await h.plugin.send("shutdown", {});
  const status = await h.plugin.child.status;
  assert.equal(status.code, 0);
  const order = h.plugin.messages.filter((m) => !("method" in m)).map((m) => m.id);
  const at = (id: unknown) => order.indexOf(id);
  assert.ok(
    at(running) >= 0 && at(queued) >= 0 && at(running) < at(shutdown) && at(queued) < at(shutdown),
    `order ${order}`,
  );
  for (const id of [running, queued]) {
    assert.equal(h.plugin.messages.find((m) => m.id === id)?.result?.stop_reason, "cancelled");
  }
  assert.deepEqual(h.plugin.messages.find((m) => m.id === shutdown)?.result, {});
  assert.equal(h.api.requests.length, 1, "the queued turn never ran");
  await until(() => pidsInDir(h.ws).length === 0, "no process runs in the workspace", 5_000);
});

Deno.test("SIGTERM mid-turn: turn answered cancelled, exit 0 within seconds, no codex left", async () => {
  await using h = await harness([{ hang: true }]);
  const id = await h.chat("t1", "hang");
  await codexRunning(h);
  const t0 = performance.now();
  h.plugin.child.kill("SIGTERM");
  const status = await h.plugin.child.status;
  const ms = performance.now() - t0;
  assert.equal(status.code, 0);
  assert.equal(status.signal, null);
  assert.ok(ms < 10_000, `exited ${ms} ms after SIGTERM`);
  assert.equal(h.plugin.messages.find((m) => m.id === id)?.result?.stop_reason, "cancelled");
  await until(() => pidsInDir(h.ws).length === 0, "no process runs in the workspace", 5_000);
});
