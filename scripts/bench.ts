/**
 * `deno task bench`: what the plugin costs, every comparison measured side by
 * side in one run, alternating, reporting medians and ratios.
 *
 *   1. turn overhead: a turn through the plugin (warm, protocol v1) vs a raw
 *      `codex exec --json` of the same prompt, same mock API, same Codex
 *   2. line stream: lib/lines.ts vs node:readline (Deno and Node) on a
 *      synthetic 256 MiB Codex stream with lines from 100 B to 16 MiB
 *   3. start-up: spawn to `initialize` response, and idle RSS
 *   4. scale: turns per second with 1, 4 and 16 concurrent workspaces, and
 *      where the CPU goes (plugin, codex, or the machine's cores)
 *
 * Flags: --rounds N (default 11), --lines-mib N (default 256), --only 1,2,3,4,
 * --json FILE (write raw results).
 *
 * @example
 * ```sh
 * deno task bench --rounds 7
 * ```
 */
import { parseArgs } from "node:util";
import { execArgs } from "../lib/codex/exec/argv.ts";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { pluginArgs, startPlugin } from "../dev/plugin.ts";
import { hermetic } from "../dev/hermetic.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "11" },
    "lines-mib": { type: "string", default: "256" },
    only: { type: "string", default: "1,2,3,4" },
    json: { type: "string" },
  },
});
const ROUNDS = Math.max(5, Number(flags.rounds));
const only = new Set(flags.only!.split(","));
const results: Record<string, unknown> = {};

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const f1 = (x: number) => x.toFixed(1);
const tmp = () => Deno.makeTempDirSync({ prefix: "plexum-bench-" });

function procStat(pid: number): { utime: number; stime: number; cutime: number; cstime: number } {
  const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ").map(Number);
  // fields 14..17 of stat, counted from 1; f[0] is field 3
  return { utime: f[11], stime: f[12], cutime: f[13], cstime: f[14] };
}
const HZ = 100;
function rssMiB(pid: number, field = "VmRSS"): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(s.match(new RegExp(`${field}:\\s+(\\d+)`))![1]) / 1024;
}

async function setup() {
  const bin = await ensureCodex();
  const api = startMockApi([{ text: "pong" }]);
  const dirs = hermetic();
  const home = dirs.root; // removed at the end
  const mock = mockCodexSetup(api.baseUrl, dirs.codexHome);
  // Both sides get the same hermetic environment (dev/hermetic.ts), with an empty
  // HOME: Codex's environment snapshot runs a login shell, and the machine's own
  // profile (pyenv init and rehash here) would add tens of noisy milliseconds to
  // every turn of either side. Spawn with `clearEnv: true`.
  mock.env = dirs.env(mock.env);
  const version = new TextDecoder().decode(
    (await new Deno.Command(bin, { args: ["--version"], clearEnv: true, env: mock.env }).output())
      .stdout,
  ).trim();
  return { bin, api, home, mock, version };
}

/** A raw `codex exec --json` turn: total time and time to first agent_message. */
async function rawTurn(
  bin: string,
  args: string[],
  env: Record<string, string>,
  ws: string,
  prompt: string,
) {
  const t0 = performance.now();
  const child = new Deno.Command(bin, {
    args,
    cwd: ws,
    clearEnv: true,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(prompt));
  await w.close();
  let first = NaN;
  let buf = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    if (Number.isNaN(first) && buf.includes('"agent_message"')) first = performance.now() - t0;
  }
  await child.status;
  return { total: performance.now() - t0, first };
}

