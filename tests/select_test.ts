/**
 * `auto` (lib/codex/select.ts) against scripted stand-ins: it knows the
 * app-server only through its Health (ready or why not; stand down), so a
 * fake Health, two recording backends and a FakeClock pin its rules without
 * a process or a wait. The same rules against a real scripted app-server:
 * tests/app_server_backend_test.ts ("select: …").
 */
import assert from "node:assert/strict";
import { FakeClock } from "../dev/fake_clock.ts";
import type { Health, Readiness } from "../lib/codex/app_server/launch.ts";
import { AutoBackend, RETRY_APP_SERVER_MS } from "../lib/codex/select.ts";
import { createLogger } from "../lib/log.ts";
import type { Backend, TurnRequest, TurnResult } from "../lib/turns/backend.ts";

/** A backend that records the turns it ran. */
function recording(name: string): Backend & { runs: number } {
  return {
    runs: 0,
    runTurn(): Promise<TurnResult> {
      this.runs++;
      return Promise.resolve({ stop_reason: "end_turn", thread_id: name, usage: null });
    },
    close: () => Promise.resolve(),
  };
}

/** A Health answering `answers` in turn (the last one repeated), counting stand-downs. */
function scripted(...answers: Readiness[]): Health & { asked: number; stoodDown: number } {
  return {
    asked: 0,
    stoodDown: 0,
    ready() {
      return Promise.resolve(answers[Math.min(this.asked++, answers.length - 1)]);
    },
    standDown() {
      this.stoodDown++;
      return Promise.resolve();
    },
  };
}

function setup(health: Health) {
  const clock = new FakeClock();
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const appServer = recording("app-server");
  const exec = recording("exec");
  const auto = new AutoBackend({ appServer, health, exec, log, clock });
  return { clock, logs, appServer, exec, auto };
}

const req = (signal = new AbortController().signal): TurnRequest => ({
  workspace: "/nowhere",
  prompt: "hi",
  model: "codex",
  reset: false,
  signal,
  emit() {},
});

const unusable: Readiness = { state: "unusable", why: "it keeps exiting", notFound: false };

Deno.test("auto: an unusable app-server is stood down once, turns use exec until the retry delay, then it is asked again", async () => {
  const health = scripted(unusable, { state: "ready" });
  const s = setup(health);
  assert.equal((await s.auto.runTurn(req())).thread_id, "exec");
  assert.equal(health.stoodDown, 1, "stood down: the retry starts with a clean slate");
  await s.clock.tick(RETRY_APP_SERVER_MS - 1);
  assert.equal((await s.auto.runTurn(req())).thread_id, "exec");
  assert.equal(health.asked, 1, "not asked again before the retry delay");
  assert.equal(s.auto.current, "exec");
  await s.clock.tick(1);
  assert.equal((await s.auto.runTurn(req())).thread_id, "app-server");
  assert.equal(health.asked, 2);
  const warns = s.logs.filter((l) => l.includes(" WARN ") && l.includes("turns use codex exec"));
  assert.equal(warns.length, 1);
  assert.match(warns[0], /it keeps exiting/);
  assert.ok(s.logs.some((l) => l.includes("works again")));
});

Deno.test("auto: a missing codex binary is exec's to report, each turn, without switching", async () => {
  const health = scripted({ state: "unusable", why: "not found", notFound: true });
  const s = setup(health);
  await s.auto.runTurn(req());
  await s.auto.runTurn(req());
  assert.equal(s.exec.runs, 2);
  assert.equal(health.asked, 2, "asked each turn: no retry delay");
  assert.equal(health.stoodDown, 0);
  assert.equal(s.auto.current, "app-server");
});

Deno.test("auto: a turn cancelled while the app-server gets ready is cancelled, on neither backend", async () => {
  const s = setup(scripted({ state: "cancelled" }));
  const r = await s.auto.runTurn(req());
  assert.equal(r.stop_reason, "cancelled");
  assert.equal(s.appServer.runs + s.exec.runs, 0);
});
