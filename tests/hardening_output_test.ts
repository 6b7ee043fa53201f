/**
 * Issue 13, points 5, 6 and 11, end to end with a fake codex printing exactly
 * the bytes a test needs (tests/support/faulty_codex.ts): secrets Codex prints
 * are masked in events and logs; invalid UTF-8 in an answer arrives with
 * U+FFFD and a warning; an 80 MiB answer arrives split, no line over 64 MiB;
 * a host that stops reading stdout ends the plugin and Codex within seconds.
 */
import assert from "node:assert/strict";
import { turnLog } from "./support/logs.ts";
import { installFaultyCodex, type Step } from "./support/faulty_codex.ts";
import { chat, chatParams, startRig } from "./support/rig.ts";
import { pluginArgs } from "../dev/plugin.ts";
import { isAlive, pidsInDir, until } from "./support/proc.ts";

const EXEC = { backend: "exec" };
const THREAD = "0199a0b1-0000-7000-8000-00000000c0de";
const line = (v: unknown): Step => ({ line: JSON.stringify(v) });
const started: Step[] = [
  line({ type: "thread.started", thread_id: THREAD }),
  line({ type: "turn.started" }),
];
const completed = line({
  type: "turn.completed",
  usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 2 },
});
const enc = new TextEncoder();

Deno.test("invalid UTF-8 in an answer (FF FE C0 AF) arrives with U+FFFD and one warning, never dropped", async () => {
  const head = enc.encode(
    '{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"before ',
  );
  const tail = enc.encode(' after"}}');
  await using fake = await installFaultyCodex({
    steps: [...started, { bytes: [...head, 0xff, 0xfe, 0xc0, 0xaf, ...tail] }, completed],
  });
  await using rig = await startRig();
  const p = await rig.plugin({ ...EXEC, binary: fake.binary });
  const r = await chat(p, await rig.workspace(), "say something odd");
  assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
  assert.equal(r.text, "before \uFFFD\uFFFD\uFFFD\uFFFD after");
  const log = await turnLog(p, r.turnId);
  const warnings = log.split("\n").filter((l) => / WARN /.test(l));
  assert.equal(warnings.length, 1, log);
  assert.match(warnings[0], /invalid UTF-8; passed on with U\+FFFD/);
});

Deno.test("secrets codex prints are masked in every event and log line: error, text, activity", async () => {
  const openai = `sk-proj-${crypto.randomUUID().replaceAll("-", "")}`;
  const codexKey = `sk-${crypto.randomUUID().replaceAll("-", "")}`;
  const other = `ghp_${crypto.randomUUID().replaceAll("-", "")}`;
  const shaped = `sk-live-${crypto.randomUUID().replaceAll("-", "")}`; // in no variable
  const all = `OPENAI_API_KEY=${openai} CODEX_API_KEY=${codexKey} GITHUB_TOKEN=${other} ${shaped}`;
  await using fake = await installFaultyCodex({
    steps: [
      ...started,
      line({
        type: "item.completed",
        item: { id: "m", type: "agent_message", text: `the keys: ${all}` },
      }),
      line({
        type: "item.completed",
        item: {
          id: "c",
          type: "command_execution",
          command: `echo ${all}`,
          aggregated_output: `${all}\n`,
          exit_code: 0,
          status: "completed",
        },
      }),
      line({ type: "error", message: `boom ${all}` }),
      line({ type: "turn.failed", error: { message: `boom ${all}` } }),
    ],
  });
  await using rig = await startRig();
  const p = await rig.plugin(
    { ...EXEC, binary: fake.binary, emit_activity: true, log_level: "debug" },
    { env: { OPENAI_API_KEY: openai, CODEX_API_KEY: codexKey, GITHUB_TOKEN: other } },
  );
  const r = await chat(p, await rig.workspace(), "leak them");
  assert.equal(r.response.result.stop_reason, "error");
  assert.equal(r.errors.length, 1);
  assert.equal(
    r.errors[0].message,
    "boom OPENAI_API_KEY=*** CODEX_API_KEY=*** GITHUB_TOKEN=*** ***",
  );
  assert.match(r.text, /^the keys: OPENAI_API_KEY=\*\*\* /);
  const activity = r.events.find((e) => e.type === "activity");
  assert.ok(activity, JSON.stringify(r.events));
  const log = await turnLog(p, r.turnId);
  const wire = JSON.stringify(p.messages) + log;
  for (const secret of [openai, codexKey, other, shaped]) {
    assert.ok(!wire.includes(secret.slice(0, 12)), `${secret.slice(0, 12)}… reached the host`);
  }
  assert.match(log, /\*\*\*/, "the log has the masked values");
});

