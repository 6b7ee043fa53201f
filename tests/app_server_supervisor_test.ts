/**
 * The app-server's supervisor (lib/codex/app_server/supervisor.ts) and what
 * it is made of: the failure memory (launch.ts) and the shared start
 * (launch.ts). Time is a FakeClock: crash-loop windows and the memory
 * of a failed start are crossed by moving it, not by waiting. Starts run the
 * scripted app-server of test./support/fake_app_server.ts.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../dev/fake_clock.ts";
import { delay } from "../lib/async.ts";
import { DEFAULTS } from "../lib/config.ts";
import {
  CRASH_LOOP_EXITS,
  CRASH_WINDOW_MS,
  FAILED_START_MEMORY_MS,
  FailureMemory,
  SharedStart,
} from "../lib/codex/app_server/launch.ts";
import { AppServerSupervisor } from "../lib/codex/app_server/supervisor.ts";
import { AppServerBackend } from "../lib/codex/app_server/backend.ts";
import { AutoBackend } from "../lib/codex/select.ts";
import { ExecBackend } from "../lib/codex/exec/driver.ts";
import { createLogger } from "../lib/log.ts";
import type { PlexumEvent, TurnRequest } from "../lib/turns/backend.ts";
import { type FakeAppServerPlan, installFakeAppServer } from "./support/fake_app_server.ts";
import { isAlive, until } from "./support/proc.ts";

const failure = { spawnFailed: false, notFound: false, message: "initialize timed out" };

Deno.test("failure memory: three unexpected exits within the window are a crash loop, spread wider they are not", async () => {
  const clock = new FakeClock();
  const memory = new FailureMemory(clock);
  for (let i = 0; i < CRASH_LOOP_EXITS - 1; i++) {
    memory.crashed();
    await clock.tick(CRASH_WINDOW_MS / 2 + 1);
  }
  memory.crashed(); // the first one is out of the window by now
  assert.equal(memory.crashLooping, false);
  memory.crashed();
  assert.equal(memory.crashLooping, true);
  await clock.tick(CRASH_WINDOW_MS + 1);
  assert.equal(memory.crashLooping, false, "a loop is forgotten once its exits are old");
  memory.crashed();
  memory.crashed();
  memory.crashed();
  memory.forget();
  assert.equal(memory.crashLooping, false, "forget starts afresh");
});

Deno.test("failure memory: a failed start is answered from memory for a while, saying so, then forgotten", async () => {
  const clock = new FakeClock();
  const memory = new FailureMemory(clock);
  const remembered = () => memory.failedStart;
  assert.equal(remembered(), undefined);
  memory.startFailed(failure);
  await clock.tick(5_000);
  assert.match(remembered()?.message ?? "", /^initialize timed out \(a start 5 s ago/);
  await clock.tick(FAILED_START_MEMORY_MS - 5_000);
  assert.equal(remembered(), undefined);
});

Deno.test("shared start: callers arriving together share one start; it is aborted only when the last one leaves", async () => {
  let starts = 0;
  const aborted: boolean[] = [];
  const start = new SharedStart(async (signal) => {
    starts++;
    await delay(200, { signal }).catch(() => {});
    aborted.push(signal.aborted);
    return starts;
  });
  const a = new AbortController();
  const first = start.join(a.signal);
  const second = start.join();
  a.abort();
  assert.equal(await first, undefined, "a cancelled caller answers at once");
  assert.equal(await second, 1, "the other still gets the start");
  assert.deepEqual(aborted, [false]);

  const b = new AbortController();
  const lone = start.join(b.signal);
  b.abort();
  assert.equal(await lone, undefined);
  await until(() => aborted.length === 2, 5_000, "the start to end");
  assert.deepEqual(aborted, [false, true], "nobody waits: the start is aborted");
  assert.equal(starts, 2);
});

/** A supervised backend over a scripted app-server, on a fake clock; all cleaned up. */
async function setup(plan: FakeAppServerPlan) {
  const fake = await installFakeAppServer(plan);
  const clock = new FakeClock();
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const config = { ...DEFAULTS, binary: fake.binary, backend: "app-server" as const };
  const backend = new AppServerBackend({ config, log, clientVersion: "test", clock });
  const root = await Deno.makeTempDir({ prefix: "app-server-supervisor-" });
  return {
    fake,
    clock,
    logs,
    log,
    config,
    backend,
    ws: root,
    async [Symbol.asyncDispose]() {
      await backend.close();
      await fake[Symbol.asyncDispose]();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

function request(workspace: string, signal = new AbortController().signal) {
  const events: PlexumEvent[] = [];
  const req: TurnRequest = {
    workspace,
    prompt: "hi",
    model: "codex",
    reset: false,
    signal,
    emit: (ev) => events.push(ev),
  };
  return { req, events };
}

Deno.test("supervisor: a failed start is remembered: the next turns fail at once without starting again, until the memory expires", async () => {
  await using s = await setup({ initialize: "exit" });
  const first = request(s.ws);
  assert.equal((await s.backend.runTurn(first.req)).stop_reason, "error");
  const second = request(s.ws);
  assert.equal((await s.backend.runTurn(second.req)).stop_reason, "error");
  assert.equal((await s.fake.starts()).length, 1, "no second start within the memory");
  const errs = second.events.filter((e) => e.type === "error");
  assert.equal(errs.length, 1);
  assert.match(
    (errs[0] as { message: string }).message,
    /codex app-server did not start: .*\(a start 0 s ago; the next is tried 60 s after it\)/,
  );
  await s.clock.tick(FAILED_START_MEMORY_MS);
  await s.backend.runTurn(request(s.ws).req);
  assert.equal((await s.fake.starts()).length, 2, "tried again once the memory expired");
});

for (const via of ["app-server", "auto"] as const) {
  Deno.test(`supervisor (${via}): a turn cancelled while the app-server starts ends the starting process`, async () => {
    await using s = await setup({ initialize: "silent" }); // it would wait 10 s for initialize
    const backend = via === "app-server" ? s.backend : new AutoBackend({
      appServer: s.backend,
      health: s.backend.supervisor,
      exec: new ExecBackend(s.config, s.log),
      log: s.log,
      clock: s.clock,
    });
    const ac = new AbortController();
    const running = backend.runTurn(request(s.ws, ac.signal).req);
    let pid = 0;
    const deadline = performance.now() + 20_000;
    while (!pid && performance.now() < deadline) {
      pid = (await s.fake.starts())[0]?.pid ?? 0;
      if (!pid) await delay(20);
    }
    assert.ok(pid, "the app-server was started");
    ac.abort();
    assert.equal((await running).stop_reason, "cancelled");
    await until(() => !isAlive(pid), 5_000, "the starting app-server to end");
    assert.equal(s.backend.supervisor.pid, undefined);
  });
}

Deno.test("supervisor: acquire with a signal already aborted starts nothing", async () => {
  await using s = await setup({});
  const sup: AppServerSupervisor = s.backend.supervisor;
  const ac = new AbortController();
  ac.abort();
  assert.equal(await sup.acquire(ac.signal), undefined);
  assert.deepEqual(await s.fake.starts(), []);
});
