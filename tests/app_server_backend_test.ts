/**
 * AppServerBackend (lib/codex/app_server/) in process, against the fake
 * app-server of tests/support/fake_app_server.ts: a real subprocess
 * speaking the wire, told to misbehave. Streaming and usage, one process for
 * many turns, notifications before the `turn/start` answer, cancel with and
 * without Codex's confirmation, the idle timeout, a crash with turns in
 * flight, silence, a held or stale thread, questions from the server, the
 * idle exit, and that nothing is left running.
 */
import assert from "node:assert/strict";
import { type Config, ConfigError, DEFAULTS } from "../lib/config.ts";
import { AppServerBackend } from "../lib/codex/app_server/backend.ts";
import { readThreadId, writeThreadId } from "../lib/codex/session.ts";
import { readTotals } from "../lib/codex/usage.ts";
import { AutoBackend, RETRY_APP_SERVER_MS, selectBackend } from "../lib/codex/select.ts";
import { REAP_AFTER_MS } from "../lib/codex/app_server/supervisor.ts";
import {
  CONTROL_TIMEOUT_MS,
  deadlineOf,
  OPEN_TIMEOUT_MS,
  type TurnContext,
} from "../lib/codex/app_server/calls.ts";
import { HELD_WAIT_MS } from "../lib/codex/app_server/thread.ts";
import { ExecBackend } from "../lib/codex/exec/driver.ts";
import { createLogger, type Logger } from "../lib/log.ts";
import type { PlexumEvent, TurnRequest, TurnResult } from "../lib/turns/backend.ts";
import {
  type FakeAppServer,
  type FakeAppServerPlan,
  installFakeAppServer,
} from "./support/fake_app_server.ts";
import { isAlive } from "./support/proc.ts";
import { FakeClock } from "../dev/fake_clock.ts";

interface Run {
  result: TurnResult;
  events: PlexumEvent[];
  /** Events emitted after runTurn resolved. */
  late: PlexumEvent[];
  ms: number;
}

const texts = (evs: PlexumEvent[]) =>
  evs.filter((e) => e.type === "text_delta").map((e) => (e as { text: string }).text);
const errors = (evs: PlexumEvent[]) =>
  evs.filter((e) => e.type === "error") as Extract<PlexumEvent, { type: "error" }>[];

