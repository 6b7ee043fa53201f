/**
 * Faults the plugin meets running unattended for weeks: Codex killed, silent
 * or hung, garbage on Codex's stdout, one enormous line, an unwritable or odd
 * session file, a workspace deleted, the host vanishing, signals, and two
 * plugin processes sharing one workspace.
 *
 * Every case drives main.ts as a subprocess (dev/plugin.ts, the
 * compiled binary's permission flags). Codex is the REAL CLI against the mock
 * API, except where the fault is Codex's own output (garbage, a 64 MiB line,
 * silence): there tests/support/faulty_codex.ts stands in for it.
 */
import assert from "node:assert/strict";
import { KILL_GRACE_MS } from "../lib/codex/exec/process.ts";
import { installFaultyCodex, type Step } from "./support/faulty_codex.ts";
import { appServers, codexPids, leftBehind } from "./support/app_server.ts";
import { type Msg, pluginArgs, testBackend } from "../dev/plugin.ts";
import { ProtocolChecker } from "../dev/protocol_check.ts";
import { turnLog, waitForLog } from "./support/logs.ts";
import { bytesRead, descendants, isAlive, memory, mib, pidsInDir, until } from "./support/proc.ts";
import { chat, chatParams, closePlugin, outcome, startRig, userTexts } from "./support/rig.ts";

const THREAD = "0199a0b1-0000-7000-8000-00000000f417";
/**
 * The faulty codex prints `codex exec --json` lines only, so the plugins that
 * run it pin the exec backend (under `auto` they would first wait for an
 * app-server that never answers).
 */
const FAULTY = { backend: "exec" } as const;
const line = (v: unknown): Step => ({ line: JSON.stringify(v) });
const started: Step[] = [
  line({ type: "thread.started", thread_id: THREAD }),
  line({
    type: "turn.started",
  }),
];
const message = (text: string): Step =>
  line({ type: "item.completed", item: { id: `m${text.length}`, type: "agent_message", text } });
const completed: Step = line({
  type: "turn.completed",
  usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 2 },
});

/**
 * Codex processes (pids) working in `ws` right now, and `plugin`'s app-server
 * when it runs one (tests/support/app_server.ts codexPids), collected into `seen`.
 */
