/**
 * The `codex app-server` backend's process end to end, on the real Codex CLI
 * releases (see the version matrix below) against the mock Responses API (issue 11, points 2, 6,
 * 7, 10 and the choice of backend):
 *
 * - the app-server killed mid-turn: one error per turn in flight, the next
 *   turn starts a new app-server and resumes the same thread;
 * - a thread another writer holds (0.169 locks threads): one clear error,
 *   the session file unchanged; idle exit releases the thread;
 * - nothing left running after shutdown, stdin EOF, SIGTERM, or SIGKILL of
 *   the plugin (the app-server exits on its stdin EOF), nor after a turn
 *   cancelled while its command runs;
 * - 20 workspaces at once in one app-server, no crosstalk;
 * - server→client requests answered at once, and a wedged app-server (one
 *   that never answers `turn/interrupt`) replaced after a cancel or an idle
 *   timeout: a fake app-server (tests/support/fake_app_server.ts) plays both,
 *   since real Codex sends no request under the plugin's policy and always
 *   confirms an interrupt;
 * - `codex_not_found` from the app-server backend as from exec;
 * - `auto` falling back to exec when the app-server does not start, and on
 *   an exec-only `extra_args`; `backend: "app-server"` refusing that config.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { pluginArgs } from "../dev/plugin.ts";
import { readThreadId, SESSION_FILE } from "../lib/codex/session.ts";
import {
  APP_SERVER_VERSIONS,
  appServers,
  cmdline,
  execRuns,
  pluginOn,
  sleep,
  waitUntil,
} from "./support/app_server.ts";
import { installFakeAppServer } from "./support/fake_app_server.ts";
import { EDGE_VERSIONS, NEUTRAL_VERSIONS } from "./support/backends.ts";
import { turnLog, waitForLog } from "./support/logs.ts";
import { descendants, isAlive, pidsInDir } from "./support/proc.ts";
import { chat, chatParams, closePlugin, outcome, startRig, userTexts } from "./support/rig.ts";

/** The mock's reply echoes the tag of the last user text, so each answer proves whose it is. */
const tagOf = (body: Record<string, unknown>) =>
  /TAG-([\w-]+)/.exec(userTexts(body).at(-1) ?? "")?.[1];

/** Wait until every pid in `pids` is gone; fail listing the survivors. */
async function allGone(pids: number[], what: string, timeoutMs = 15_000): Promise<void> {
  await waitUntil(() => pids.every((pid) => !isAlive(pid)), what, timeoutMs).catch(() => {
    const left = pids.filter(isAlive).map((pid) => `${pid} ${cmdline(pid).join(" ")}`);
    throw new Error(`${what}: still running:\n${left.join("\n")}`);
  });
}