/** A fake, a logger that keeps its lines, workspaces, and a backend; all cleaned up. */
async function setup(plan: FakeAppServerPlan = {}, config: Partial<Config> = {}, o: {
  requestTimeoutMs?: number;
  clock?: FakeClock;
} = {}) {
  const fake = await installFakeAppServer(plan);
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const cfg: Config = { ...DEFAULTS, binary: fake.binary, backend: "app-server", ...config };
  const backend = new AppServerBackend({
    config: cfg,
    log,
    clientVersion: "test",
    requestTimeoutMs: o.requestTimeoutMs,
    initializeTimeoutMs: 20_000,
    clock: o.clock,
  });
  const root = await Deno.makeTempDir({ prefix: "app-server-backend-" });
  let n = 0;
  return {
    fake,
    logs,
    log,
    backend,
    config: cfg,
    async workspace() {
      const ws = `${root}/ws${n++}`;
      await Deno.mkdir(ws);
      return ws;
    },
    async [Symbol.asyncDispose]() {
      await backend.close();
      await fake[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** Run one turn; `cancelAfter` aborts it once that many text deltas have arrived. */
async function turn(
  backend: { runTurn(r: TurnRequest): Promise<TurnResult> },
  workspace: string,
  o: {
    prompt?: string;
    cancelAfter?: number;
    cancelOn?: Promise<unknown>;
    system?: string;
    reset?: boolean;
  } = {},
): Promise<Run> {
  const ac = new AbortController();
  const events: PlexumEvent[] = [];
  const late: PlexumEvent[] = [];
  let done = false;
  let cancelledAt = 0;
  const started = performance.now();
  o.cancelOn?.then(() => {
    cancelledAt = performance.now();
    ac.abort();
  });
  const result = await backend.runTurn({
    workspace,
    prompt: o.prompt ?? "hi",
    model: "codex",
    system: o.system,
    reset: o.reset ?? false,
    signal: ac.signal,
    emit(ev) {
      (done ? late : events).push(ev);
      if (o.cancelAfter !== undefined && texts(events).length >= o.cancelAfter && !cancelledAt) {
        cancelledAt = performance.now();
        ac.abort();
      }
    },
  });
  done = true;
  return { result, events, late, ms: performance.now() - (cancelledAt || started) };
}

/** `auto` over the setup's app-server backend and an exec backend. */
const autoOf = (
  s: { backend: AppServerBackend; config: Config; log: Logger },
  retryMs?: number,
  clock?: FakeClock,
) =>
  new AutoBackend({
    appServer: s.backend,
    health: s.backend.supervisor,
    exec: new ExecBackend(s.config, s.log),
    log: s.log,
    retryMs,
    clock,
  });

/** Resolves once `cond` holds (polled; fails after 10 s). */
async function until(cond: () => boolean, ms = 10_000) {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error("condition not met in time");
  }
}

const startsOf = async (fake: FakeAppServer) => (await fake.starts()).length;
const methodsOf = async (fake: FakeAppServer) =>
  (await fake.received()).map((r) => r.msg.method).filter(Boolean);

Deno.test("app-server backend: a streamed turn, then a second one on the same warm process and thread", async () => {
  await using s = await setup({ deltas: ["Hel", "lo", " there"] });
  const ws = await s.workspace();
  const first = await turn(s.backend, ws, { system: "be brief" });
  assert.equal(first.result.stop_reason, "end_turn");
  assert.deepEqual(texts(first.events), ["Hel", "lo", " there"]);
  assert.deepEqual(errors(first.events), []);
  const usage = first.events.filter((e) => e.type === "usage");
  assert.deepEqual(usage, [{
    type: "usage",
    input_tokens: 100,
    cached_input_tokens: 20,
    output_tokens: 7,
    reasoning_tokens: 3,
  }]);
  const thread = await readThreadId(ws);
  assert.equal(first.result.thread_id, thread);
  assert.ok(thread);

  const second = await turn(s.backend, ws);
  assert.equal(second.result.stop_reason, "end_turn");
  assert.equal(second.result.thread_id, thread);
  // The thread's totals doubled; the turn's usage is one turn's worth.
  assert.deepEqual(second.result.usage, first.result.usage);
  assert.equal((await readTotals(ws, thread!))?.input_tokens, 200);

  assert.equal(await startsOf(s.fake), 1, "one process for both turns");
  const received = (await s.fake.received()).map((r) => r.msg);
  const starts = received.filter((m) => m.method === "thread/start");
  assert.equal(starts.length, 1);
  const p = starts[0].params as Record<string, unknown>;
  assert.equal(p.cwd, ws);
  assert.equal(p.approvalPolicy, "never");
  assert.equal(p.sandbox, "danger-full-access");
  assert.equal(p.developerInstructions, "be brief");
  assert.ok(!received.some((m) => m.method === "thread/resume"), "a loaded thread is not resumed");
  const turnStarts = received.filter((m) => m.method === "turn/start");
  assert.deepEqual((turnStarts[0].params as { input: unknown }).input, [
    { type: "text", text: "hi", text_elements: [] },
  ]);
  assert.ok(received.every((m) => !("jsonrpc" in m)));
  const init = received.find((m) => m.method === "initialize")!;
  assert.equal(
    (init.params as { clientInfo: { name: string } }).clientInfo.name,
    "plexum-openai-provider-plugin",
  );
});

Deno.test("app-server backend: notifications that come before the turn/start answer are not lost", async () => {
  await using s = await setup({ notifyBeforeAnswer: true, deltas: ["a", "b", "c"] });
  const r = await turn(s.backend, await s.workspace());
  assert.equal(r.result.stop_reason, "end_turn");
  assert.equal(texts(r.events).join(""), "abc");
});

Deno.test("app-server backend: cancel interrupts the turn; nothing of it after the answer; the thread goes on", async () => {
  await using s = await setup({
    deltas: ["1", "2", "3", "4", "5", "6", "7", "8"],
    deltaDelayMs: 100,
  });
  const ws = await s.workspace();
  const r = await turn(s.backend, ws, { cancelAfter: 2 });
  assert.equal(r.result.stop_reason, "cancelled");
  assert.ok(r.ms < 2000, `answered ${r.ms} ms after the cancel`);
  assert.deepEqual(errors(r.events), []);
  assert.ok(texts(r.events).length < 8);
  assert.ok((await methodsOf(s.fake)).includes("turn/interrupt"));
  await new Promise((res) => setTimeout(res, 300));
  assert.deepEqual(r.late, []);
  const thread = await readThreadId(ws);
  await s.fake.setPlan({ deltas: ["next"] });
  const next = await turn(s.backend, ws);
  assert.equal(next.result.stop_reason, "end_turn");
  assert.equal(next.result.thread_id, thread);
  assert.equal(await startsOf(s.fake), 1, "a confirmed interrupt keeps the process");
});

Deno.test("app-server backend: a cancel Codex never confirms still answers within 2 s, and the process is replaced", async () => {
  await using s = await setup({
    deltas: ["1", "2", "3"],
    stopAfter: { deltas: 1, then: "hang" },
    interrupt: "silent",
  });
  const ws = await s.workspace();
  const r = await turn(s.backend, ws, { cancelAfter: 1 });
  assert.equal(r.result.stop_reason, "cancelled");
  assert.ok(r.ms < 2000, `answered ${r.ms} ms after the cancel`);
  assert.deepEqual(errors(r.events), []);
  assert.ok(s.logs.some((l) => l.includes("stopped answering")), "logged why it restarts");
  const thread = await readThreadId(ws);
  await s.fake.setPlan({ deltas: ["again"] });
  const next = await turn(s.backend, ws);
  assert.equal(next.result.stop_reason, "end_turn");
  assert.deepEqual(texts(next.events), ["again"]);
  assert.equal(next.result.thread_id, thread, "the same thread, resumed by the new process");
  assert.equal(await startsOf(s.fake), 2);
  const resumes = (await s.fake.received()).filter((m) => m.msg.method === "thread/resume");
  assert.equal((resumes[0].msg.params as { threadId: string }).threadId, thread);
});

Deno.test("app-server backend: no notification for idle_timeout_s → interrupt and one timeout error", async () => {
  await using s = await setup({ deltas: ["1", "2"], stopAfter: { deltas: 1, then: "hang" } }, {
    idle_timeout_s: 0.5,
  });
  const r = await turn(s.backend, await s.workspace());
  assert.equal(r.result.stop_reason, "error");
  const errs = errors(r.events);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].code, "timeout");
  assert.ok((await methodsOf(s.fake)).includes("turn/interrupt"));
});

Deno.test("app-server backend: a crash mid-turn gives each turn in flight one codex_exit; the next turn resumes on a new process", async () => {
  await using s = await setup({
    deltas: ["1", "2", "3", "4", "5"],
    deltaDelayMs: 150,
    stopAfter: { deltas: 3, then: "exit" },
  });
  const a = await s.workspace();
  const b = await s.workspace();
  const [ra, rb] = await Promise.all([turn(s.backend, a), turn(s.backend, b)]);
  for (const r of [ra, rb]) {
    assert.equal(r.result.stop_reason, "error");
    const errs = errors(r.events);
    assert.equal(errs.length, 1, JSON.stringify(r.events));
    assert.equal(errs[0].code, "codex_exit");
    assert.match(errs[0].message, /exited \(code 1\).*scripted crash/);
  }
  const thread = await readThreadId(a);
  await s.fake.setPlan({ deltas: ["back"] });
  const next = await turn(s.backend, a);
  assert.equal(next.result.stop_reason, "end_turn");
  assert.equal(next.result.thread_id, thread);
  assert.equal(await startsOf(s.fake), 2);
});

Deno.test("app-server backend: turns of different workspaces run at once on the one process", async () => {
  await using s = await setup({ deltas: ["a", "b", "c", "d"], deltaDelayMs: 200 });
  const wss = await Promise.all([s.workspace(), s.workspace(), s.workspace()]);
  const started = performance.now();
  const runs = await Promise.all(wss.map((ws) => turn(s.backend, ws)));
  const ms = performance.now() - started;
  for (const r of runs) assert.equal(texts(r.events).join(""), "abcd");
  assert.equal(await startsOf(s.fake), 1);
  assert.equal(new Set(runs.map((r) => r.result.thread_id)).size, 3);
  // 4 deltas × 200 ms each; serialized would be ≥ 2.4 s. Only a sanity bound, not a timing test.
  assert.ok(ms < 20_000);
});

Deno.test("app-server backend: the server's questions are answered and the turn completes", async () => {
  await using s = await setup({
    requests: [
      { method: "item/commandExecution/requestApproval", params: { command: "touch x" } },
      { method: "mcpServer/elicitation/request" },
      { method: "item/tool/requestUserInput" },
      { method: "no/such/request" },
    ],
  });
  const r = await turn(s.backend, await s.workspace());
  assert.equal(r.result.stop_reason, "end_turn");
  const answers = (await s.fake.received()).map((x) => x.msg).filter((m) => !("method" in m));
  assert.equal(answers.length, 4);
  assert.deepEqual(answers[0].result, { decision: "decline" });
  assert.ok(answers[3].error);
});

Deno.test("app-server backend: a stored thread Codex does not know is replaced within the turn", async () => {
  await using s = await setup({ deltas: ["fresh"] });
  const ws = await s.workspace();
  const stale = "0199a0b1-0000-7000-8000-00000000dead";
  await writeThreadId(ws, stale);
  const r = await turn(s.backend, ws);
  assert.equal(r.result.stop_reason, "end_turn");
  assert.deepEqual(errors(r.events), []);
  assert.notEqual(r.result.thread_id, stale);
  assert.equal(await readThreadId(ws), r.result.thread_id);
  assert.ok(s.logs.some((l) => l.includes("no longer knows the stored thread")));
});

Deno.test("app-server backend: a failed turn gives exactly one turn_failed error", async () => {
  await using s = await setup({ fail: "We're currently experiencing high demand" });
  const r = await turn(s.backend, await s.workspace());
  assert.equal(r.result.stop_reason, "error");
  const errs = errors(r.events);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].code, "turn_failed");
  assert.match(errs[0].message, /high demand/);
});

