/**
 * `deno task bench:backends`: the plugin's two backends side by side with raw
 * `codex exec`, in one run, on the same loopback mock and the same Codex,
 * alternating sides each round and reporting medians and ratios.
 *
 *   1. first text on a reply streamed over ~5 s (50 deltas, 100 ms apart), on
 *      a resumed thread: plugin/app-server, plugin/exec, raw `codex exec resume`,
 *      and the peer ai-sdk-provider-codex-cli 1.4.1 in app-server mode with a
 *      persistent thread (scripts/bench_peer.mjs; installed into .tools/peer,
 *      a benchmark-only dependency; --no-peer leaves it out)
 *      and a bare app-server client on a warm thread (no plugin: the floor the
 *      plugin's app-server side is measured against)
 *   2. a quick turn (the mock answers at once), resumed thread, same three sides
 *   3. throughput: W workspaces × 3 resumed turns at once (W = 1, 4, 8, 16),
 *      plugin/app-server vs raw exec processes (W chains of 3)
 *   4. memory: RSS of the plugin and everything it started, idle (after one
 *      turn) and loaded (during step 3), per backend
 *   5. app-server start: spawn → `initialize` answered, through the plugin's
 *      own AppServerProcess (what the first turn of a plugin, or the first
 *      after an idle exit, waits for), on every pinned Codex
 *
 * Every Codex gets the hermetic environment of dev/hermetic.ts (an empty HOME):
 * the machine's login profile would otherwise add noise to both sides.
 *
 * Flags: --rounds N (default 7), --codex VERSION (default the newest pinned),
 * --only 1,2,3,4,5, --json FILE.
 *
 * @example
 * ```sh
 * deno task bench:backends --rounds 7
 * ```
 */
import { parseArgs } from "node:util";
import { appServerArgs } from "../lib/codex/app_server/launch.ts";
import { AppServerProcess } from "../lib/codex/app_server/process.ts";
import { execArgs } from "../lib/codex/exec/argv.ts";
import { createLogger } from "../lib/log.ts";
import { CODEX_VERSION, CODEX_VERSIONS, ensureCodex } from "../dev/codex.ts";
import { hermetic } from "../dev/hermetic.ts";
import { mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";
import { type Plugin, startPlugin } from "../dev/plugin.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "7" },
    codex: { type: "string", default: CODEX_VERSION },
    only: { type: "string", default: "1,2,3,4,5" },
    json: { type: "string" },
    "no-peer": { type: "boolean", default: false },
  },
});
const PEER = "ai-sdk-provider-codex-cli@1.4.1";
const root = new URL("../", import.meta.url).pathname;
const ROUNDS = Math.max(3, Number(flags.rounds));
const only = new Set(flags.only!.split(","));
const results: Record<string, unknown> = {};
const STREAMED: MockReply = { text: "x".repeat(50), chunks: 50, delayMs: 100 };
const QUICK: MockReply = { text: "pong" };

