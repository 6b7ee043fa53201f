/**
 * Load: many turns through one plugin process (nothing may accumulate: file
 * descriptors, child processes, memory), and many workspaces at once (every
 * answer goes to the turn that asked, with no crosstalk between threads).
 *
 * The REAL codex runs against the mock API. `LOAD_TURNS` (default 200) bounds
 * the sequential run; on 2 cores a turn takes about 0.4-0.6 s, so the default
 * run stays well under 3 minutes. Figures are printed for the report.
 *
 *   deno task test:load
 *   LOAD_TURNS=1000 deno task test:load
 */
import assert from "node:assert/strict";
import { allPids, fdCount, memory, mib, statOf, until } from "./support/proc.ts";
import { appServers, leftBehind } from "./support/app_server.ts";
import { chat, startRig, userTexts } from "./support/rig.ts";

const TURNS = Math.max(1, Number(Deno.env.get("LOAD_TURNS") ?? 200));
const WARMUP = 10;

/** The mock's reply echoes the tag in the last user text, so each answer proves whose it is. */
const tagOf = (body: Record<string, unknown>) =>
  /TAG-([\w-]+)/.exec(userTexts(body).at(-1) ?? "")?.[1];

/** Children of `pid` that exited and were never waited for. */
function zombiesOf(pid: number): number {
  return allPids().map(statOf).filter((s) => s?.ppid === pid && s.state === "Z").length;
}

interface Sample {
  turn: number;
  fds: number;
  rssKiB: number;
  children: number;
}

Deno.test(`${TURNS} sequential turns through one plugin: no growth in fds, child processes or RSS`, async () => {
  await using rig = await startRig([{ text: "untagged" }], {
    reply: (body) => ({ text: `answer to ${tagOf(body)}` }),
  });
  const ws = await rig.workspace();
  const p = await rig.plugin();
  const pid = p.child.pid;
  const sample = (turn: number): Sample => ({
    turn,
    fds: fdCount(pid),
    rssKiB: memory(pid).rssKiB,
    children: leftBehind(pid).length, // the app-server, when the backend keeps one, is not a leftover
  });
  const run = async (i: number) => {
    const r = await chat(p, ws, `TAG-${i}`);
    assert.equal(r.response.result?.stop_reason, "end_turn", p.stderr().slice(-3000));
    assert.equal(r.text, `answer to ${i}`);
    return r.ms;
  };
  for (let i = 0; i < WARMUP; i++) await run(-i - 1);
  const start = sample(0);
  const samples: Sample[] = [start];
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 1; i <= TURNS; i++) {
    times.push(await run(i));
    // On exec, what codex left gets its SIGTERM just after the answer (lib/codex/exec/process.ts):
    // the scan's `ps` and the run's watchdog end moments later.
    await until(() => leftBehind(pid).length === 0, 5_000, `no child left after turn ${i}`)
      .catch(() => {});
    const s = sample(i);
    assert.equal(s.children, 0, `no child process left after turn ${i}`);
    if (i % Math.max(1, Math.floor(TURNS / 8)) === 0 || i === TURNS) samples.push(s);
  }
  const wall = performance.now() - t0;
  const end = samples.at(-1)!;
  const servers = appServers(pid).map((s) => `${s.comm} ${mib(memory(s.pid).rssKiB)}`);
  const peak = memory(pid).hwmKiB;
  times.sort((a, b) => a - b);
  const q = (f: number) =>
    Math.round(times[Math.min(times.length - 1, Math.floor(f * times.length))]);
  console.log(
    `${TURNS} turns (after ${WARMUP} warm-up) in ${(wall / 1000).toFixed(1)} s: ` +
      `p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms per turn\n` +
      samples.map((s) =>
        `  after turn ${String(s.turn).padStart(4)}: fds ${s.fds}, children ${s.children}, ` +
        `RSS ${mib(s.rssKiB)}`
      ).join("\n") +
      `\n  fds ${start.fds} -> ${end.fds}; RSS ${mib(start.rssKiB)} -> ${mib(end.rssKiB)} ` +
      `(${end.rssKiB >= start.rssKiB ? "+" : ""}${mib(end.rssKiB - start.rssKiB)}); ` +
      `peak ${mib(peak)}; zombies ${zombiesOf(pid)}` +
      (servers.length ? `; app-server RSS now: ${servers.join(", ")}` : ""),
  );
  assert.ok(end.fds <= start.fds + 2, `fds ${start.fds} -> ${end.fds}`);
  assert.equal(zombiesOf(pid), 0, "every child was reaped");
  // V8 grows its heap in steps and collects when it likes: allow noise, not a trend.
  assert.ok(end.rssKiB - start.rssKiB < 40 * 1024, `RSS grew ${mib(end.rssKiB - start.rssKiB)}`);
  assert.equal(rig.api.requests.length, WARMUP + TURNS, "one model request per turn");
});

Deno.test("16 concurrent turns over 16 workspaces: every answer is its own, threads never cross", async () => {
  const N = 16;
  await using rig = await startRig([{ text: "untagged" }], {
    reply: (body) => ({ text: `answer for ${tagOf(body)}`, chunks: 3, delayMs: 30 }),
  });
  const p = await rig.plugin();
  const wss = await Promise.all(Array.from({ length: N }, (_, i) => rig.workspace(`ws-${i}`)));
  const threads: string[] = [];
  for (const round of [1, 2]) {
    const t0 = performance.now();
    const results = await Promise.all(wss.map((ws, i) => chat(p, ws, `TAG-w${i}-r${round}`)));
    const wall = performance.now() - t0;
    for (const [i, r] of results.entries()) {
      assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r.response));
      assert.equal(r.text, `answer for w${i}-r${round}`, `workspace ${i}, round ${round}`);
      assert.deepEqual(r.errors, []);
      const thread = r.response.result.thread_id;
      if (round === 1) threads.push(thread);
      else assert.equal(thread, threads[i], `round 2 resumed workspace ${i}'s own thread`);
      const stored = await Deno.readTextFile(`${wss[i]}/.plexum-codex-session`);
      assert.equal(stored, `${thread}\n`);
    }
    assert.equal(new Set(threads).size, N, "16 distinct threads");
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    console.log(
      `round ${round}: ${N} concurrent turns in ${Math.round(wall)} ms ` +
        `(fastest ${Math.round(ms[0])} ms, slowest ${Math.round(ms.at(-1)!)} ms)`,
    );
  }
  // Round 2's requests carry their own workspace's history and nobody else's.
  const round2 = rig.api.requests.filter((b) => /-r2$/.test(tagOf(b) ?? ""));
  assert.equal(round2.length, N);
  for (const body of round2) {
    const own = tagOf(body)!.replace(/-r2$/, "");
    const tags = userTexts(body).flatMap((t) =>
      [...t.matchAll(/TAG-(w\d+)-r\d/g)].map((m) => m[1])
    );
    assert.deepEqual([...new Set(tags)], [own], `history of ${own} holds only its own turns`);
    assert.equal(tags.length, 2, `${own}: round 1 and round 2`);
  }
  // The exec backend's watchdog and leftover sweep settle just after the answer: wait, bounded.
  await until(
    () => leftBehind(p.child.pid).length === 0,
    10_000,
    "no child left (but an app-server)",
  );
});