Deno.test("app-server backend: a process that answers nothing ends the turn and is replaced", async () => {
  // Not even the probe that follows the request's deadline (capped by idle_timeout_s) is answered.
  await using s = await setup({ silent: ["*"] }, { idle_timeout_s: 0.5 });
  const ws = await s.workspace();
  const r = await turn(s.backend, ws);
  assert.equal(r.result.stop_reason, "error");
  const errs = errors(r.events);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].code, "timeout");
  assert.match(errs[0].message, /did not answer thread\/start.*restarted/);
  await s.fake.setPlan({ deltas: ["ok"] });
  const next = await turn(s.backend, ws);
  assert.equal(next.result.stop_reason, "end_turn");
  assert.equal(await startsOf(s.fake), 2);
});

Deno.test("app-server backend: an unanswered turn/start fails its own turn only; another workspace's turn completes on the same process", async () => {
  await using s = await setup(
    { silentOn: "never-answered", deltas: ["1", "2", "3", "4", "5", "6"], deltaDelayMs: 250 },
    {},
    { requestTimeoutMs: 1000 }, // turn/start's deadline is CONTROL_TIMEOUT_MS, capped by this
  );
  const [a, b] = [await s.workspace(), await s.workspace()];
  const [ra, rb] = await Promise.all([
    turn(s.backend, a, { prompt: "never-answered" }),
    turn(s.backend, b),
  ]);
  assert.equal(ra.result.stop_reason, "error");
  const errs = errors(ra.events);
  assert.equal(errs.length, 1, JSON.stringify(ra.events));
  assert.equal(errs[0].code, "timeout");
  assert.match(errs[0].message, /did not answer turn\/start within 1s; turn ended$/);
  assert.equal(rb.result.stop_reason, "end_turn", JSON.stringify(rb.events));
  assert.equal(texts(rb.events).join(""), "123456");
  assert.deepEqual(errors(rb.events), []);
  const next = await turn(s.backend, a, { prompt: "again" });
  assert.equal(next.result.stop_reason, "end_turn");
  assert.equal(await startsOf(s.fake), 1, "the shared process was not restarted");
  assert.ok(!s.logs.some((l) => l.includes("stopped answering")));
});

