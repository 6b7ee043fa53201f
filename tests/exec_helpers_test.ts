/**
 * Issue 19, point 7: on exec, no helper of the plugin (codex's process group,
 * the watchdog beside each run) can hold a turn by stopping or dying. A run
 * stopped with SIGSTOP still ends by its idle timeout and by a cancel within a
 * bounded grace; a watchdog killed mid-turn neither delays the answer nor
 * leaves processes; a codex killed by a signal is said to be, not explained by
 * a harmless start-up warning it printed.
 *
 * A faulty codex (tests/support/faulty_codex.ts) plays each run; the real
 * codex where its own output matters.
 */
import assert from "node:assert/strict";
import { installFaultyCodex, type Step } from "./support/faulty_codex.ts";
import { waitForLog } from "./support/logs.ts";
import { chatParams, closePlugin, outcome, startRig } from "./support/rig.ts";
import { descendants, isAlive, pidsInDir, until } from "./support/proc.ts";
import type { Plugin } from "../dev/plugin.ts";

const EXEC = { backend: "exec" } as const;
const THREAD = "0199a0b1-0000-7000-8000-00000000a719";
const line = (v: unknown): Step => ({ line: JSON.stringify(v) });
const started: Step[] = [
  line({ type: "thread.started", thread_id: THREAD }),
  line({ type: "turn.started" }),
];
const answer = (text: string): Step[] => [
  line({ type: "item.completed", item: { id: "m1", type: "agent_message", text } }),
  line({
    type: "turn.completed",
    usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1 },
  }),
];
/** What codex 0.169 prints on stderr at start-up when it cannot link its helpers (harmless). */
const PATH_WARNING =
  "WARNING: proceeding, even though we could not create PATH aliases: Permission denied (os error 13)";

/** The plugin's watchdogs (`sh -c … plexum-codex-watchdog`). */
function watchdogs(plugin: Plugin): number[] {
  return descendants(plugin.child.pid).filter((s) => {
    try {
      return Deno.readTextFileSync(`/proc/${s.pid}/cmdline`).includes("plexum-codex-watchdog");
    } catch {
      return false;
    }
  }).map((s) => s.pid);
}

/** Send `sig` to each pid (and to its group when `group`), ignoring those gone. */
function send(pids: number[], sig: Deno.Signal, group = false) {
  for (const pid of pids) {
    try {
      Deno.kill(group ? -pid : pid, sig);
    } catch { /* gone */ }
  }
}

/** Close the plugin's stdin: it must exit 0 within `ms` (SIGKILL after that, and fail). */
async function exitsWithin(p: Plugin, ms: number) {
  const t0 = performance.now();
  await closePlugin(p, ms);
  const status = await p.child.status;
  const took = performance.now() - t0;
  assert.equal(status.code, 0, `the plugin exited ${JSON.stringify(status)} after ${took} ms`);
  return took;
}

/** Start a turn on a faulty codex; resolves once codex runs (with its watchdog). */
async function runningTurn(steps: Step[], config: Record<string, unknown> = {}) {
  const fake = await installFaultyCodex({ steps, sleeper: true });
  const rig = await startRig();
  const ws = await rig.workspace();
  const p = await rig.plugin({ ...EXEC, binary: fake.binary, ...config });
  const params = chatParams(ws, "go");
  const id = await p.send("chat", params);
  const calls = () => {
    try {
      return Deno.readTextFileSync(`${fake.dir}/calls.jsonl`).split("\n").filter(Boolean);
    } catch {
      return [];
    }
  };
  await until(() => calls().length === 1, 30_000, "codex to start");
  const codex = JSON.parse(calls()[0]).pid as number;
  await until(() => watchdogs(p).length === 1, 10_000, "the run's watchdog");
  const dogs = watchdogs(p);
  const turn = params.turn_id as string;
  const response = async (timeoutMs: number) => {
    const t0 = performance.now();
    const m = await p.waitFor((m) => m.id === id && !("method" in m), timeoutMs);
    return outcome(p, turn, m, performance.now() - t0);
  };
  return {
    p,
    ws,
    codex,
    dogs,
    turn,
    response,
    async [Symbol.asyncDispose]() {
      send([codex, ...dogs], "SIGKILL", true);
      send(dogs, "SIGKILL");
      await closePlugin(p);
      await rig[Symbol.asyncDispose]();
      await fake[Symbol.asyncDispose]();
    },
  };
}

Deno.test("a stopped run (SIGSTOP on codex's group and the watchdog) still ends by the idle timeout: one timeout error, nothing left", async () => {
  await using t = await runningTurn([...started, { hang: true }], { idle_timeout_s: 2 });
  const inWs = pidsInDir(t.ws);
  send([t.codex], "SIGSTOP", true);
  send(t.dogs, "SIGSTOP");
  const r = await t.response(15_000);
  assert.equal(r.response.result.stop_reason, "error", JSON.stringify(r.response));
  assert.deepEqual(r.errors.map((e) => e.code), ["timeout"]);
  assert.ok(r.ms < 8_000, `answered ${Math.round(r.ms)} ms after the stop`);
  await until(
    () => [...inWs, ...t.dogs].every((pid) => !isAlive(pid)),
    8_000,
    "run and watchdog gone",
  );
  assert.deepEqual(pidsInDir(t.ws), []);
  const exit = await exitsWithin(t.p, 8_000); // the stopped watchdog does not hold its exit
  console.log(
    `stopped run: timeout answered after ${Math.round(r.ms)} ms, plugin exited in ` +
      `${Math.round(exit)} ms; ${r.errors[0].message}`,
  );
});

