/**
 * AppServerBackend in process against the REAL `codex app-server` of 0.135.0
 * and 0.169.0 on the mock API: a streamed turn (one text_delta per model
 * delta, the same text and usage as ExecBackend gives for the same mock
 * turn), a thread moving exec → app-server → exec with the usage baseline
 * shared, and a cancel answered within 2 s with the thread going on.
 * (The plugin-level end-to-end battery is tests/app_server_e2e*_test.ts.)
 *
 * Codex inherits this process's environment, which other test files share
 * (they run in parallel), so the config `binary` is a `sh` wrapper that sets
 * `HOME`, `CODEX_HOME` and `MOCK_KEY` to this test's own and execs Codex.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";
import { AppServerBackend } from "../lib/codex/app_server/backend.ts";
import { ExecBackend } from "../lib/codex/exec/driver.ts";
import { readThreadId } from "../lib/codex/session.ts";
import { type Config, DEFAULTS } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import type { Backend, PlexumEvent, TurnResult } from "../lib/turns/backend.ts";
import { userTexts } from "./support/rig.ts";

const VERSIONS = ["0.135.0", "0.169.0"];

/** A mock, a temp HOME/CODEX_HOME (set by a wrapper around Codex), both backends. */
async function realSetup(version: string, script: MockReply[]) {
  const root = await Deno.makeTempDir({ prefix: "app-server-smoke-" });
  await Deno.mkdir(`${root}/home`);
  await Deno.mkdir(`${root}/codex-home`);
  const api = startMockApi(script);
  const setup = mockCodexSetup(api.baseUrl, `${root}/codex-home`);
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const sets = Object.entries({ ...setup.env, HOME: `${root}/home` })
    .map(([k, v]) => `${k}=${q(v)}`).join(" ");
  const binary = `${root}/codex`;
  await Deno.writeTextFile(
    binary,
    `#!/bin/sh\nexport ${sets}\nexec ${q(await ensureCodex(version))} "$@"\n`,
  );
  await Deno.chmod(binary, 0o755);
  const logs: string[] = [];
  const log = createLogger({ level: "info", write: (l) => logs.push(l) });
  const config: Config = {
    ...DEFAULTS,
    binary,
    extra_args: setup.args,
    idle_timeout_s: 120,
  };
  const appServer = new AppServerBackend({ config, log, clientVersion: "smoke" });
  const exec = new ExecBackend(config, log);
  let n = 0;
  return {
    api,
    logs,
    appServer,
    exec,
    async workspace() {
      const ws = `${root}/ws${n++}`;
      await Deno.mkdir(ws);
      return ws;
    },
    async [Symbol.asyncDispose]() {
      await appServer.close();
      await api.close();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

interface Run {
  result: TurnResult;
  events: PlexumEvent[];
  late: PlexumEvent[];
}

async function turn(
  backend: Backend,
  workspace: string,
  prompt: string,
  signal?: AbortSignal,
): Promise<Run> {
  const events: PlexumEvent[] = [];
  const late: PlexumEvent[] = [];
  let done = false;
  const result = await backend.runTurn({
    workspace,
    prompt,
    model: "codex",
    reset: false,
    signal: signal ?? new AbortController().signal,
    emit: (ev) => (done ? late : events).push(ev),
  });
  done = true;
  return { result, events, late };
}

const deltas = (r: Run) =>
  r.events.filter((e) => e.type === "text_delta").map((e) => (e as { text: string }).text);

for (const v of VERSIONS) {
  Deno.test(`real app-server ${v}: a streamed turn, the same text and usage as exec`, async () => {
    const reply: MockReply = { text: "one two three four", chunks: 4 };
    await using s = await realSetup(v, [reply]);
    const r = await turn(s.appServer, await s.workspace(), "count to four");
    assert.equal(r.result.stop_reason, "end_turn", s.logs.join(""));
    assert.equal(deltas(r).length, 4, "one text_delta per model delta");
    assert.equal(deltas(r).join(""), "one two three four");
    assert.deepEqual(r.events.filter((e) => e.type === "error"), []);

    s.api.setScript([reply]);
    const e = await turn(s.exec, await s.workspace(), "count to four");
    assert.equal(e.result.stop_reason, "end_turn", s.logs.join(""));
    assert.equal(deltas(e).join(""), deltas(r).join(""));
    assert.ok(r.result.usage);
    assert.deepEqual(r.result.usage, e.result.usage, "the same usage as exec");
  });

  Deno.test(`real app-server ${v}: a thread moves exec → app-server → exec, usage per turn`, async () => {
    await using s = await realSetup(v, [
      { text: "The word is ORCHID." },
      { text: "ORCHID it was." },
      { text: "Still ORCHID." },
    ]);
    const ws = await s.workspace();
    const first = await turn(s.exec, ws, "Remember ORCHID.");
    assert.equal(first.result.stop_reason, "end_turn", s.logs.join(""));
    const thread = first.result.thread_id;
    assert.ok(thread);

    const second = await turn(s.appServer, ws, "Which word?");
    assert.equal(second.result.stop_reason, "end_turn", JSON.stringify(second.events));
    assert.equal(second.result.thread_id, thread, "the app-server resumed exec's thread");
    assert.deepEqual(userTexts(s.api.requests[1]).slice(-2), ["Remember ORCHID.", "Which word?"]);
    assert.deepEqual(
      second.result.usage,
      first.result.usage,
      "one request's usage, not the thread's",
    );

    await s.appServer.supervisor.stop(); // codex ≥ 0.169 holds the thread until the app-server exits
    const third = await turn(s.exec, ws, "And now?");
    assert.equal(third.result.stop_reason, "end_turn", s.logs.join(""));
    assert.equal(third.result.thread_id, thread);
    assert.ok(JSON.stringify(s.api.requests[2]).includes("ORCHID it was."));
    assert.deepEqual(third.result.usage, first.result.usage);
    assert.equal(await readThreadId(ws), thread);
  });

  Deno.test(`real app-server ${v}: cancel mid-turn answers within 2 s; the thread goes on`, async () => {
    await using s = await realSetup(v, [{ hang: true }, { text: "Back again." }]);
    const ws = await s.workspace();
    const ac = new AbortController();
    let cancelledAt = 0;
    const running = turn(s.appServer, ws, "Take your time.", ac.signal);
    const deadline = performance.now() + 60_000;
    while (s.api.requests.length === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(s.api.requests.length, 1, "the turn reached the model");
    const pid = s.appServer.supervisor.pid;
    cancelledAt = performance.now();
    ac.abort();
    const r = await running;
    const ms = performance.now() - cancelledAt;
    assert.equal(r.result.stop_reason, "cancelled");
    assert.ok(ms < 2000, `answered ${Math.round(ms)} ms after the cancel`);
    assert.deepEqual(r.events.filter((e) => e.type === "error"), []);
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(r.late, []);

    const next = await turn(s.appServer, ws, "Still there?");
    assert.equal(next.result.stop_reason, "end_turn", s.logs.join(""));
    assert.equal(deltas(next).join(""), "Back again.");
    assert.equal(next.result.thread_id, r.result.thread_id);
    assert.equal(
      s.appServer.supervisor.pid,
      pid,
      "Codex confirmed the interrupt: the same process",
    );
  });
}

for (const v of VERSIONS) {
  Deno.test(`real app-server ${v}: command turns one after another all run (what the app-server keeps between turns is kept)`, async () => {
    const via = v === "0.135.0" ? "function" : "code"; // 0.169 runs tools through its code-mode host
    await using s = await realSetup(v, [
      { shell: "echo one > one.txt", via },
      { text: "did one" },
      { shell: "echo two > two.txt", via },
      { text: "did two" },
    ]);
    const ws = await s.workspace();
    const first = await turn(s.appServer, ws, "write one");
    assert.equal(first.result.stop_reason, "end_turn", s.logs.join(""));
    await new Promise((r) => setTimeout(r, 2000)); // room for the idle-time reaping
    const second = await turn(s.appServer, ws, "write two");
    assert.equal(second.result.stop_reason, "end_turn", s.logs.join(""));
    assert.equal(await Deno.readTextFile(`${ws}/one.txt`), "one\n");
    assert.equal(
      await Deno.readTextFile(`${ws}/two.txt`),
      "two\n",
      "the second turn's command ran",
    );
  });
}