Deno.test("app-server backend: turn/start waits CONTROL_TIMEOUT_MS, thread/start OPEN_TIMEOUT_MS, neither over idle_timeout_s", () => {
  const ctx = (idleS: number) => ({ requestTimeoutMs: idleS * 1000 }) as TurnContext;
  assert.equal(deadlineOf(ctx(600), "turn/start"), CONTROL_TIMEOUT_MS);
  assert.equal(deadlineOf(ctx(600), "turn/steer"), CONTROL_TIMEOUT_MS);
  assert.equal(deadlineOf(ctx(600), "thread/start"), OPEN_TIMEOUT_MS);
  assert.equal(deadlineOf(ctx(600), "thread/resume"), OPEN_TIMEOUT_MS);
  assert.equal(deadlineOf(ctx(20), "thread/resume"), 20_000);
  assert.ok(CONTROL_TIMEOUT_MS <= 15_000 && OPEN_TIMEOUT_MS <= 60_000);
});

/** A workspace whose thread a restarted fake must resume, then the plan `held`. */
async function heldThread(s: Awaited<ReturnType<typeof setup>>, held: FakeAppServerPlan) {
  const ws = await s.workspace();
  const first = await turn(s.backend, ws);
  await s.backend.supervisor.stop(); // a new process must resume the thread
  await s.fake.setPlan(held);
  return { ws, thread: first.result.thread_id! };
}
const HELD = "thread {id} already has an active writer (held by pid 4242)";
const resumesOf = async (fake: FakeAppServer) =>
  (await fake.received()).filter((m) => m.msg.method === "thread/resume").length;