/** Median of a list of numbers. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const ms = (x: number) => `${x.toFixed(0)} ms`;
const tmp = () => Deno.makeTempDirSync({ prefix: "plexum-bench-" });

/** RSS (MiB) of `pid` and all its descendants, from /proc. */
function treeRssMiB(pid: number): number {
  const kids = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(e.name)]);
    } catch { /* gone */ }
  }
  let kib = 0;
  const walk = (p: number) => {
    try {
      kib += Number(Deno.readTextFileSync(`/proc/${p}/status`).match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
    } catch { /* gone */ }
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return kib / 1024;
}

interface Setup {
  bin: string;
  baseUrl: string;
  env: Record<string, string>;
  args: string[];
  close(): Promise<void>;
}

async function setup(reply: MockReply): Promise<Setup> {
  const bin = await ensureCodex(flags.codex);
  const api = startMockApi([reply]);
  const dirs = hermetic();
  const mock = mockCodexSetup(api.baseUrl, dirs.codexHome);
  return {
    bin,
    baseUrl: api.baseUrl,
    env: dirs.env(mock.env),
    args: mock.args,
    async close() {
      await api.close();
      dirs[Symbol.dispose]();
    },
  };
}

/** A plugin on `backend`, initialized against the mock. */
async function plugin(s: Setup, backend: "app-server" | "exec"): Promise<Plugin> {
  const p = startPlugin({ env: s.env });
  const r = await p.request("initialize", {
    protocol_version: 1,
    config: { binary: s.bin, extra_args: s.args, backend },
  });
  if (!r.result) throw new Error(`initialize failed: ${JSON.stringify(r)}`);
  return p;
}

/** The peer's packages in .tools/peer, installed from npm on first use. */
async function ensurePeer(): Promise<string> {
  const dir = `${root}.tools/peer`;
  try {
    Deno.statSync(`${dir}/node_modules/ai-sdk-provider-codex-cli/package.json`);
    return dir;
  } catch { /* install */ }
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(`${dir}/package.json`, '{"private":true}\n');
  const o = await new Deno.Command("npm", {
    args: ["install", "--no-audit", "--no-fund", "--prefix", dir, PEER, "ai@^6", "zod@^4"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!o.success) throw new Error(`npm install ${PEER}: ${new TextDecoder().decode(o.stderr)}`);
  return dir;
}

/** The peer, warm, one turn per call (scripts/bench_peer.mjs). */
async function startPeer(s: Setup, ws: string) {
  const child = new Deno.Command("node", {
    args: [
      `${root}scripts/bench_peer.mjs`,
      JSON.stringify({
        peerDir: await ensurePeer(),
        codexPath: s.bin,
        env: s.env,
        cwd: ws,
        baseUrl: s.baseUrl,
      }),
    ],
    clearEnv: true,
    env: s.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const turn = async () => {
    await w.write(new TextEncoder().encode("ping\n"));
    while (!buf.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("peer exited");
      buf += value;
    }
    const line = buf.slice(0, buf.indexOf("\n"));
    buf = buf.slice(buf.indexOf("\n") + 1);
    const r = JSON.parse(line);
    if (r.error) throw new Error(`peer turn failed: ${r.error}`);
    return r as { total: number; first: number };
  };
  return {
    turn,
    async close() {
      await w.close();
      await child.status;
    },
  };
}

let n = 0;
/** One turn through a plugin: total and first-text times. */
async function pluginTurn(p: Plugin, ws: string, prompt = "ping") {
  const id = `b${n++}`;
  const t0 = performance.now();
  const first = p.waitFor(
    (m) => m.method === "event" && m.params.turn_id === id && m.params.event.type === "text_delta",
    60_000,
  ).then(() => performance.now() - t0);
  const r = await p.request("chat", {
    turn_id: id,
    agent: { id: "bench", workspace: ws },
    messages: [{ role: "user", content: prompt }],
  });
  if (r.result?.stop_reason !== "end_turn") throw new Error(`turn failed: ${JSON.stringify(r)}`);
  return { total: performance.now() - t0, first: await first };
}

/** One raw `codex exec --json` turn resuming `thread` (or starting one). */
async function rawTurn(s: Setup, ws: string, thread?: string) {
  const t0 = performance.now();
  const child = new Deno.Command(s.bin, {
    args: execArgs({ extraArgs: s.args, threadId: thread }),
    cwd: ws,
    clearEnv: true,
    env: s.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("ping"));
  await w.close();
  let first = NaN;
  let buf = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    if (Number.isNaN(first) && buf.includes('"agent_message"')) first = performance.now() - t0;
  }
  await child.status;
  const id = buf.match(/"thread_id":"([^"]+)"/)?.[1];
  return { total: performance.now() - t0, first, thread: id };
}

/**
 * The floor of the app-server side: a bare client on a warm thread, no plugin
 * (the plugin's own AppServerProcess and client, then thread/start once and
 * turn/start per turn), so the table says what the plugin adds over Codex itself.
 */
async function startBare(s: Setup, ws: string) {
  const args = appServerArgs(s.args);
  if (!args.ok) throw new Error(args.error);
  const p = await AppServerProcess.start({
    binary: s.bin,
    args: args.value,
    env: s.env,
    log: createLogger({ level: "error" }),
    clientVersion: "bench",
  });
  if (!p.ok) throw new Error(p.error.message);
  const proc = p.value;
  const started = await proc.client.request("thread/start", {
    cwd: ws,
    approvalPolicy: "never",
    sandbox: "danger-full-access",
  }) as { thread: { id: string } };
  const threadId = started.thread.id;
  const turn = async () => {
    const t0 = performance.now();
    let first = NaN;
    let done!: () => void;
    const completed = new Promise<void>((r) => (done = r));
    const off = proc.client.subscribe(threadId, {
      onNotification(method) {
        if (method === "item/agentMessage/delta" && Number.isNaN(first)) {
          first = performance.now() - t0;
        }
        if (method === "turn/completed") done();
      },
      onServerRequest() {},
      onClose: () => done(),
    });
    await proc.client.request("turn/start", {
      threadId,
      input: [{ type: "text", text: "ping", text_elements: [] }],
    });
    await completed;
    off();
    return { total: performance.now() - t0, first };
  };
  return { turn, close: () => proc.stop() };
}

/** Steps 1 and 2: first text and turn time, three sides alternating. */
async function benchLatency(name: string, reply: MockReply) {
  const s = await setup(reply);
  const app = await plugin(s, "app-server");
  const exec = await plugin(s, "exec");
  const [wsApp, wsExec, wsRaw, wsPeer, wsBare] = [tmp(), tmp(), tmp(), tmp(), tmp()];
  const peer = flags["no-peer"] ? undefined : await startPeer(s, wsPeer);
  const bare = await startBare(s, wsBare);
  // Warm every side once; the threads then exist and every measured turn resumes.
  await pluginTurn(app, wsApp);
  await pluginTurn(exec, wsExec);
  await peer?.turn();
  await bare.turn();
  const thread = (await rawTurn(s, wsRaw)).thread;
  const sides: Record<string, () => Promise<{ total: number; first: number }>> = {
    "plugin app-server": () => pluginTurn(app, wsApp),
    "plugin exec": () => pluginTurn(exec, wsExec),
    "raw codex exec": () => rawTurn(s, wsRaw, thread),
  };
  if (peer) sides["peer (ai-sdk app-server)"] = peer.turn;
  sides["bare app-server client"] = bare.turn;
  const got: Record<string, { total: number; first: number }[]> = {};
  const names = Object.keys(sides);
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 ? [...names].reverse() : names;
    for (const k of order) (got[k] ??= []).push(await sides[k]());
  }
  await app.close();
  await exec.close();
  await peer?.close();
  await bare.close();
  await s.close();
  const raw = got["raw codex exec"];
  const rawFirst = median(raw.map((x) => x.first));
  const rawTotal = median(raw.map((x) => x.total));
  // From the first text to the turn's end: Codex's own tail plus, through the plugin, its
  // end-of-turn work. Against raw exec's this shows that work even on a busy machine, where
  // whole-turn ratios move by more than it (issue 16).
  const afterText = (xs: { total: number; first: number }[]) =>
    median(xs.map((x) => x.total - x.first));
  const rawAfter = afterText(raw);
  const table: Record<string, unknown> = {};
  console.log(`\n${name} (codex ${flags.codex}, ${ROUNDS} rounds, medians; ratio to raw exec)`);
  for (const k of names) {
    const first = median(got[k].map((x) => x.first));
    const total = median(got[k].map((x) => x.total));
    const after = afterText(got[k]);
    table[k] = {
      first_text_ms: first,
      turn_ms: total,
      first_ratio: first / rawFirst,
      turn_ratio: total / rawTotal,
      after_text_ms: after,
      after_text_vs_raw_ms: after - rawAfter,
    };
    console.log(
      `   ${k.padEnd(26)} first text ${ms(first).padStart(8)} (${(first / rawFirst).toFixed(3)})` +
        ` | turn ${ms(total).padStart(8)} (${(total / rawTotal).toFixed(3)})` +
        ` | after the text ${ms(after).padStart(8)} (${after >= rawAfter ? "+" : ""}${
          ms(after - rawAfter)
        } vs raw)`,
    );
  }
  const floor = got["bare app-server client"];
  const over = (k: string, f: (x: { total: number; first: number }) => number) =>
    median(got[k].map(f)) - median(floor.map(f));
  table.plugin_over_bare_app_server = {
    first_text_ms: over("plugin app-server", (x) => x.first),
    turn_ms: over("plugin app-server", (x) => x.total),
  };
  console.log(
    `   the plugin over the bare client on the app-server: first text ${
      ms(over("plugin app-server", (x) => x.first))
    }, turn ${ms(over("plugin app-server", (x) => x.total))}`,
  );
  for (const ws of [wsApp, wsExec, wsRaw, wsPeer, wsBare]) {
    Deno.removeSync(ws, { recursive: true });
  }
  return table;
}

/** Step 3 and 4: throughput of W workspaces × 3 resumed turns, and RSS. */
async function benchThroughput() {
  const s = await setup(QUICK);
  const table: Record<string, unknown> = {};
  const memory: Record<string, unknown> = {};
  console.log(`\n3. Throughput, W workspaces x 3 resumed turns at once (codex ${flags.codex})`);
  for (const backend of ["app-server", "exec"] as const) {
    const p = await plugin(s, backend);
    const warm = tmp();
    await pluginTurn(p, warm);
    const idle = treeRssMiB(p.child.pid);
    let loaded = 0;
    for (const w of [1, 4, 8, 16]) {
      const wss = Array.from({ length: w }, tmp);
      await Promise.all(wss.map((ws) => pluginTurn(p, ws))); // threads exist: turns resume
      const t0 = performance.now();
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, treeRssMiB(p.child.pid))), 200);
      await Promise.all(wss.map(async (ws) => {
        for (let i = 0; i < 3; i++) await pluginTurn(p, ws);
      }));
      clearInterval(sampler);
      loaded = Math.max(loaded, peak);
      const wall = (performance.now() - t0) / 1000;
      const key = `${backend} W=${w}`;
      table[key] = { turns: 3 * w, wall_s: wall, turns_per_s: (3 * w) / wall };
      for (const ws of wss) Deno.removeSync(ws, { recursive: true });
    }
    memory[backend] = { idle_rss_mib: idle, loaded_peak_rss_mib: loaded };
    await p.close();
    Deno.removeSync(warm, { recursive: true });
  }
  for (const w of [1, 4, 8, 16]) {
    const wss = Array.from({ length: w }, tmp);
    const threads = await Promise.all(wss.map(async (ws) => (await rawTurn(s, ws)).thread));
    const t0 = performance.now();
    await Promise.all(wss.map(async (ws, i) => {
      for (let k = 0; k < 3; k++) await rawTurn(s, ws, threads[i]);
    }));
    const wall = (performance.now() - t0) / 1000;
    table[`raw exec W=${w}`] = { turns: 3 * w, wall_s: wall, turns_per_s: (3 * w) / wall };
    for (const ws of wss) Deno.removeSync(ws, { recursive: true });
  }
  for (const w of [1, 4, 8, 16]) {
    const row = (k: string) => table[`${k} W=${w}`] as { turns_per_s: number };
    const raw = row("raw exec").turns_per_s;
    console.log(
      `   W=${String(w).padStart(2)}: app-server ${
        row("app-server").turns_per_s.toFixed(2)
      } turns/s` +
        ` (${(row("app-server").turns_per_s / raw).toFixed(2)}x raw) | plugin exec ${
          row("exec").turns_per_s.toFixed(2)
        } (${(row("exec").turns_per_s / raw).toFixed(2)}x) | raw exec ${raw.toFixed(2)}`,
    );
  }
  console.log("\n4. Memory: plugin + everything it started (RSS, MiB)");
  for (const [k, v] of Object.entries(memory)) {
    const m = v as { idle_rss_mib: number; loaded_peak_rss_mib: number };
    console.log(
      `   ${k.padEnd(10)} idle ${m.idle_rss_mib.toFixed(1)} | loaded peak ${
        m.loaded_peak_rss_mib.toFixed(1)
      }`,
    );
  }
  await s.close();
  results.throughput = table;
  results.memory = memory;
}