// How a release's app-server ends, resumes and runs commands runs on the oldest and the newest
// (EDGE_VERSIONS); many workspaces at once and the fallback to exec, which the plugin decides,
// on one (NEUTRAL_VERSIONS; the load test runs the others). Thread locks: every release.
for (const v of APP_SERVER_VERSIONS) {
  if (EDGE_VERSIONS.includes(v)) {
    Deno.test(`app-server ${v}: killed mid-turn: one error per turn in flight; the next turn resumes the same thread`, async () => {
      await using rig = await startRig([{ text: "untagged" }], {
        reply: (body) => {
          const tag = tagOf(body);
          return tag?.startsWith("slow")
            ? { text: `slow answer to ${tag}`, chunks: 60, delayMs: 150 }
            : { text: `answer to ${tag}` };
        },
      });
      const [w1, w2] = [await rig.workspace(), await rig.workspace()];
      const p = await pluginOn(rig, v, "app-server");
      const threads: string[] = [];
      for (const ws of [w1, w2]) {
        const r = await chat(p, ws, "TAG-start");
        assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
        threads.push(r.response.result.thread_id);
      }
      const servers = appServers(p.child.pid);
      assert.ok(
        servers.length >= 1,
        `an app-server runs: ${JSON.stringify(descendants(p.child.pid))}`,
      );
      const turns = [w1, w2].map((ws, i) => chatParams(ws, `TAG-slow${i}`));
      const ids = await Promise.all(turns.map((t) => p.send("chat", t)));
      await waitUntil(
        () =>
          turns.every((t) => p.eventsOf(t.turn_id as string).some((e) => e.type === "text_delta")),
        "both turns to stream",
      );
      for (const s of servers) Deno.kill(s.pid, "SIGKILL");
      for (const [i, t] of turns.entries()) {
        const response = await p.waitFor((m) => m.id === ids[i] && !("method" in m));
        const r = outcome(p, t.turn_id as string, response, 0);
        assert.equal(r.response.result.stop_reason, "error", JSON.stringify(r.response));
        assert.equal(r.errors.length, 1, JSON.stringify(r.events));
        assert.equal(r.errors[0].code, "codex_exit");
        assert.match(r.errors[0].message, /killed by SIGKILL/);
        // Its start-up notices are not quoted as if they were the cause.
        assert.doesNotMatch(r.errors[0].message, /bubblewrap/);
        console.log(`${v}: turn ${i} after the kill: ${r.errors[0].message}`);
      }
      await allGone(servers.map((s) => s.pid), "the killed app-server");
      for (const [i, ws] of [w1, w2].entries()) {
        const next = await chat(p, ws, `TAG-after${i}`);
        assert.equal(next.response.result.stop_reason, "end_turn", p.stderr());
        assert.equal(next.text, `answer to after${i}`);
        assert.equal(next.response.result.thread_id, threads[i], "the same thread");
        assert.equal(await readThreadId(ws), threads[i]);
      }
      const now = appServers(p.child.pid);
      assert.ok(now.length >= 1 && now.every((s) => !servers.some((o) => o.pid === s.pid)));
    });
  }

  for (const end of ["shutdown", "stdin EOF", "SIGTERM", "SIGKILL"] as const) {
    if (EDGE_VERSIONS.includes(v)) {
      Deno.test(`app-server ${v}: nothing of the plugin survives its ${end}`, async () => {
        await using rig = await startRig([
          { text: "warm" },
          { shell: "sleep 120", via: "function" },
          { text: "done" },
        ]);
        const ws = await rig.workspace();
        const p = await pluginOn(rig, v, "app-server");
        assert.equal((await chat(p, ws, "warm up")).response.result.stop_reason, "end_turn");
        let id: string | number | undefined;
        if (end !== "SIGKILL") {
          // A turn running a command: its shell must not outlive the plugin either.
          id = await p.send("chat", chatParams(ws, "run it"));
          await waitUntil(
            () => descendants(p.child.pid).some((s) => cmdline(s.pid).includes("120")),
            "the command to run",
          );
        }
        const procs = descendants(p.child.pid);
        const servers = appServers(p.child.pid).map((s) => s.pid);
        assert.ok(servers.length >= 1, JSON.stringify(procs));
        if (end === "shutdown") {
          const r = await p.request("shutdown", {});
          assert.deepEqual(r.result, {});
        } else if (end === "stdin EOF") {
          await p.close();
        } else Deno.kill(p.child.pid, end);
        const status = await p.child.status;
        if (end !== "SIGKILL") {
          assert.equal(status.code, 0, p.stderr());
          const response = await p.waitFor((m) => m.id === id && !("method" in m), 5_000);
          assert.equal(response.result?.stop_reason, "cancelled", JSON.stringify(response));
        }
        await allGone(procs.map((s) => s.pid), `every process of the plugin after its ${end}`);
        console.log(
          `${v} ${end}: ${procs.length} processes (${servers.length} app-server) all gone: ` +
            procs.map((s) => s.comm).join(", "),
        );
      });
    }
  }

  if (NEUTRAL_VERSIONS.includes(v)) {
    Deno.test(`app-server ${v}: 20 workspaces at once in one app-server, every answer to its own turn`, async () => {
      await using rig = await startRig([{ text: "untagged" }], {
        reply: (body) => ({ text: `answer to ${tagOf(body)}`, chunks: 3, delayMs: 50 }),
      });
      const p = await pluginOn(rig, v, "app-server");
      const wss: string[] = [];
      for (let i = 0; i < 20; i++) wss.push(await rig.workspace());
      const maxServers = { n: 0 };
      let running = true;
      const watcher = (async () => {
        while (running) {
          maxServers.n = Math.max(maxServers.n, appServers(p.child.pid).length);
          assert.deepEqual(execRuns(p.child.pid), [], "no codex exec ran");
          await sleep(50);
        }
      })();
      for (const round of [0, 1]) {
        const rs = await Promise.all(wss.map((ws, i) => chat(p, ws, `TAG-w${i}r${round}`)));
        for (const [i, r] of rs.entries()) {
          assert.equal(r.response.result.stop_reason, "end_turn", p.stderr().slice(-3000));
          assert.equal(r.text, `answer to w${i}r${round}`);
          assert.deepEqual(r.errors, []);
          assert.equal(await readThreadId(wss[i]), r.response.result.thread_id);
        }
        const threads = new Set(rs.map((r) => r.response.result.thread_id));
        assert.equal(threads.size, 20, "one thread per workspace");
      }
      running = false;
      await watcher;
      // npm's node wrapper and the native binary: one app-server either way.
      assert.ok(maxServers.n >= 1 && maxServers.n <= 2, `app-server processes: ${maxServers.n}`);
      console.log(`${v}: 2 rounds × 20 workspaces, at most ${maxServers.n} app-server processes`);
    });
  }

  if (NEUTRAL_VERSIONS.includes(v)) {
    Deno.test(`app-server ${v}: auto falls back to exec when the app-server does not start, with one warning`, async () => {
      await using rig = await startRig([{ text: "through exec" }]);
      const real = await ensureCodex(v);
      const dir = await Deno.makeTempDir({ prefix: "no-app-server-" });
      try {
        const binary = `${dir}/codex`;
        await Deno.writeTextFile(
          binary,
          `#!/bin/sh\nfor a in "$@"; do\n  if [ "$a" = app-server ]; then\n` +
            `    echo "error: unrecognized subcommand 'app-server'" >&2\n    exit 1\n  fi\ndone\n` +
            `exec '${real}' "$@"\n`,
          { mode: 0o755 },
        );
        const ws = await rig.workspace();
        const p = await rig.plugin({ binary, backend: "auto" });
        let last = "";
        for (const prompt of ["one", "two"]) {
          const r = await chat(p, ws, prompt);
          assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
          assert.equal(r.text, "through exec");
          assert.deepEqual(r.errors, []);
          last = r.turnId;
        }
        const log = await turnLog(p, last);
        const warnings = log.split("\n").filter((l) => / WARN /.test(l));
        assert.equal(warnings.length, 1, log);
        assert.match(warnings[0], /app-server/);
        assert.match(warnings[0], /exec/);
        console.log(`${v}: fallback warning: ${warnings[0]}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}

Deno.test("an exec-only extra_args: auto runs exec (logged once), app-server refuses the config naming it", async () => {
  await using rig = await startRig([{ text: "exec it is" }]);
  const ws = await rig.workspace();
  const p = await rig.plugin({ backend: "auto", extra_args: ["--color", "never"] });
  let last = "";
  for (const prompt of ["one", "two"]) {
    const seen = new Set<string>();
    const params = chatParams(ws, prompt);
    const id = await p.send("chat", params);
    while (!p.messages.some((m) => m.id === id && !("method" in m))) {
      for (const s of descendants(p.child.pid)) seen.add(cmdline(s.pid).slice(1, 3).join(" "));
      await sleep(10);
    }
    const r = outcome(p, params.turn_id as string, p.messages.find((m) => m.id === id)!, 0);
    assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
    assert.equal(r.text, "exec it is");
    last = r.turnId;
    assert.ok(![...seen].some((a) => a.includes("app-server")), [...seen].join("; "));
  }
  assert.equal(appServers(p.child.pid).length, 0);
  const log = await turnLog(p, last);
  const notes = log.split("\n").filter((l) => l.includes("--color"));
  assert.equal(notes.length, 1, log);
  assert.match(notes[0], /exec/);

  // rig.plugin throws with initialize's error.
  const refused = await rig.plugin({ backend: "app-server", extra_args: ["--color", "never"] })
    .then(() => undefined, (e: Error) => e.message);
  assert.ok(refused, "initialize refused the config");
  const error = JSON.parse(refused.slice(refused.indexOf("{")));
  assert.equal(error.code, -32602, refused);
  assert.match(error.message, /--color/);
  assert.ok(
    error.data.errors.some((e: { field: string }) => e.field.startsWith("config.")),
    refused,
  );
});

Deno.test("app-server 0.169.0: a thread held by another writer: one clear error, the session file unchanged", async () => {
  await using rig = await startRig([{ text: "mine" }]);
  const ws = await rig.workspace();
  const holder = await pluginOn(rig, "0.169.0", "app-server", { app_server_idle_s: 600 });
  const first = await chat(holder, ws, "Start a thread.");
  assert.equal(first.response.result.stop_reason, "end_turn", holder.stderr());
  const thread = first.response.result.thread_id;
  const session = await Deno.readTextFile(`${ws}/${SESSION_FILE}`);

  // A second plugin process, on either backend, meets the thread held by the first's app-server.
  for (const backend of ["app-server", "exec"] as const) {
    // The app-server waits min(30 s, idle_timeout_s) for the thread before failing.
    const other = await pluginOn(rig, "0.169.0", backend, { idle_timeout_s: 2 });
    const r = await chat(other, ws, "Me too.");
    assert.equal(r.response.result.stop_reason, "error", `${backend}: ${JSON.stringify(r.events)}`);
    assert.equal(r.errors.length, 1, JSON.stringify(r.events));
    assert.match(r.errors[0].message, /writer|in use|held|another/i);
    if (backend === "app-server") assert.match(r.errors[0].message, /still after 2 s/);
    assert.equal(await Deno.readTextFile(`${ws}/${SESSION_FILE}`), session, "no thread replaced");
    console.log(
      `0.169.0, second plugin on ${backend}: ${r.errors[0].code}: ${r.errors[0].message}`,
    );
    await closePlugin(other);
  }

  // The `chat` one-shot on the same workspace.
  const config = `${rig.root}/one-shot.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      binary: await ensureCodex("0.169.0"),
      extra_args: rig.args,
      idle_timeout_s: 2,
    }),
  );
  const o = await new Deno.Command(Deno.execPath(), {
    args: pluginArgs(["chat", "--config", config, "--workspace", ws, "Me three."]),
    clearEnv: true,
    env: rig.env,
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(o.stderr);
  assert.notEqual(o.code, 0, stderr);
  assert.equal(stderr.split("\n").filter((l) => l.startsWith("error (")).length, 1, stderr);
  assert.match(stderr, /writer|in use|held|another/i);
  assert.equal(await Deno.readTextFile(`${ws}/${SESSION_FILE}`), session);

  // The holder itself carries on with its thread.
  const again = await chat(holder, ws, "Still mine?");
  assert.equal(again.response.result.stop_reason, "end_turn", holder.stderr());
  assert.equal(again.response.result.thread_id, thread);

  // Another plugin process waits for the thread; the holder exits meanwhile: its turn runs.
  const waiter = await pluginOn(rig, "0.169.0", "app-server", { idle_timeout_s: 60 });
  const waited = chat(waiter, ws, "My turn now?");
  await waitForLog(waiter, (l) => l.includes("holds the thread; waiting"), {
    timeoutMs: 30_000,
  });
  await closePlugin(holder);
  const r = await waited;
  assert.equal(r.response.result.stop_reason, "end_turn", waiter.stderr());
  assert.equal(r.response.result.thread_id, thread);
  await closePlugin(waiter);
});

for (const v of APP_SERVER_VERSIONS) {
  Deno.test(`app-server ${v}: idle exit after app_server_idle_s releases the thread; the next turn starts it again`, async () => {
    await using rig = await startRig([{ text: "first" }, { text: "exec turn" }, { text: "back" }]);
    const ws = await rig.workspace();
    const p = await pluginOn(rig, v, "app-server", { app_server_idle_s: 1 });
    const first = await chat(p, ws, "Start a thread.");
    assert.equal(first.response.result.stop_reason, "end_turn", p.stderr());
    const thread = first.response.result.thread_id;
    await waitUntil(
      () => appServers(p.child.pid).length === 0,
      "the idle app-server to exit",
      30_000,
    );
    // Released: another writer (an exec plugin) can take the thread now.
    const ex = await pluginOn(rig, v, "exec");
    const r = await chat(ex, ws, "My turn.");
    assert.equal(r.response.result.stop_reason, "end_turn", ex.stderr());
    assert.equal(r.response.result.thread_id, thread);
    await closePlugin(ex);
    const back = await chat(p, ws, "Back to you.");
    assert.equal(back.response.result.stop_reason, "end_turn", p.stderr());
    assert.equal(back.response.result.thread_id, thread);
    assert.ok(JSON.stringify(rig.api.requests[2]).includes("exec turn"), "it saw exec's turn");
  });
}

Deno.test("server→client requests are answered at once (declined, cancelled, refused, or an error) and logged; the turn completes", async () => {
  const requests = [
    {
      method: "item/commandExecution/requestApproval",
      params: { itemId: "c1", command: "rm -rf /" },
    },
    { method: "item/fileChange/requestApproval", params: { itemId: "f1" } },
    { method: "mcpServer/elicitation/request", params: { serverName: "x", message: "who?" } },
    { method: "item/tool/requestUserInput", params: { itemId: "q1", questions: [] } },
    { method: "item/tool/call", params: { callId: "t1", tool: "lookup", arguments: {} } },
    { method: "account/chatgptAuthTokens/refresh", params: { reason: "unauthorized" } },
    { method: "made/up/request", params: {} },
  ];
  await using fake = await installFakeAppServer({ requests, deltas: ["all answered"] });
  await using rig = await startRig();
  const ws = await rig.workspace();
  const p = await rig.plugin({ binary: fake.binary, backend: "app-server", idle_timeout_s: 30 });
  const r = await chat(p, ws, "Ask me things.");
  assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
  assert.equal(r.text, "all answered");
  assert.deepEqual(r.errors, []);
  const answers = (await fake.received()).map((r) => r.msg).filter((m) => !("method" in m));
  assert.equal(answers.length, requests.length, JSON.stringify(answers));
  const byMethod = Object.fromEntries(
    answers.map((a) => [requests[(a.id as number) % 1000].method, a]),
  );
  assert.equal(
    (byMethod["item/commandExecution/requestApproval"].result as { decision: string }).decision,
    "decline",
  );
  assert.equal(
    (byMethod["item/fileChange/requestApproval"].result as { decision: string }).decision,
    "decline",
  );
  assert.equal(
    (byMethod["mcpServer/elicitation/request"].result as { action: string }).action,
    "cancel",
  );
  assert.ok(byMethod["account/chatgptAuthTokens/refresh"].error, "no tokens to give");
  assert.ok(byMethod["made/up/request"].error, "an unknown kind gets an error");
  for (const a of answers) assert.ok(!JSON.stringify(a).includes('"accept'), "nothing approved");
  const log = await turnLog(p, r.turnId);
  const warned = log.split("\n").filter((l) => / WARN /.test(l));
  for (const { method } of requests) {
    assert.ok(warned.some((l) => l.includes(method)), `${method} logged at warn:\n${log}`);
  }
});

for (const how of ["cancel", "idle timeout"] as const) {
  Deno.test(`a wedged app-server (turn/interrupt never answered) on ${how}: one answer within seconds, the app-server replaced, the next turn works on the thread`, async () => {
    await using fake = await installFakeAppServer({
      deltas: ["fresh answer"],
      hangOn: "HANG",
      interrupt: "silent",
    });
    await using rig = await startRig();
    const ws = await rig.workspace();
    const p = await rig.plugin({
      binary: fake.binary,
      backend: "app-server",
      idle_timeout_s: how === "cancel" ? 600 : 1,
    });
    const first = await chat(p, ws, "hello");
    assert.equal(first.response.result.stop_reason, "end_turn", p.stderr());
    const wedged = appServers(p.child.pid).map((s) => s.pid);
    assert.ok(wedged.length >= 1);
    const params = chatParams(ws, "HANG forever");
    const turnId = params.turn_id as string;
    const id = await p.send("chat", params);
    await waitUntil(() => p.eventsOf(turnId).some((e) => e.type === "text_delta"), "a delta");
    const t0 = performance.now();
    if (how === "cancel") {
      assert.deepEqual((await p.request("cancel", { turn_id: turnId })).result, {
        cancelled: true,
      });
    }
    const response = await p.waitFor((m) => m.id === id && !("method" in m), 30_000);
    const ms = performance.now() - t0;
    const errors = p.eventsOf(turnId).filter((e) => e.type === "error");
    if (how === "cancel") {
      assert.equal(response.result.stop_reason, "cancelled");
      assert.deepEqual(errors, []);
    } else {
      assert.equal(response.result.stop_reason, "error");
      assert.deepEqual(errors.map((e) => e.code), ["timeout"], JSON.stringify(errors));
    }
    await allGone(wedged, "the wedged app-server");
    await waitForLog(p, /WARN codex app-server stopped answering; restarting it/);
    const next = await chat(p, ws, "are you back?");
    assert.equal(next.response.result.stop_reason, "end_turn", p.stderr());
    assert.equal(next.text, "fresh answer");
    assert.equal(next.response.result.thread_id, first.response.result.thread_id);
    console.log(`wedged app-server, ${how}: answered ${Math.round(ms)} ms after the ${how}`);
  });
}

Deno.test("backend app-server without a codex binary: exactly one codex_not_found error per turn", async () => {
  await using rig = await startRig();
  const ws = await rig.workspace();
  const p = await rig.plugin({ binary: `${rig.root}/no-such-codex`, backend: "app-server" });
  for (const prompt of ["one", "two"]) {
    const r = await chat(p, ws, prompt);
    assert.equal(r.response.result.stop_reason, "error");
    assert.deepEqual(r.errors.map((e) => e.code), ["codex_not_found"], JSON.stringify(r.events));
  }
  assert.deepEqual(descendants(p.child.pid), []);
});

Deno.test("an agent message that comes without deltas is sent whole, once", async () => {
  await using fake = await installFakeAppServer({ deltas: ["all at once"], noDeltas: true });
  await using rig = await startRig();
  const p = await rig.plugin({ binary: fake.binary, backend: "app-server" });
  const r = await chat(p, await rig.workspace(), "hi");
  assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
  assert.deepEqual(r.events.filter((e) => e.type === "text_delta"), [
    { type: "text_delta", text: "all at once" },
  ]);
});

for (const v of APP_SERVER_VERSIONS) {
  if (EDGE_VERSIONS.includes(v)) {
    Deno.test(`app-server ${v}: a command running when its turn is cancelled does not outlive the turn; the next turn works`, async () => {
      await using rig = await startRig([
        { text: "warm" },
        { shell: "sleep 120", via: "function" },
        { text: "after" },
      ]);
      const ws = await rig.workspace();
      const p = await pluginOn(rig, v, "app-server");
      const first = await chat(p, ws, "warm up");
      assert.equal(first.response.result.stop_reason, "end_turn", p.stderr());
      const params = chatParams(ws, "run it");
      const id = await p.send("chat", params);
      await waitUntil(() => pidsInDir(ws).length > 0, "the command to run in the workspace");
      const command = pidsInDir(ws);
      const c = await p.request("cancel", { turn_id: params.turn_id });
      assert.deepEqual(c.result, { cancelled: true });
      const response = await p.waitFor((m) => m.id === id && !("method" in m), 30_000);
      assert.equal(response.result.stop_reason, "cancelled");
      await allGone(command, "the command of the cancelled turn");
      // what the command started after we looked (its shell's child) ends too, bounded
      await waitUntil(() => pidsInDir(ws).length === 0, "nothing left working in the workspace");
      const next = await chat(p, ws, "and now?");
      assert.equal(next.response.result.stop_reason, "end_turn", p.stderr());
      assert.equal(next.text, "after");
      assert.equal(next.response.result.thread_id, first.response.result.thread_id);
    });
  }
}