Deno.test("a stopped run (SIGSTOP on codex's group and the watchdog) is cancelled within seconds, nothing left", async () => {
  await using t = await runningTurn([...started, { hang: true }]);
  const inWs = pidsInDir(t.ws);
  send([t.codex], "SIGSTOP", true);
  send(t.dogs, "SIGSTOP");
  const t0 = performance.now();
  const c = await t.p.request("cancel", { turn_id: t.turn });
  assert.deepEqual(c.result, { cancelled: true });
  const r = await t.response(15_000);
  const ms = performance.now() - t0;
  assert.equal(r.response.result.stop_reason, "cancelled", JSON.stringify(r.response));
  assert.ok(ms < 6_000, `answered ${Math.round(ms)} ms after the cancel`);
  await until(
    () => [...inWs, ...t.dogs].every((pid) => !isAlive(pid)),
    8_000,
    "run and watchdog gone",
  );
  assert.deepEqual(pidsInDir(t.ws), []);
  const exit = await exitsWithin(t.p, 8_000);
  console.log(
    `stopped run: cancel answered after ${Math.round(ms)} ms, exit in ${Math.round(exit)} ms`,
  );
});

Deno.test("the watchdog killed mid-turn: the answer comes as soon as codex ends, no process is left", async () => {
  await using t = await runningTurn([...started, { sleepMs: 1500 }, ...answer("still here")]);
  const inWs = pidsInDir(t.ws);
  send(t.dogs, "SIGKILL");
  const r = await t.response(20_000);
  assert.equal(r.response.result.stop_reason, "end_turn", JSON.stringify(r.events));
  assert.equal(r.text, "still here");
  assert.ok(r.ms < 5_000, `answered ${Math.round(r.ms)} ms after the watchdog's death`);
  await until(() => [...inWs, ...t.dogs].every((pid) => !isAlive(pid)), 5_000, "nothing left");
  assert.deepEqual(watchdogs(t.p), []);
  console.log(`watchdog killed: answered after ${Math.round(r.ms)} ms`);
});

Deno.test("the watchdog holds none of codex's pipes and none of the plugin's environment", async () => {
  await using t = await runningTurn([...started, { hang: true }]);
  const fds = [...Deno.readDirSync(`/proc/${t.dogs[0]}/fd`)].map((e) => {
    try {
      return `${e.name} -> ${Deno.readLinkSync(`/proc/${t.dogs[0]}/fd/${e.name}`)}`;
    } catch {
      return `${e.name} -> gone`;
    }
  });
  const codexPipes = new Set<string>();
  for (const fd of ["1", "2"]) codexPipes.add(Deno.readLinkSync(`/proc/${t.codex}/fd/${fd}`));
  for (const f of fds) {
    const target = f.split(" -> ")[1];
    assert.ok(!codexPipes.has(target), `the watchdog holds codex's ${target}: ${fds}`);
  }
  const env = Deno.readTextFileSync(`/proc/${t.dogs[0]}/environ`).split("\0").filter(Boolean);
  assert.deepEqual(env.map((e) => e.split("=")[0]).sort(), ["PATH", "PLEXUM_WATCH_RUN"]);
});

Deno.test("codex killed by SIGKILL: the error says so first, not a harmless start-up warning", async () => {
  await using t = await runningTurn([{ stderr: PATH_WARNING }, ...started, { hang: true }]);
  send([t.codex], "SIGKILL");
  const r = await t.response(15_000);
  assert.deepEqual(r.errors.map((e) => e.code), ["codex_exit"]);
  const msg = r.errors[0].message as string;
  assert.match(msg, /^codex was killed by SIGKILL/);
  assert.doesNotMatch(msg, /PATH aliases/);
  console.log(`killed codex: ${msg}`);
});

Deno.test("a process that escaped the run and writes to codex's stderr forever does not hold the answer", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chatty-orphan-" });
  const binary = `${dir}/codex`;
  const lines = [...started, ...answer("answered")].map((s) => (s as { line: string }).line);
  // The orphan leaves codex's session and drops its environment (and the run's marker); started
  // from a subshell that exits at once, it is never codex's child when the plugin looks (CI saw a
  // look that caught it as one, and the sweep ended it before it could hold the pipe).
  await Deno.writeTextFile(
    binary,
    "#!/bin/sh\ncat >/dev/null\n" +
      `(env -i "$(command -v setsid)" /bin/sh -c 'while :; do echo chatter >&2; sleep 0.2; done' &)\n` +
      "sleep 0.3\n" +
      lines.map((l) => `printf '%s\\n' '${l}'\n`).join("") + "exit 0\n",
    { mode: 0o755 },
  );
  await using rig = await startRig();
  const ws = await rig.workspace();
  const p = await rig.plugin({ ...EXEC, binary });
  try {
    const params = chatParams(ws, "go");
    const t0 = performance.now();
    const id = await p.send("chat", params);
    const m = await p.waitFor((m) => m.id === id && !("method" in m), 60_000);
    const r = outcome(p, params.turn_id as string, m, performance.now() - t0);
    assert.equal(r.response.result.stop_reason, "end_turn", JSON.stringify(r.events));
    assert.equal(r.text, "answered");
    assert.ok(r.ms < 30_000, `answered after ${Math.round(r.ms)} ms`);
    await waitForLog(p, /keeps its output open; stopped reading it/);
    console.log(`chatty orphan: answered after ${Math.round(r.ms)} ms`);
  } finally {
    send(pidsInDir(ws), "SIGKILL");
    await closePlugin(p);
    await Deno.remove(dir, { recursive: true });
  }
});