Deno.test("an 80 MiB answer arrives as several text_delta events, no line over 64 MiB, text intact", async () => {
  const size = 80 * 1024 * 1024;
  const head = enc.encode(
    '{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"',
  );
  // Only for its temp dir: the big line is printed by a plain sh wrapper (below), from a file.
  await using fake = await installFaultyCodex({ steps: [] });
  const big = `${fake.dir}/big.jsonl`;
  {
    using f = await Deno.open(big, { write: true, create: true });
    await f.write(head);
    const chunk = new Uint8Array(1024 * 1024).fill(0x61); // "a"
    for (let i = 0; i < size / chunk.length; i++) await f.write(chunk);
    await f.write(enc.encode('"}}\n'));
  }
  // A wrapper that prints the big line between the plan's lines.
  const wrapper = `${fake.dir}/codex-big`;
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\ncat >/dev/null\n` +
      `printf '%s\\n' '${JSON.stringify({ type: "thread.started", thread_id: THREAD })}'\n` +
      `cat '${big}'\n` +
      `printf '%s\\n' '${
        JSON.stringify({ type: "turn.completed", usage: { input_tokens: 1 } })
      }'\n`,
    { mode: 0o755 },
  );
  await using rig = await startRig();
  // Our own pipes: every line is measured as bytes.
  const child = new Deno.Command(Deno.execPath(), {
    args: pluginArgs(),
    clearEnv: true,
    env: rig.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const w = child.stdin.getWriter();
  const send = (m: unknown) => w.write(enc.encode(JSON.stringify(m) + "\n"));
  const ws = await rig.workspace();
  await send({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocol_version: 1, config: { ...EXEC, binary: wrapper } },
  });
  await send({ jsonrpc: "2.0", id: 2, method: "chat", params: chatParams(ws, "a lot") });
  const lengths: number[] = [];
  let text = 0;
  let aOnly = true;
  let response: Record<string, unknown> | undefined;
  let pending: Uint8Array[] = [];
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    let at = 0;
    for (let nl; (nl = chunk.indexOf(10, at)) >= 0; at = nl + 1) {
      pending.push(chunk.subarray(at, nl));
      const bytes = pending.reduce((n, c) => n + c.length, 0);
      const buf = new Uint8Array(bytes);
      let o = 0;
      for (const c of pending) (buf.set(c, o), o += c.length);
      pending = [];
      lengths.push(bytes);
      const msg = JSON.parse(dec.decode(buf));
      if (msg.params?.event?.type === "text_delta") {
        text += msg.params.event.text.length;
        aOnly &&= /^a*$/.test(msg.params.event.text);
      }
      if (msg.id === 2) response = msg;
    }
    pending.push(chunk.slice(at));
    if (response) break;
  }
  await w.close();
  await child.status;
  assert.equal(
    (response?.result as { stop_reason?: string })?.stop_reason,
    "end_turn",
    await stderr,
  );
  assert.equal(text, size, "the whole text arrived");
  assert.ok(aOnly);
  const max = Math.max(...lengths);
  assert.ok(max <= 64 * 1024 * 1024, `longest line ${max} bytes`);
  const deltas = lengths.length - 2; // less the initialize and chat responses
  assert.ok(deltas >= 2, `${deltas} events`);
  console.log(`80 MiB answer: ${deltas} events, longest line ${max} bytes`);
});

Deno.test("a host that stops reading stdout (pipe kept open): the plugin ends codex and exits within the stall limit", async () => {
  // Codex talks a lot: far more than a pipe buffer, then waits.
  const chatter: Step[] = Array.from({ length: 200 }, (_, i) =>
    line({
      type: "item.completed",
      item: { id: `m${i}`, type: "agent_message", text: "x".repeat(4096) },
    }));
  await using fake = await installFaultyCodex({
    steps: [...started, ...chatter, { hang: true }],
  });
  await using rig = await startRig();
  const ws = await rig.workspace();
  const child = new Deno.Command(Deno.execPath(), {
    args: pluginArgs(),
    clearEnv: true,
    env: { ...rig.env, PLEXUM_STDOUT_STALL_S: "2" },
    stdin: "piped",
    stdout: "piped", // never read
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const w = child.stdin.getWriter();
  const send = (m: unknown) => w.write(enc.encode(JSON.stringify(m) + "\n"));
  await send({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocol_version: 1, config: { ...EXEC, binary: fake.binary, idle_timeout_s: 600 } },
  });
  await send({ jsonrpc: "2.0", id: 2, method: "chat", params: chatParams(ws, "talk") });
  await until(() => pidsInDir(ws).length > 0, 30_000, "codex to start");
  const codex = pidsInDir(ws);
  const t0 = performance.now();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const status = await child.status;
  clearTimeout(timer);
  const ms = performance.now() - t0;
  await w.close().catch(() => {});
  await child.stdout.cancel();
  const log = await stderr;
  assert.equal(status.code, 0, log);
  assert.match(log, /reason="stdout stalled"/);
  await until(() => codex.every((pid) => !isAlive(pid)), 10_000, "codex to be gone");
  console.log(`stalled host: plugin exited ${Math.round(ms)} ms after codex started`);
});
