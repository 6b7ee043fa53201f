/**
 * Issue 11 point 2, "never let two writers touch one thread", between our
 * turns: codex 0.135.0 has no writer lock, so a turn another process runs on
 * the thread while this plugin's app-server holds it must not be silently
 * left out of the app-server's next turn (0.169.0 refuses the other writer
 * instead). The fix (lib/codex/app_server/thread.ts, backend.ts) reloads
 * the thread in a new app-server when its rollout file shows another
 * writer's turn; it must never fire after the plugin's own turns, however
 * they ended. Unit cases of the rollout check come first.
 *
 * @module
 */
import assert from "node:assert/strict";
import { foreignTurn, markOf, markThread, staleLoaded } from "../lib/codex/app_server/thread.ts";
import type { AppServerProcess } from "../lib/codex/app_server/process.ts";
import { lockWorkspace } from "../lib/turns/scheduler.ts";
import { AppServerBackend } from "../lib/codex/app_server/backend.ts";
import { DEFAULTS } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { readThreadId, SESSION_FILE } from "../lib/codex/session.ts";
import { installFakeAppServer } from "./support/fake_app_server.ts";
import { isAlive, until } from "./support/proc.ts";
import { APP_SERVER_VERSIONS, appServers, pluginOn, waitUntil } from "./support/app_server.ts";
import { turnLog } from "./support/logs.ts";
import { chat, chatParams, closePlugin, startRig } from "./support/rig.ts";
import type { Plugin } from "../dev/plugin.ts";

const line = (type: string, turnId?: string) =>
  JSON.stringify({ type: "event_msg", payload: { type, ...(turnId && { turn_id: turnId }) } }) +
  "\n";