Deno.test("app-server backend: a thread held by another writer is waited for; held twice, then free, the turn succeeds", async () => {
  await using s = await setup({});
  const { ws, thread } = await heldThread(s, { resumeError: HELD, resumeErrorTimes: 2 });
  const r = await turn(s.backend, ws);
  assert.equal(r.result.stop_reason, "end_turn", JSON.stringify(r.events));
  assert.equal(r.result.thread_id, thread);
  assert.equal(await resumesOf(s.fake), 3);
});

Deno.test("app-server backend: a thread held throughout: one error after the bound, saying who holds it", async () => {
  await using s = await setup({}, { idle_timeout_s: 1.5 }); // the wait: min(HELD_WAIT_MS, this)
  const { ws, thread } = await heldThread(s, { resumeError: HELD });
  const r = await turn(s.backend, ws);
  assert.equal(r.result.stop_reason, "error");
  const errs = errors(r.events);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].code, "codex_exit");
  assert.match(errs[0].message, /in use by another Codex process/);
  assert.match(errs[0].message, /held by pid 4242\) \(still after 1.5 s\)/);
  assert.ok(await resumesOf(s.fake) >= 3, "retried while waiting");
  assert.equal(await readThreadId(ws), thread, "the stored thread is kept");
  assert.ok(HELD_WAIT_MS <= 30_000);
});

