/**
 * Issue 13, point 1: a plugin that dies hard (SIGKILL: no handler runs) must
 * not leave Codex running, since a Codex left behind keeps its thread ("already
 * has an active writer") and every later turn on the workspace fails. The
 * watchdog beside each run ends it within seconds; should the watchdog die
 * too, the run record lets the next turn (in another plugin process) end it
 * and resume the same thread. A thread held by a live writer elsewhere is a
 * clear error and never replaced. SIGHUP ends the plugin like SIGTERM.
 *
 * Real codex against the mock API, whose second reply never finishes (the
 * issue's repro).
 */
import assert from "node:assert/strict";
import { waitForLog } from "./support/logs.ts";
import { chat, chatParams, closePlugin, startRig } from "./support/rig.ts";
import { descendants, isAlive, pidsInDir, until } from "./support/proc.ts";

/** These faults are the exec backend's: one codex process per turn, in the workspace. */
const EXEC = { backend: "exec" };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The plugin's watchdog processes (`sh -c … plexum-codex-watchdog`). */
function watchdogs(pluginPid: number): number[] {
  return descendants(pluginPid).filter((s) => {
    try {
      return Deno.readTextFileSync(`/proc/${s.pid}/cmdline`).includes("plexum-codex-watchdog");
    } catch {
      return false;
    }
  }).map((s) => s.pid);
}

/** One turn, then a turn the mock never answers; resolves once codex is waiting on it. */
async function hangingTurn(killWatchdog: boolean) {
  const rig = await startRig([{ text: "first" }, { hang: true }, { text: "after" }]);
  const ws = await rig.workspace();
  const a = await rig.plugin(EXEC);
  const first = await chat(a, ws, "one");
  assert.equal(first.response.result?.stop_reason, "end_turn", a.stderr());
  await a.send("chat", chatParams(ws, "this reply never ends"));
  await until(() => rig.api.requests.length === 2, 60_000, "codex to make the second request");
  await sleep(1000);
  const codex = pidsInDir(ws);
  assert.ok(codex.length >= 1, "codex runs in the workspace");
  const dogs = watchdogs(a.child.pid);
  assert.equal(dogs.length, 1, "one watchdog for the running turn");
  if (killWatchdog) Deno.kill(dogs[0], "SIGKILL");
  Deno.kill(a.child.pid, "SIGKILL");
  await a.child.status;
  return { rig, ws, codex, thread: first.response.result.thread_id as string };
}

Deno.test("a plugin killed with SIGKILL mid-turn: its codex ends by itself within seconds, and a new plugin resumes the thread", async () => {
  const { rig, ws, codex, thread } = await hangingTurn(false);
  await using _ = rig;
  const t0 = performance.now();
  await until(() => codex.every((pid) => !isAlive(pid)), 20_000, "codex to end without its plugin");
  const ms = performance.now() - t0;
  assert.deepEqual(pidsInDir(ws), [], "nothing left in the workspace");
  const b = await rig.plugin(EXEC);
  const r = await chat(b, ws, "still there?");
  assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r.events) + b.stderr());
  assert.equal(r.text, "after");
  assert.equal(r.response.result.thread_id, thread, "the same thread was resumed");
  console.log(`codex (${codex.length} processes) gone ${Math.round(ms)} ms after the SIGKILL`);
});

Deno.test("a plugin and its watchdog both killed: the next turn, in another plugin, ends what they left and resumes the thread", async () => {
  const { rig, ws, codex, thread } = await hangingTurn(true);
  await using _ = rig;
  await sleep(4000); // longer than the watchdog would have taken
  assert.ok(codex.some(isAlive), "without its watchdog, codex outlives its plugin");
  const b = await rig.plugin(EXEC);
  const r = await chat(b, ws, "still there?");
  assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r.events) + b.stderr());
  assert.equal(r.text, "after");
  assert.equal(r.response.result.thread_id, thread, "the same thread was resumed");
  assert.ok(codex.every((pid) => !isAlive(pid)), "the dead plugin's codex was ended");
  await waitForLog(b, /ended codex processes a plugin that died left running/);
});

Deno.test("a thread held by a live codex outside the plugin: a clear codex_exit error, the thread is kept", async () => {
  await using rig = await startRig([{ text: "first" }, { hang: true }, { text: "never" }]);
  const ws = await rig.workspace();
  const p = await rig.plugin(EXEC);
  const first = await chat(p, ws, "one");
  const thread = first.response.result.thread_id as string;
  // Someone resumes the thread by hand and leaves it waiting on the model.
  const other = new Deno.Command(rig.codex, {
    args: ["exec", "--skip-git-repo-check", "--json", ...rig.args, "resume", thread, "-"],
    cwd: ws,
    clearEnv: true,
    env: rig.env,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    detached: true,
  }).spawn();
  try {
    const w = other.stdin.getWriter();
    await w.write(new TextEncoder().encode("hold the thread"));
    await w.close();
    const err = new Response(other.stderr).text();
    await until(() => rig.api.requests.length === 2, 60_000, "the other codex to reach the mock")
      .catch(async (e) => {
        Deno.kill(-other.pid, "SIGKILL");
        throw new Error(`${e.message}: ${await err}`);
      });
    const r = await chat(p, ws, "two");
    assert.equal(r.response.result?.stop_reason, "error", JSON.stringify(r.events));
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].code, "codex_exit");
    assert.match(r.errors[0].message, /is in use by another live Codex process/);
    assert.match(r.errors[0].message, /active writer/);
    assert.equal(r.response.result.thread_id, thread);
    assert.equal(rig.api.requests.length, 2, "no new thread was started instead");
    assert.equal(
      (await Deno.readTextFile(`${ws}/.plexum-codex-session`)).trim(),
      thread,
      "the session still names the thread",
    );
    console.log(`live writer elsewhere: ${r.errors[0].message}`);
  } finally {
    try {
      Deno.kill(-other.pid, "SIGKILL");
    } catch { /* gone */ }
    await other.status;
  }
});

Deno.test("SIGHUP to the plugin mid-turn: the turn is answered cancelled, codex reaped, exit 0", async () => {
  await using rig = await startRig([{ hang: true }]);
  const ws = await rig.workspace();
  const p = await rig.plugin(EXEC);
  const params = chatParams(ws, "wait");
  const id = await p.send("chat", params);
  await until(() => rig.api.requests.length === 1, 60_000, "codex to reach the mock");
  const codex = pidsInDir(ws);
  Deno.kill(p.child.pid, "SIGHUP");
  const status = await p.child.status;
  assert.equal(status.code, 0, p.stderr());
  await waitForLog(p, /reason=SIGHUP/);
  const response = await p.waitFor((m) => m.id === id && !("method" in m), 5_000);
  assert.equal(response.result?.stop_reason, "cancelled");
  await until(() => codex.every((pid) => !isAlive(pid)), 5_000, "codex to be gone");
  await closePlugin(p);
});