/** Step 5: spawn → initialize of the plugin's AppServerProcess, per pinned Codex. */
async function benchStart() {
  const table: Record<string, unknown> = {};
  console.log(`\n5. app-server spawn -> initialize answered (${ROUNDS} rounds, medians)`);
  for (const v of [...CODEX_VERSIONS, "0.171.0"]) {
    const bin = await ensureCodex(v);
    const dirs = hermetic();
    const args = appServerArgs([]);
    if (!args.ok) throw new Error(args.error);
    const times: number[] = [];
    for (let i = 0; i < ROUNDS + 1; i++) {
      const t0 = performance.now();
      const p = await AppServerProcess.start({
        binary: bin,
        args: args.value,
        env: dirs.env(),
        log: createLogger({ level: "error" }),
        clientVersion: "bench",
      });
      const ms = performance.now() - t0;
      if (!p.ok) throw new Error(p.error.message);
      await p.value.stop();
      if (i > 0) times.push(ms); // the first start also warms the page cache
    }
    dirs[Symbol.dispose]();
    table[v] = { start_ms: median(times), min_ms: Math.min(...times) };
    console.log(`   codex ${v}: ${ms(median(times))} (min ${ms(Math.min(...times))})`);
  }
  results.start = table;
}

const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1];
console.log(
  `machine: ${navigator.hardwareConcurrency} cores, ${cpu}; deno ${Deno.version.deno}; ${
    new Date().toISOString()
  }`,
);
results.machine = { cores: navigator.hardwareConcurrency, cpu, deno: Deno.version.deno };
if (only.has("1")) results.streamed = await benchLatency("1. Streamed reply (~5 s)", STREAMED);
if (only.has("2")) results.quick = await benchLatency("2. Quick turn", QUICK);
if (only.has("3") || only.has("4")) await benchThroughput();
if (only.has("5")) await benchStart();
if (flags.json) Deno.writeTextFileSync(flags.json, JSON.stringify(results, null, 2) + "\n");