Deno.test("app-server backend: a cancel during the wait for a held thread ends the turn at once", async () => {
  await using s = await setup({}, { idle_timeout_s: 600 });
  const { ws } = await heldThread(s, { resumeError: HELD });
  const waiting = until(() => s.logs.some((l) => l.includes("holds the thread; waiting")));
  const r = await turn(s.backend, ws, { cancelOn: waiting });
  assert.equal(r.result.stop_reason, "cancelled");
  assert.deepEqual(errors(r.events), []);
  assert.ok(r.ms < 2000, `answered ${r.ms} ms after the cancel`);
});

Deno.test("app-server backend: exits after app_server_idle_s without turns; the next turn starts it again", async () => {
  const clock = new FakeClock();
  await using s = await setup({}, {}, { clock });
  const ws = await s.workspace();
  await turn(s.backend, ws);
  const pid = s.backend.supervisor.pid!;
  assert.ok(isAlive(pid));
  await clock.tick(DEFAULTS.app_server_idle_s * 1000 - 1);
  assert.equal(s.backend.supervisor.pid, pid, "not before app_server_idle_s");
  await clock.tick(1);
  assert.equal(s.backend.supervisor.pid, undefined, "stopped when idle");
  const r = await turn(s.backend, ws);
  assert.equal(r.result.stop_reason, "end_turn");
  assert.equal(await startsOf(s.fake), 2);
  assert.ok((await methodsOf(s.fake)).includes("thread/resume"));
});

/** Live `sleep 300` (or `what`) helpers started by fake `dir`'s app-servers. */
async function helpersOf(dir: string, what = "sleep 300"): Promise<number[]> {
  const out = await new Deno.Command("pgrep", { args: ["-f", what], stdout: "piped" }).output();
  const pids = new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map(Number);
  return pids.filter((p) => {
    try {
      return Deno.readTextFileSync(`/proc/${p}/environ`).includes(`FAKE_APP_SERVER_DIR=${dir}`);
    } catch {
      return false;
    }
  });
}

Deno.test("app-server backend: close ends the app-server and the helpers it started in sessions of their own", async () => {
  await using s = await setup({ escapedHelper: true });
  assert.equal((await s.backend.supervisor.ready(new AbortController().signal)).state, "ready");
  const pid = s.backend.supervisor.pid!;
  assert.equal((await helpersOf(s.fake.dir)).length, 1, "the fake's escaped helper runs");
  await s.backend.close();
  assert.ok(!isAlive(pid));
  assert.deepEqual(await helpersOf(s.fake.dir), []);
});