async function benchTurns() {
  const { bin, api, home, mock, version } = await setup();
  const plugin = startPlugin({ env: mock.env });
  await plugin.request("initialize", {
    protocol_version: 1,
    config: { binary: bin, extra_args: mock.args },
  });
  const ws = tmp();
  const rawArgs = execArgs({ extraArgs: mock.args });
  const prompt = "Reply with pong.";
  let n = 0;
  const viaPlugin = async () => {
    const id = `b${n++}`;
    const t0 = performance.now();
    const sent = plugin.send("chat", {
      turn_id: id,
      agent: { id: "bench", workspace: ws },
      reset: true,
      messages: [{ role: "user", content: prompt }],
    });
    const firstMsg = plugin.waitFor((m) =>
      m.method === "event" && m.params.turn_id === id && m.params.event.type === "text_delta"
    );
    const reqId = await sent;
    const first = (await firstMsg, performance.now() - t0);
    const resp = await plugin.waitFor((m) => m.id === reqId);
    if (resp.result?.stop_reason !== "end_turn") {
      throw new Error(`turn failed: ${JSON.stringify(resp)}`);
    }
    return { total: performance.now() - t0, first };
  };
  const viaRaw = () => rawTurn(bin, rawArgs, mock.env, ws, prompt);
  await viaPlugin();
  await viaRaw(); // warm both
  const p: { total: number; first: number }[] = [];
  const r: { total: number; first: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      p.push(await viaPlugin());
      r.push(await viaRaw());
    } else {
      r.push(await viaRaw());
      p.push(await viaPlugin());
    }
  }
  await plugin.close();
  await api.close();
  Deno.removeSync(ws, { recursive: true });
  Deno.removeSync(home, { recursive: true });
  const out = {
    codex: version,
    rounds: ROUNDS,
    plugin_turn_ms: median(p.map((x) => x.total)),
    raw_turn_ms: median(r.map((x) => x.total)),
    plugin_first_text_ms: median(p.map((x) => x.first)),
    raw_first_agent_message_ms: median(r.map((x) => x.first)),
    ratio: 0,
    first_ratio: 0,
  };
  out.ratio = out.plugin_turn_ms / out.raw_turn_ms;
  out.first_ratio = out.plugin_first_text_ms / out.raw_first_agent_message_ms;
  console.log(`\n1. Turn overhead (${version}, ${ROUNDS} rounds, alternating, medians)`);
  console.log(
    `   plugin turn ${f1(out.plugin_turn_ms)} ms | raw codex exec ${
      f1(out.raw_turn_ms)
    } ms | ratio ${out.ratio.toFixed(3)} (budget <= 1.05)`,
  );
  console.log(
    `   first text_delta ${f1(out.plugin_first_text_ms)} ms | raw first agent_message ${
      f1(out.raw_first_agent_message_ms)
    } ms | ratio ${out.first_ratio.toFixed(3)}`,
  );
  results.turn = out;
}

async function benchLines() {
  const total = Number(flags["lines-mib"]) * 1024 * 1024;
  const worker = new URL("./bench_lines_worker.mjs", import.meta.url).pathname;
  const deno = (which: string, stage: string) => ["run", "-A", worker, which, String(total), stage];
  // Stage "lines": split + decode, what a line stream yields (text lines, as readline does).
  // Stage "parse": also JSON.parse each line, what the plugin does with them.
  const sides: [string, string, string[]][] = [["harness only", Deno.execPath(), deno("none", "")]];
  for (const stage of ["lines", "parse"]) {
    sides.push(
      [`${stage}: lib/lines.ts (deno)`, Deno.execPath(), deno("ours", stage)],
      [`${stage}: node:readline (deno)`, Deno.execPath(), deno("readline", stage)],
      [`${stage}: node:readline (node)`, "node", [worker, "readline", String(total), stage]],
    );
  }
  const runs: Record<string, { mb_per_s: number; peak_rss_mib: number }[]> = {};
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 ? [...sides].reverse() : sides;
    for (const [name, cmd, args] of order) {
      const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
      if (!o.success) throw new Error(`${name}: ${new TextDecoder().decode(o.stderr)}`);
      (runs[name] ??= []).push(
        JSON.parse(new TextDecoder().decode(o.stdout).trim().split("\n").at(-1)!),
      );
    }
  }
  const base = median(runs["harness only"].map((x) => x.peak_rss_mib));
  console.log(
    `\n2. Line stream (${flags["lines-mib"]} MiB, lines 100 B..16 MiB, ${ROUNDS} rounds, medians)`,
  );
  console.log(
    `   the synthetic source alone peaks at ${f1(base)} MiB RSS; peaks below are above that`,
  );
  const table: Record<
    string,
    { mb_per_s: number; peak_rss_above_harness_mib: number; x_longest_line: number }
  > = {};
  for (const [name] of sides.slice(1)) {
    const mb = median(runs[name].map((x) => x.mb_per_s));
    const peak = median(runs[name].map((x) => x.peak_rss_mib)) - base;
    table[name] = { mb_per_s: mb, peak_rss_above_harness_mib: peak, x_longest_line: peak / 16 };
    console.log(
      `   ${name.padEnd(29)} ${f1(mb).padStart(7)} MB/s   peak +${f1(peak)} MiB (${
        (peak / 16).toFixed(2)
      }x the 16 MiB line)`,
    );
  }
  for (const stage of ["lines", "parse"]) {
    const ours = table[`${stage}: lib/lines.ts (deno)`].mb_per_s;
    console.log(
      `   ${stage}: speed ours/readline ${
        (ours / table[`${stage}: node:readline (node)`].mb_per_s).toFixed(2)
      } (Node), ` +
        `${
          (ours / table[`${stage}: node:readline (deno)`].mb_per_s).toFixed(2)
        } (Deno); budget >= 1`,
    );
  }
  results.lines = { harness_peak_rss_mib: base, ...table };
}