function collect(ws: string, seen: Set<number>, plugin?: number): number[] {
  const now = plugin === undefined ? pidsInDir(ws) : codexPids(plugin, ws);
  for (const pid of now) seen.add(pid);
  return now;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every 20 ms, add the processes working in `ws` to `seen`, until `done()`. */
async function watch(ws: string, seen: Set<number>, done: () => boolean): Promise<void> {
  while (!done()) {
    collect(ws, seen);
    await sleep(20);
  }
}

/**
 * Wait (at most 300 ms) until none of `pids` is alive; returns how long it took. SIGKILL is
 * sent before the plugin answers or exits, but dying takes the kernel a moment.
 */
function allGone(pids: Iterable<number>): Promise<number> {
  const list = [...pids];
  return until(() => list.every((pid) => !isAlive(pid)), 300, `pids ${list} to be gone`, 5);
}

for (const target of ["group leader (node wrapper)", "native codex"] as const) {
  Deno.test(`SIGKILL to the ${target} mid-stream gives exactly one codex_exit error; the next turn succeeds`, async () => {
    await using rig = await startRig([{ text: "never fully streamed", chunks: 40, delayMs: 150 }]);
    const ws = await rig.workspace();
    const p = await rig.plugin();
    const params = chatParams(ws, "stream slowly please");
    const id = await p.send("chat", params);
    await until(() => rig.api.requests.length === 1, 60_000, "codex to call the mock");
    await sleep(300); // the response is streaming now
    const procs = descendants(p.child.pid);
    const victim = target === "native codex"
      ? procs.find((s) => s.comm === "codex")
      : procs.find((s) => s.ppid === p.child.pid);
    assert.ok(victim, `a ${target} process: ${JSON.stringify(procs)}`);
    Deno.kill(victim.pid, "SIGKILL");
    const response = await p.waitFor((m) => m.id === id && !("method" in m));
    const r = outcome(p, params.turn_id as string, response, 0);
    assert.equal(r.response.result.stop_reason, "error");
    assert.equal(r.errors.length, 1, JSON.stringify(r.events));
    assert.equal(r.errors[0].code, "codex_exit");
    // The signal is the cause, not the start-up warning codex printed (issue 19, point 7).
    assert.match(r.errors[0].message, /killed by SIGKILL/);
    assert.doesNotMatch(r.errors[0].message, /PATH aliases/);
    console.log(`killed ${victim.comm} ${victim.pid}; error: ${r.errors[0].message}`);
    await until(() => procs.every((s) => !isAlive(s.pid)), 10_000, "the killed group to be gone");
    assert.deepEqual(pidsInDir(ws), []);

    rig.api.setScript([{ text: "back in business" }]);
    const next = await chat(p, ws, "are you still there?");
    assert.equal(next.response.result.stop_reason, "end_turn", JSON.stringify(next.events));
    assert.equal(next.text, "back in business");
    assert.deepEqual(next.errors, []);
  });
}

Deno.test("a silent codex is ended by the idle timeout: timeout error, its whole group is gone", async (t) => {
  for (const ignoreTerm of [false, true]) {
    await t.step(
      ignoreTerm ? "codex ignoring SIGTERM gets SIGKILL" : "codex obeying SIGTERM",
      async () => {
        await using fake = await installFaultyCodex({
          steps: [...started, { hang: true }],
          sleeper: true,
          escapee: true,
          ignoreTerm,
        });
        await using rig = await startRig();
        const ws = await rig.workspace();
        const p = await rig.plugin({ ...FAULTY, binary: fake.binary, idle_timeout_s: 1 });
        const seen = new Set<number>();
        const params = chatParams(ws, "say nothing");
        const t0 = performance.now();
        const id = await p.send("chat", params);
        const watcher = watch(ws, seen, () => p.messages.some((m) => m.id === id));
        const response = await p.waitFor((m) => m.id === id && !("method" in m));
        const r = outcome(p, params.turn_id as string, response, performance.now() - t0);
        await watcher;
        assert.equal(r.response.result.stop_reason, "error");
        assert.deepEqual(r.errors.map((e) => e.code), ["timeout"]);
        const calls = await fake.calls();
        assert.equal(calls.length, 1);
        assert.ok(seen.has(calls[0].pid), "the fake was seen running in the workspace");
        assert.ok(seen.size >= 3, `fake, its sleep and its setsid sleep were seen: ${[...seen]}`);
        const gone = await allGone(seen);
        assert.deepEqual(pidsInDir(ws), []);
        await waitForLog(p, /idle timeout/);
        console.log(
          `ignoreTerm=${ignoreTerm}: answered after ${Math.round(r.ms)} ms; ${seen.size} ` +
            `processes, all gone ${Math.round(gone)} ms after the answer; ${r.errors[0].message}`,
        );
      },
    );
  }
});

Deno.test("an orphan that left codex's session is still found by the run's marker and ended", async () => {
  await using fake = await installFaultyCodex({
    steps: [...started, message("done anyway"), completed],
    orphanHoldingPipes: true,
  });
  await using rig = await startRig();
  const ws = await rig.workspace();
  const p = await rig.plugin({ ...FAULTY, binary: fake.binary });
  const r = await chat(p, ws, "leave something behind");
  assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
  assert.equal(r.text, "done anyway");
  assert.doesNotMatch(await turnLog(p, r.turnId), / WARN /);
  // Answered before the pipes' quiet grace period: the orphan was killed, not waited out.
  assert.ok(r.ms < KILL_GRACE_MS, `answered in ${r.ms} ms`);
  await until(() => pidsInDir(ws).length === 0, 2_000, "the orphan to be gone");
  console.log(`orphan with the marker: answered in ${Math.round(r.ms)} ms, nothing left`);
});

Deno.test("an orphan that also dropped its environment, holding codex's pipes, does not hang the turn: answered, one warning", async () => {
  await using fake = await installFaultyCodex({
    steps: [...started, message("done anyway"), completed],
    orphanHoldingPipes: "clean-env",
  });
  await using rig = await startRig();
  const ws = await rig.workspace();
  const p = await rig.plugin({ ...FAULTY, binary: fake.binary });
  try {
    const r = await chat(p, ws, "leave something behind");
    assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
    assert.equal(r.text, "done anyway");
    const log = await turnLog(p, r.turnId);
    const warnings = log.split("\n").filter((l) => / WARN /.test(l));
    assert.equal(warnings.length, 1, log);
    assert.match(warnings[0], /keeps its output open; stopped reading it/);
    assert.ok(r.ms < 20_000, `answered in ${r.ms} ms`);
    console.log(`orphan without the marker: answered in ${Math.round(r.ms)} ms`);
  } finally {
    // Nothing ties this orphan to codex any more, so the plugin cannot find it: we can.
    for (const pid of pidsInDir(ws)) Deno.kill(pid, "SIGKILL");
  }
});

Deno.test("the mock never finishing its response (real codex) ends in timeout with no orphan", async () => {
  await using rig = await startRig([{ hang: true }]);
  const ws = await rig.workspace();
  const p = await rig.plugin({ idle_timeout_s: 2 });
  const seen = new Set<number>();
  const params = chatParams(ws, "this answer never ends");
  const t0 = performance.now();
  const id = await p.send("chat", params);
  const watcher = watch(ws, seen, () => p.messages.some((m) => m.id === id));
  const response = await p.waitFor((m) => m.id === id && !("method" in m));
  const ms = performance.now() - t0;
  await watcher;
  const r = outcome(p, params.turn_id as string, response, ms);
  assert.equal(rig.api.requests.length, 1, "codex reached the mock, which then hung");
  assert.equal(r.response.result.stop_reason, "error");
  assert.deepEqual(r.errors.map((e) => e.code), ["timeout"]);
  // exec runs in the workspace; the app-server (which outlives the turn) does not.
  assert.ok(seen.size > 0 || appServers(p.child.pid).length > 0, "codex was seen running");
  const gone = await allGone(seen);
  assert.deepEqual(pidsInDir(ws), [], "no process left working in the workspace");
  // The exec backend's watchdog and leftover sweep settle just after the answer: wait, bounded.
  await until(() => leftBehind(p.child.pid).length === 0, 10_000, "the plugin has no child left");
  console.log(
    `hung response: timeout answered after ${Math.round(ms)} ms; ${seen.size} processes ` +
      `codex started, all gone ${Math.round(gone)} ms after the answer`,
  );
});

Deno.test("garbage and truncated JSON from codex are logged and skipped; invalid UTF-8 is passed on with U+FFFD; valid text arrives", async () => {
  const bad: Step[] = [
    { line: "this is not json at all" },
    { line: '{"type":"item.completed","item":{"id":"x","type":"agent_mess' },
    { bytes: [0xff, 0xfe, 0x7b, 0x7d] },
    {
      bytes: [
        ...new TextEncoder().encode(
          '{"type":"item.completed","item":{"id":"u","type":"agent_message","text":"bad ',
        ),
        0xc3,
        0x28,
        0x22,
        0x7d,
        0x7d,
      ],
    },
    { line: "[1,2,3]" },
    { line: "null" },
    { line: '"a string"' },
    { stderr: "codex: some noise on stderr" },
  ];
  await using fake = await installFaultyCodex({
    steps: [...started, ...bad.slice(0, 4), message("valid text"), ...bad.slice(4), completed],
  });
  await using rig = await startRig();
  const ws = await rig.workspace();
  const p = await rig.plugin({ ...FAULTY, binary: fake.binary });
  const r = await chat(p, ws, "print garbage");
  assert.equal(r.response.result.stop_reason, "end_turn", JSON.stringify(r.events));
  // The message with a bad byte is not lost: U+FFFD stands in for it (issue 13).
  assert.equal(r.text, "bad \uFFFD(\n\nvalid text");
  assert.deepEqual(r.errors, []);
  assert.equal(r.response.result.thread_id, THREAD);
  const log = await turnLog(p, r.turnId);
  const skipped = log.split("\n").filter((l) => l.includes("skipped a line from codex"));
  assert.equal(skipped.length, 6, log);
  const replaced = log.split("\n").filter((l) => l.includes("invalid UTF-8; passed on"));
  assert.equal(replaced.length, 2, log);
  assert.ok(!p.messages.some((m) => "__not_json" in m), "stdout stayed pure protocol");
});

for (const emitActivity of [false, true]) {
  Deno.test(`a 64 MiB JSONL line is parsed and the turn succeeds (emit_activity ${emitActivity})`, async () => {
    const size = 64 * 1024 * 1024;
    await using fake = await installFaultyCodex({
      steps: [
        ...started,
        { hugeOutput: size },
        message("after the big one"),
        completed,
      ],
    });
    await using rig = await startRig();
    const ws = await rig.workspace();
    const p = await rig.plugin({ ...FAULTY, binary: fake.binary, emit_activity: emitActivity });
    const before = memory(p.child.pid);
    const r = await chat(p, ws, "print a lot");
    const after = memory(p.child.pid);
    assert.equal(r.response.result.stop_reason, "end_turn", p.stderr().slice(-2000));
    assert.equal(r.text, "after the big one");
    assert.deepEqual(r.errors, []);
    const activity = r.events.filter((e) => e.type === "activity");
    if (emitActivity) {
      assert.equal(activity.length, 1);
      assert.equal(activity[0].item.aggregated_output.length, 4096);
      assert.equal(activity[0].item.output_truncated, true);
    } else assert.deepEqual(activity, []);
    assert.doesNotMatch(await turnLog(p, r.turnId), /too long|not a JSON object/);
    console.log(
      `64 MiB line, emit_activity=${emitActivity}: turn ${Math.round(r.ms)} ms; plugin RSS ` +
        `${mib(before.rssKiB)} before, ${mib(after.rssKiB)} after; peak (VmHWM) ${
          mib(after.hwmKiB)
        }`,
    );
    assert.ok(after.hwmKiB < 1024 * 1024, "peak RSS stays under 1 GiB");
  });
}

/**
 * Running as root, a 0555 directory is still writable (CAP_DAC_OVERRIDE). So
 * the plugin is started through `setpriv` without CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH: still uid 0 (it can read its own root-owned files),
 * but mode bits now apply to it exactly as to a service user that does not
 * own the workspace. As a normal user, chmod alone does it.
 */
function withoutDacOverride(): string[] {
  if (Deno.uid() !== 0) return [];
  const caps = "-dac_override,-dac_read_search";
  return ["setpriv", `--inh-caps=${caps}`, `--bounding-set=${caps}`, "--"];
}

Deno.test("an unwritable session file: the answer arrives, one warning per turn, the next turn starts a new thread", async () => {
  await using rig = await startRig([{ text: "first answer" }, { text: "second answer" }]);
  const ws = await rig.workspace();
  await Deno.chmod(ws, 0o555);
  try {
    const p = await rig.plugin({}, { wrap: withoutDacOverride() });
    /** The WARN lines logged up to the end of turn `turnId`. */
    const warnings = async (turnId: string) =>
      (await turnLog(p, turnId)).split("\n").filter((l) => / WARN /.test(l));

    const r1 = await chat(p, ws, "remember the word PELICAN");
    assert.equal(r1.response.result.stop_reason, "end_turn", p.stderr());
    assert.equal(r1.text, "first answer");
    assert.deepEqual(r1.errors, []);
    const w1 = await warnings(r1.turnId);
    assert.equal(w1.length, 1, p.stderr());
    assert.match(w1[0], /could not save the codex thread id/);

    const r2 = await chat(p, ws, "which word?");
    assert.equal(r2.response.result.stop_reason, "end_turn", p.stderr());
    assert.equal(r2.text, "second answer");
    assert.notEqual(r2.response.result.thread_id, r1.response.result.thread_id, "a new thread");
    const history = userTexts(rig.api.requests[1]).join("\n");
    assert.ok(!history.includes("PELICAN"), "turn 2 carries no history of turn 1");
    const w2 = await warnings(r2.turnId);
    assert.equal(w2.length, 2, p.stderr());
    assert.deepEqual([...Deno.readDirSync(ws)], [], "nothing was written to the workspace");
    console.log(
      `read-only workspace (wrap: ${withoutDacOverride().join(" ") || "none"}): ` +
        `warnings:\n  ${w2.join("\n  ")}`,
    );
  } finally {
    await Deno.chmod(ws, 0o755);
  }
});

Deno.test("an odd .plexum-codex-session (symlink, directory, empty, fifo, 10 MB) is never followed or read: a new thread starts", async (t) => {
  await using rig = await startRig([{ text: "fresh answer" }]);
  const p = await rig.plugin();
  // A real thread with a secret history: if the plugin ever resumed it, codex would send that history.
  const home = await rig.workspace("home-ws"); // not "home": the rig's HOME is root/home
  const first = await chat(p, home, "the secret is HISTORY-OF-HOME");
  const secret = first.response.result.thread_id as string;
  assert.match(secret, /^[0-9a-f-]{36}$/);
  const outside = `${rig.root}/outside-session`;
  await Deno.writeTextFile(outside, `${secret}\n`);

  const cases: Record<string, (file: string) => Promise<void>> = {
    "symlink to a file outside the workspace": (f) => Deno.symlink(outside, f),
    "directory": async (f) => {
      await Deno.mkdir(f);
      await Deno.writeTextFile(`${f}/${secret}`, `${secret}\n`);
    },
    "empty file": (f) => Deno.writeTextFile(f, ""),
    "fifo": async (f) => {
      const r = await new Deno.Command("mkfifo", { args: [f] }).output();
      assert.ok(r.success);
    },
    "10 MB file whose trimmed text is the thread id": (f) =>
      Deno.writeTextFile(f, `${secret}\n${" ".repeat(10 * 1024 * 1024)}\n`),
  };
  for (const [name, make] of Object.entries(cases)) {
    await t.step(name, async () => {
      // Control: the same turn in a plain workspace. rchar counts what the plugin
      // read plus what its reaped children (codex) read, so compare the two.
      const plain = await rig.workspace();
      let readBefore = bytesRead(p.child.pid);
      assert.equal((await chat(p, plain, "hello again")).text, "fresh answer");
      const control = bytesRead(p.child.pid) - readBefore;
      const ws = await rig.workspace();
      const file = `${ws}/.plexum-codex-session`;
      await make(file);
      readBefore = bytesRead(p.child.pid);
      const n = rig.api.requests.length;
      const r = await chat(p, ws, "hello again");
      const read = bytesRead(p.child.pid) - readBefore;
      assert.equal(r.response.result.stop_reason, "end_turn", JSON.stringify(r.events));
      assert.equal(r.text, "fresh answer");
      assert.notEqual(r.response.result.thread_id, secret, "the outside thread was not resumed");
      assert.equal(rig.api.requests.length, n + 1, "one request: no failed resume first");
      const sent = userTexts(rig.api.requests[n]).join("\n");
      assert.ok(!sent.includes("HISTORY-OF-HOME"), "no history of the other thread");
      assert.equal(await Deno.readTextFile(outside), `${secret}\n`, "outside file untouched");
      const extra = read - control;
      assert.ok(extra < 4 * 1024 * 1024, `the turn read ${extra} bytes more than the control`);
      console.log(`${name}: new thread; plugin+codex read ${read} bytes (control: ${control})`);
    });
  }
  const models = await p.request("models");
  assert.deepEqual(models.result, { models: ["codex"] }, "plugin still serving");
});

Deno.test("a workspace deleted between turns gets -32602 naming agent.workspace; the plugin stays up", async () => {
  await using rig = await startRig([{ text: "hi" }]);
  const ws = await rig.workspace();
  const p = await rig.plugin();
  assert.equal((await chat(p, ws, "one")).response.result.stop_reason, "end_turn");
  await Deno.remove(ws, { recursive: true });
  const r = await chat(p, ws, "two");
  assert.equal(r.response.error?.code, -32602, JSON.stringify(r.response));
  assert.match(r.response.error.message, /agent\.workspace/);
  assert.deepEqual(r.response.error.data.errors.map((e: { field: string }) => e.field), [
    "agent.workspace",
  ]);
  const other = await rig.workspace();
  assert.equal((await chat(p, other, "three")).text, "hi");
});

/** Spawn the plugin with our own pipes, to close them at will; `env` is complete (rig.env). */
function spawnRaw(env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: pluginArgs(),
    clearEnv: true,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const enc = new TextEncoder();
  const protocol = new ProtocolChecker(); // every reply must match the protocol's JSON Schema
  return {
    child,
    stderr,
    writer,
    reader,
    send: (msg: unknown) => {
      protocol.sent(JSON.stringify(msg));
      return writer.write(enc.encode(JSON.stringify(msg) + "\n"));
    },
    async next(): Promise<Msg> {
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const l = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const m = JSON.parse(l);
          const bad = protocol.received(m);
          if (bad) throw new Error(bad);
          return m;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("stdout ended");
        buf += value;
      }
    },
  };
}