Deno.test("app-server backend: with no turn in flight, what the app-server left running is ended; it stays", async () => {
  const clock = new FakeClock();
  await using s = await setup({ escapedHelper: true, childHelper: true }, {}, { clock });
  await turn(s.backend, await s.workspace());
  const pid = s.backend.supervisor.pid!;
  await clock.tick(REAP_AFTER_MS); // the scan itself runs `ps`: waited for below
  const deadline = performance.now() + 10_000;
  while ((await helpersOf(s.fake.dir)).length > 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(await helpersOf(s.fake.dir), [], "the leftover helper was ended");
  assert.ok(isAlive(pid), "the app-server itself was not");
  assert.equal(
    (await helpersOf(s.fake.dir, "sleep 301")).length,
    1,
    "nor what it still parents (a code-mode host, an MCP server)",
  );
  assert.equal(s.backend.supervisor.pid, pid);
  assert.ok(s.logs.some((l) => l.includes("ended processes codex left running")));
  const next = await turn(s.backend, await s.workspace());
  assert.equal(next.result.stop_reason, "end_turn");
  await s.backend.close();
  assert.deepEqual(await helpersOf(s.fake.dir, "sleep 301"), [], "close ends it");
});

Deno.test("app-server backend: extra_args -c/--enable/--disable go to the app-server command line", async () => {
  await using s = await setup({}, {
    extra_args: ["-c", "model_reasoning_effort=low", "--disable", "shell_snapshot", "--enable=x"],
  });
  await turn(s.backend, await s.workspace());
  assert.deepEqual((await s.fake.starts())[0].argv, [
    "app-server",
    "-c",
    "model_reasoning_effort=low",
    "--disable",
    "shell_snapshot",
    "--enable=x",
  ]);
});

Deno.test("select: an argument only codex exec takes: app-server refuses the config, auto uses exec", () => {
  const logs: string[] = [];
  const log: Logger = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const config = { ...DEFAULTS, extra_args: ["-c", "a=1", "--skip-git-repo-check"] };
  assert.throws(
    () => selectBackend({ ...config, backend: "app-server" }, log),
    (e) =>
      e instanceof ConfigError && e.errors[0].field === "extra_args" &&
      e.errors[0].message.includes('"--skip-git-repo-check"'),
  );
  const auto = selectBackend({ ...config, backend: "auto" }, log);
  assert.ok(auto instanceof ExecBackend);
  assert.equal(
    logs.filter((l) => l.includes(" WARN ") && l.includes("--skip-git-repo-check")).length,
    1,
  );
  assert.ok(selectBackend({ ...DEFAULTS }, log) instanceof AutoBackend);
  assert.ok(selectBackend({ ...DEFAULTS, backend: "exec" }, log) instanceof ExecBackend);
});

Deno.test("select: auto uses exec when the app-server cannot start, and says so once", async () => {
  await using s = await setup({ initialize: "exit" }, { backend: "auto" });
  const auto = autoOf(s);
  const ws = await s.workspace();
  await turn(auto, ws);
  await turn(auto, ws);
  const argv0 = (await s.fake.starts()).map((x) => x.argv[0]);
  assert.deepEqual(argv0, ["app-server", "exec", "exec"], "tried once, then exec for each turn");
  const warns = s.logs.filter((l) => l.includes(" WARN ") && l.includes("turns use codex exec"));
  assert.equal(warns.length, 1);
  assert.match(warns[0], /unrecognized subcommand/);
  assert.equal(auto.current, "exec");
  await auto.close();
});

Deno.test("app-server backend: a new thread gets the earlier messages; a resumed one does not; images go as data URLs", async () => {
  await using s = await setup({});
  const ws = await s.workspace();
  const history = [
    { role: "user" as const, text: "My name is Ada." },
    { role: "assistant" as const, text: "Hello Ada!" },
  ];
  const run = (prompt: string) =>
    s.backend.runTurn({
      workspace: ws,
      prompt,
      history,
      images: [{ mime_type: "image/png", base64: "AQID" }],
      model: "codex",
      reset: false,
      signal: new AbortController().signal,
      emit() {},
    });
  const first = await run("What is my name?");
  assert.equal(first.replayed_messages, 2);
  const second = await run("Again?");
  assert.equal(second.replayed_messages, undefined);
  const inputs = (await s.fake.received()).filter((m) => m.msg.method === "turn/start").map((m) =>
    (m.msg.params as { input: Record<string, unknown>[] }).input
  );
  assert.match(
    inputs[0][0].text as string,
    /<earlier_conversation>[\s\S]*Hello Ada![\s\S]*What is my name\?$/,
  );
  assert.equal(inputs[1][0].text, "Again?");
  assert.deepEqual(inputs[0][1], { type: "image", url: "data:image/png;base64,AQID" });
});

Deno.test("app-server backend: a usage limit is one rate_limited error with retry_after_s", async () => {
  await using s = await setup({
    fail: "You've hit your usage limit. Upgrade to Pro or try again in 5 minutes.",
  });
  const r = await turn(s.backend, await s.workspace());
  const errs = errors(r.events);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].code, "rate_limited");
  assert.equal(errs[0].retry_after_s, 300);
});