async function benchStartup() {
  const times: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: pluginArgs(),
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(
      new TextEncoder().encode(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocol_version: 1 },
        }) + "\n",
      ),
    );
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let got = "";
    while (!got.includes("\n")) got += (await reader.read()).value ?? "";
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 200)); // idle
    rss.push(rssMiB(child.pid));
    await w.close();
    await reader.cancel();
    await child.status;
  }
  const out = { rounds: ROUNDS, initialize_ms: median(times), idle_rss_mib: median(rss) };
  console.log(`\n3. Start-up (deno run with the compile task's flags, ${ROUNDS} rounds, medians)`);
  console.log(
    `   spawn -> initialize response ${f1(out.initialize_ms)} ms (budget < 100) | idle RSS ${
      f1(out.idle_rss_mib)
    } MiB (budget < 60)`,
  );
  results.startup = out;
}

async function benchScale() {
  const { bin, api, home, mock, version } = await setup();
  const plugin = startPlugin({ env: mock.env });
  await plugin.request("initialize", {
    protocol_version: 1,
    config: { binary: bin, extra_args: mock.args },
  });
  const pid = plugin.child.pid;
  const table: Record<string, unknown> = {};
  console.log(
    `\n4. Scale (${version}, instant mock, 32 turns per level; CPU from /proc, 2 cores = 2 CPU-s per s)`,
  );
  for (const c of [1, 4, 16]) {
    const wss = Array.from({ length: c }, tmp);
    const perWs = Math.ceil(32 / c);
    const before = procStat(pid);
    const t0 = performance.now();
    let k = 0;
    await Promise.all(wss.map(async (ws) => {
      for (let i = 0; i < perWs; i++) {
        const r = await plugin.request("chat", {
          turn_id: `s${c}-${k++}`,
          agent: { id: ws, workspace: ws },
          messages: [{ role: "user", content: "ping" }],
        });
        if (r.result?.stop_reason !== "end_turn") throw new Error(JSON.stringify(r));
      }
    }));
    const wall = (performance.now() - t0) / 1000;
    const after = procStat(pid);
    const pluginCpu = (after.utime + after.stime - before.utime - before.stime) / HZ;
    const codexCpu = (after.cutime + after.cstime - before.cutime - before.cstime) / HZ;
    const turns = perWs * c;
    const row = {
      turns,
      wall_s: wall,
      turns_per_s: turns / wall,
      plugin_cpu_s: pluginCpu,
      codex_cpu_s: codexCpu,
      cores_busy: (pluginCpu + codexCpu) / wall,
      codex_cpu_per_turn_ms: (codexCpu / turns) * 1000,
      plugin_cpu_per_turn_ms: (pluginCpu / turns) * 1000,
    };
    table[`c${c}`] = row;
    console.log(
      `   ${String(c).padStart(2)} workspaces: ${row.turns_per_s.toFixed(2)} turns/s | cores busy ${
        row.cores_busy.toFixed(2)
      }/2 | ` +
        `CPU per turn: codex ${row.codex_cpu_per_turn_ms.toFixed(0)} ms, plugin ${
          row.plugin_cpu_per_turn_ms.toFixed(1)
        } ms`,
    );
    for (const ws of wss) Deno.removeSync(ws, { recursive: true });
  }
  await plugin.close();
  await api.close();
  Deno.removeSync(home, { recursive: true });
  results.scale = table;
}

const cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1];
console.log(
  `machine: ${navigator.hardwareConcurrency} cores, ${cpu}; deno ${Deno.version.deno}; ${
    new Date().toISOString()
  }`,
);
results.machine = { cores: navigator.hardwareConcurrency, cpu, deno: Deno.version.deno };
if (only.has("3")) await benchStartup();
if (only.has("1")) await benchTurns();
if (only.has("4")) await benchScale();
if (only.has("2")) await benchLines();
if (flags.json) Deno.writeTextFileSync(flags.json, JSON.stringify(results, null, 2) + "\n");