Deno.test("the host vanishing mid-turn: the plugin cancels its turns, reaps codex and exits", async (t) => {
  for (const how of ["stdout closed (EPIPE on the next event)", "stdin and stdout closed"]) {
    await t.step(how, async () => {
      await using rig = await startRig([{ shell: "sleep 120", via: "function" }, { text: "done" }]);
      const ws = await rig.workspace();
      const raw = spawnRaw(rig.env);
      await raw.send({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: {
          protocol_version: 1,
          config: {
            ...testBackend(),
            binary: rig.codex,
            extra_args: rig.args,
            emit_activity: true,
          },
        },
      });
      assert.ok((await raw.next()).result);
      await raw.send({ jsonrpc: "2.0", id: 2, method: "chat", params: chatParams(ws, "run it") });
      const seen = new Set<number>();
      await until(
        () => rig.api.requests.length >= 1 && collect(ws, seen, raw.child.pid).length > 0,
        60_000,
        "codex",
      );
      await raw.reader.cancel(); // the host stops reading: the pipe's read end closes
      if (how.startsWith("stdin")) await raw.writer.close();
      const t0 = performance.now();
      const watcher = watch(ws, seen, () => !isAlive(raw.child.pid));
      const timer = setTimeout(() => raw.child.kill("SIGKILL"), 60_000);
      const status = await raw.child.status;
      clearTimeout(timer);
      await watcher;
      const ms = performance.now() - t0;
      await raw.writer.close().catch(() => {});
      const stderr = await raw.stderr;
      assert.equal(status.code, 0, stderr);
      assert.match(
        stderr,
        how.startsWith("stdin") ? /reason="stdin closed"/ : /reason="stdout closed"/,
      );
      assert.ok(seen.size >= 2, `codex and its command were seen: ${[...seen]}`);
      const gone = await allGone(seen);
      assert.deepEqual(pidsInDir(ws), []);
      console.log(
        `${how}: plugin exited ${Math.round(ms)} ms later; ${seen.size} processes codex ` +
          `started, all gone ${Math.round(gone)} ms after the exit`,
      );
    });
  }
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} to the plugin mid-turn: the turn is answered cancelled, codex reaped, exit 0 within seconds`, async () => {
    await using rig = await startRig([{ text: "slow answer", chunks: 60, delayMs: 200 }]);
    const ws = await rig.workspace();
    const p = await rig.plugin();
    const params = chatParams(ws, "take your time");
    const id = await p.send("chat", params);
    const seen = new Set<number>();
    await until(
      () => rig.api.requests.length === 1 && collect(ws, seen, p.child.pid).length > 0,
      60_000,
      "codex",
    );
    const t0 = performance.now();
    Deno.kill(p.child.pid, signal);
    const status = await p.child.status;
    const ms = performance.now() - t0;
    assert.equal(status.code, 0, p.stderr());
    // Written before the exit; our reader may not have taken it in yet.
    const response = await p.waitFor((m) => m.id === id && !("method" in m), 5_000);
    assert.equal(response?.result?.stop_reason, "cancelled", JSON.stringify(p.messages));
    const gone = await allGone(seen);
    assert.deepEqual(pidsInDir(ws), []);
    assert.ok(ms < 10_000, `exited in ${ms} ms`);
    console.log(
      `${signal}: plugin exited ${Math.round(ms)} ms after the signal; ${seen.size} processes ` +
        `codex started, all gone ${Math.round(gone)} ms after the exit`,
    );
    await closePlugin(p);
  });
}

Deno.test("two plugin processes on one workspace: turns never overlap, the session file is never torn, all answers arrive", async () => {
  const tagOf = (body: Record<string, unknown>) =>
    /TAG-(\w+)/.exec(userTexts(body).at(-1) ?? "")?.[1];
  await using rig = await startRig([{ text: "untagged" }], {
    reply: (body) => ({ text: `answer to ${tagOf(body)}`, chunks: 4, delayMs: 100 }),
  });
  const ws = await rig.workspace();
  // Exec only: on the app-server, Codex >= 0.169 refuses a second writer while the first
  // plugin's app-server holds the thread (tests/app_server_e2e_process_test.ts pins that).
  const [a, b] = await Promise.all([
    rig.plugin({ backend: "exec" }),
    rig.plugin({ backend: "exec" }),
  ]);
  const file = `${ws}/.plexum-codex-session`;
  const contents = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      try {
        const text = await Deno.readTextFile(file);
        contents.set(text, (contents.get(text) ?? 0) + 1);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      await sleep(2);
    }
  })();
  const turns = [a, b].flatMap((p, i) => [0, 1, 2].map((j) => ({ p, tag: `p${i}t${j}` })));
  const results = await Promise.all(turns.map(({ p, tag }) => chat(p, ws, `TAG-${tag}`)));
  polling = false;
  await poller;
  for (const [i, r] of results.entries()) {
    assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r.response));
    assert.equal(r.text, `answer to ${turns[i].tag}`);
  }
  const spans = rig.api.timings.map((s) => [s.start, s.end!]).sort((x, y) => x[0] - y[0]);
  assert.equal(spans.length, 6);
  for (let i = 1; i < spans.length; i++) {
    assert.ok(spans[i][0] >= spans[i - 1][1], `request ${i} started after request ${i - 1} ended`);
  }
  for (const text of contents.keys()) {
    assert.match(text, /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\n$/);
  }
  const reads = [...contents.values()].reduce((x, y) => x + y, 0);
  const gaps = spans.slice(1).map((s, i) => Math.round(s[0] - spans[i][1]));
  console.log(
    `6 turns from 2 plugins: gaps between mock responses ${gaps.join(", ")} ms; ` +
      `${reads} reads of the session file, ${contents.size} distinct value(s), none torn`,
  );
});