Deno.test("app-server backend: a cancel while the app-server is starting answers at once", async () => {
  await using s = await setup({ initialize: "silent" });
  const ac = new AbortController();
  const running = s.backend.runTurn({
    workspace: await s.workspace(),
    prompt: "hi",
    model: "codex",
    reset: false,
    signal: ac.signal,
    emit() {},
  });
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  ac.abort();
  const r = await running;
  assert.equal(r.stop_reason, "cancelled");
  assert.ok(performance.now() - t0 < 2000);
});

Deno.test("select: auto leaves an app-server that keeps crashing for exec, and tries it again later", async () => {
  await using s = await setup({ stopAfter: { deltas: 0, then: "exit" } }, { backend: "auto" });
  const clock = new FakeClock();
  const auto = autoOf(s, undefined, clock);
  const ws = await s.workspace();
  for (let i = 0; i < 3; i++) {
    const r = await turn(auto, ws);
    assert.equal(errors(r.events)[0]?.code, "codex_exit", "each crash is the turn's error");
  }
  await turn(auto, ws); // exec now (the fake's exec fails, which is fine here)
  assert.deepEqual((await s.fake.starts()).map((x) => x.argv[0]), [
    "app-server",
    "app-server",
    "app-server",
    "exec",
  ]);
  const warns = s.logs.filter((l) => l.includes(" WARN ") && l.includes("turns use codex exec"));
  assert.equal(warns.length, 1);
  assert.match(warns[0], /keeps exiting/);
  assert.equal(auto.current, "exec");

  await s.fake.setPlan({ deltas: ["healthy"] });
  await clock.tick(RETRY_APP_SERVER_MS - 1);
  assert.equal(auto.current, "exec", "not before the retry delay");
  await clock.tick(1);
  assert.equal(auto.current, "app-server");
  const back = await turn(auto, ws);
  assert.equal(back.result.stop_reason, "end_turn");
  assert.deepEqual(texts(back.events), ["healthy"]);
  assert.ok(s.logs.some((l) => l.includes("works again")));
  await auto.close();
});

Deno.test("app-server backend: a thread the app-server unloaded between turns is resumed, not replaced", async () => {
  await using s = await setup({ unloadAfterTurn: true });
  const ws = await s.workspace();
  const first = await turn(s.backend, ws);
  const second = await turn(s.backend, ws);
  assert.equal(second.result.stop_reason, "end_turn", JSON.stringify(second.events));
  assert.equal(second.result.thread_id, first.result.thread_id);
  const methods = await methodsOf(s.fake);
  assert.deepEqual(methods.filter((m) => m !== "initialize"), [
    "thread/start",
    "turn/start",
    "turn/start", // "thread not found"
    "thread/resume",
    "turn/start",
  ]);
  assert.equal(await startsOf(s.fake), 1);
});

Deno.test("app-server backend: cancelled before turn/start was answered: the turn that started anyway is interrupted", async () => {
  await using s = await setup({
    turnStartDelayMs: 400,
    deltas: ["1", "2", "3", "4", "5", "6"],
    deltaDelayMs: 200,
  });
  const ws = await s.workspace();
  const ac = new AbortController();
  const running = s.backend.runTurn({
    workspace: ws,
    prompt: "hi",
    model: "codex",
    reset: false,
    signal: ac.signal,
    emit() {},
  });
  const deadline = performance.now() + 20_000;
  while (!(await methodsOf(s.fake)).includes("turn/start") && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const t0 = performance.now();
  ac.abort();
  const r = await running;
  assert.equal(r.stop_reason, "cancelled");
  assert.ok(performance.now() - t0 < 2000);
  while (!(await methodsOf(s.fake)).includes("turn/interrupt") && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const interrupt = (await s.fake.received()).find((m) => m.msg.method === "turn/interrupt");
  assert.match((interrupt?.msg.params as { turnId?: string })?.turnId ?? "", /^turn-/);
  const next = await turn(s.backend, ws);
  assert.equal(next.result.stop_reason, "end_turn");
});