Deno.test("rollout check: our own appended turns, lines without a turn, a half-written line: no other writer", async () => {
  const dir = await Deno.makeTempDir();
  const f = `${dir}/rollout.jsonl`;
  try {
    await Deno.writeTextFile(f, line("task_started", "t1") + line("task_complete", "t1"));
    const mark = await markOf(f);
    assert.equal(await foreignTurn(f, mark, new Set(["t1"])), undefined, "unchanged");
    await Deno.writeTextFile(f, line("task_started", "t2") + line("token_count") + '{"payl', {
      append: true,
    });
    assert.equal(await foreignTurn(f, mark, new Set(["t1", "t2"])), undefined);
    // No file yet (a thread whose first turn wrote nothing), and still none.
    assert.equal(
      await foreignTurn(`${dir}/none`, await markOf(`${dir}/none`), new Set()),
      undefined,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rollout check: another turn id appended, the file shrunk, replaced, gone or created: another writer", async () => {
  const dir = await Deno.makeTempDir();
  const f = `${dir}/rollout.jsonl`;
  try {
    await Deno.writeTextFile(f, line("task_started", "t1"));
    const mark = await markOf(f);
    const ours = new Set(["t1"]);
    await Deno.writeTextFile(f, line("task_started", "other"), { append: true });
    assert.match(String(await foreignTurn(f, mark, ours)), /turn other appended/);
    await Deno.writeTextFile(`${f}.new`, line("task_started", "t1"));
    await Deno.rename(`${f}.new`, f);
    assert.match(String(await foreignTurn(f, mark, ours)), /replaced/);
    const m2 = await markOf(f);
    await Deno.truncate(f, 3);
    assert.match(String(await foreignTurn(f, m2, ours)), /shrank/);
    await Deno.remove(f);
    assert.match(String(await foreignTurn(f, m2, ours)), /gone/);
    const none = await markOf(f);
    await Deno.writeTextFile(f, line("task_started", "other"));
    assert.match(String(await foreignTurn(f, none, ours)), /turn other/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rollout check: the workspace's last rollout file is stat'ed while the session file is read, not after", async () => {
  const ws = await Deno.makeTempDir();
  const f = `${ws}/rollout.jsonl`;
  const thread = "0199a0b1-0000-7000-8000-0000000000f1";
  const { open, stat } = Deno;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const stated: string[] = [];
  try {
    await Deno.writeTextFile(f, line("task_started", "t1"));
    await Deno.writeTextFile(`${ws}/${SESSION_FILE}`, thread);
    const conn = { proc: {} as AppServerProcess, loaded: new Map() };
    conn.loaded.set(thread, { path: f, ours: new Set(["t1"]) });
    markThread(conn, thread, ws); // our turn there ended
    await conn.loaded.get(thread).mark;
    // The session file's open waits at the gate; every stat is recorded.
    Object.assign(Deno, {
      open: (path: string | URL, o?: Deno.OpenOptions) =>
        String(path).endsWith(SESSION_FILE) ? gate.then(() => open(path, o)) : open(path, o),
      stat: (path: string | URL) => (stated.push(String(path)), stat(path)),
    });
    const stale = staleLoaded(conn, { workspace: ws, reset: false });
    await until(() => stated.includes(f), 10_000, "the rollout stat before the session read ends");
    release();
    assert.equal(await stale, undefined, "our own turn only");
  } finally {
    Object.assign(Deno, { open, stat });
    release();
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("workspace lock: a turn cancelled before it got the lock gives it back", async () => {
  const ws = await Deno.makeTempDir();
  try {
    const ac = new AbortController();
    ac.abort(new Error("cancelled"));
    await assert.rejects(lockWorkspace(ws, ac.signal), /cancelled/);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      lockWorkspace(ws),
      new Promise<"stuck">((r) => (timer = setTimeout(() => r("stuck"), 2000))),
    ]);
    clearTimeout(timer);
    assert.notEqual(next, "stuck", "the next turn gets the lock");
    (next as { release(): void } | undefined)?.release();
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

/**
 * In process, on the fake app-server: the stale process is retired while another workspace's
 * turn runs on it. Lock-free Codex (0.135.0): the stale thread's turn runs at once on a new
 * process, the other turn ends normally on the old one, which is then stopped. Codex with writer
 * locks (0.169.0): the new process waits for the old one's exit.
 */
for (const version of ["0.135.0", "0.169.0"]) {
  Deno.test(`app-server backend (fake ${version}): a stale thread moves to a new process; the old one ends its turns first`, async () => {
    await using fake = await installFakeAppServer({ rollout: true, version });
    const logs: string[] = [];
    const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
    const backend = new AppServerBackend({
      config: { ...DEFAULTS, binary: fake.binary, backend: "app-server" },
      log,
      clientVersion: "test",
      initializeTimeoutMs: 20_000,
    });
    const root = await Deno.makeTempDir();
    try {
      const [ws1, ws2] = [`${root}/ws1`, `${root}/ws2`];
      await Deno.mkdir(ws1);
      await Deno.mkdir(ws2);
      const run = (ws: string) =>
        backend.runTurn({
          workspace: ws,
          prompt: "hi",
          model: "codex",
          reset: false,
          signal: new AbortController().signal,
          emit: () => {},
        });
      for (const ws of [ws1, ws2]) assert.equal((await run(ws)).stop_reason, "end_turn");
      const old = backend.supervisor.pid!;
      await fake.setPlan({ rollout: true, version, deltas: ["a", "b", "c"], deltaDelayMs: 400 });
      let longDone = 0;
      const long = run(ws1).then((r) => (longDone = performance.now(), r));
      await new Promise((r) => setTimeout(r, 150)); // ws1's turn runs on the old process
      await fake.setPlan({ rollout: true, version });
      // Another writer's turn on ws2's thread.
      const thread2 = (await readThreadId(ws2))!;
      await Deno.writeTextFile(
        `${fake.dir}/rollout-${thread2}.jsonl`,
        line("task_started", "someone-else"),
        { append: true },
      );
      const r2 = await run(ws2);
      const stale2Done = performance.now();
      assert.equal(r2.stop_reason, "end_turn");
      assert.equal(r2.thread_id, thread2, "the thread is kept");
      assert.notEqual(backend.supervisor.pid, old, "a new process");
      assert.equal((await long).stop_reason, "end_turn", "the old process ended its turn");
      if (version === "0.135.0") assert.ok(stale2Done < longDone, "no wait for the old process");
      else assert.ok(longDone < stale2Done, "the new process waited for the old one's exit");
      await waitUntil(() => !isAlive(old), "the old process is stopped", 10_000);
      const warns = logs.filter((l) => RELOAD.test(l));
      assert.equal(warns.length, 1, logs.join("\n"));
      assert.match(warns[0], /someone-else/);
      // The new process loaded the thread again (thread/resume), and it is not checked again.
      const resumed = (await fake.received()).filter((r) =>
        r.pid === backend.supervisor.pid && r.msg.method === "thread/resume"
      );
      assert.equal(resumed.length, 1);
      assert.equal((await run(ws2)).stop_reason, "end_turn");
      assert.equal(logs.filter((l) => RELOAD.test(l)).length, 1);
    } finally {
      await backend.close();
      await Deno.remove(root, { recursive: true });
    }
  });
}

const RELOAD = /another process wrote the workspace's thread/;

/** The pids of the plugin's app-server processes (npm's node wrapper and the native binary). */
const servers = (p: Plugin) => appServers(p.child.pid).map((s) => s.pid).sort().join(",");

for (const v of APP_SERVER_VERSIONS) {
  Deno.test(`app-server ${v}: another process's turn on the held thread is never silently forked away`, async () => {
    await using rig = await startRig([{ text: "A1 answer" }, { text: "B answer" }, {
      text: "A3 answer",
    }]);
    const ws = await rig.workspace();
    const a = await pluginOn(rig, v, "app-server", { app_server_idle_s: 600 });
    const r1 = await chat(a, ws, "A-ONE");
    assert.equal(r1.response.result.stop_reason, "end_turn", a.stderr());
    const before = servers(a);
    const b = await pluginOn(rig, v, "exec");
    const r2 = await chat(b, ws, "B-TWO");
    await closePlugin(b);
    const r3 = await chat(a, ws, "A-THREE");
    assert.equal(r3.response.result.stop_reason, "end_turn", a.stderr());
    assert.equal(r3.response.result.thread_id, r1.response.result.thread_id);
    const log = await turnLog(a, r3.turnId); // everything A logged up to its third turn's end
    if (r2.response.result.stop_reason === "end_turn") {
      // B wrote to the thread: A's next turn must carry it, and A's own history.
      const sent = JSON.stringify(rig.api.requests.at(-1));
      for (const s of ["A-ONE", "A1 answer", "B-TWO", "B answer", "A-THREE"]) {
        assert.ok(sent.includes(s), `A's turn carries ${s}`);
      }
      assert.match(log, RELOAD, "the reload is logged");
      // The stale app-server was stopped; one new one serves.
      await waitUntil(
        () => servers(a) !== "" && !servers(a).split(",").some((p) => before.includes(p)),
        "the old app-server is gone",
        10_000,
      );
    } else {
      // B was refused: one clear error, and the thread kept.
      assert.equal(r2.errors.length, 1, JSON.stringify(r2.events));
      assert.match(String(r2.errors[0].message), /active writer|in use by another/);
      assert.doesNotMatch(log, RELOAD);
      assert.equal(servers(a), before);
    }
  });

  Deno.test(`app-server ${v}: the plugin's own turns (completed, failed, cancelled, timed out) never reload the thread`, async () => {
    await using rig = await startRig([{ text: "first" }]);
    const ws = await rig.workspace();
    const a = await pluginOn(rig, v, "app-server", { app_server_idle_s: 600, idle_timeout_s: 2 });
    const first = await chat(a, ws, "one");
    assert.equal(first.response.result.stop_reason, "end_turn", a.stderr());
    const pids = servers(a);
    rig.api.setScript([{ status: 400, body: "bad request" }]);
    const failed = await chat(a, ws, "fail");
    assert.equal(failed.response.result.stop_reason, "error");
    assert.equal(failed.errors.length, 1);
    // Cancelled mid-stream, then cancelled as soon as it was sent (before turn/start is answered,
    // or at least early: whichever window it hits, no reload).
    for (const waitForDelta of [true, false]) {
      rig.api.setScript([{ text: "x".repeat(400), chunks: 80, delayMs: 100 }]);
      const params = chatParams(ws, "long");
      const turnId = params.turn_id as string;
      const id = await a.send("chat", params);
      if (waitForDelta) {
        await waitUntil(() => a.eventsOf(turnId).some((e) => e.type === "text_delta"), "a delta");
      }
      await a.request("cancel", { turn_id: turnId });
      const r = await a.waitFor((m) => m.id === id && !("method" in m), 30_000);
      assert.equal(r.result.stop_reason, "cancelled");
    }
    rig.api.setScript([{ hang: true }]);
    const timedOut = await chat(a, ws, "hang", {}, 30_000);
    assert.equal(timedOut.response.result.stop_reason, "error");
    assert.equal(timedOut.errors[0]?.code, "timeout");
    rig.api.setScript([{ text: "two" }, { text: "three" }]);
    let last = "";
    for (const p of ["two", "three"]) {
      const r = await chat(a, ws, p);
      assert.equal(r.response.result.stop_reason, "end_turn", a.stderr());
      assert.equal(r.response.result.thread_id, first.response.result.thread_id);
      last = r.turnId;
    }
    const log = await turnLog(a, last);
    assert.doesNotMatch(log, RELOAD);
    if (servers(a) !== pids) {
      // Under heavy load an interrupt may miss its grace period: that restart is not a reload.
      assert.match(log, /stopped answering/, `only a wedged app-server is replaced:\n${log}`);
    }
  });
}
