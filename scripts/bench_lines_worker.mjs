/**
 * One side of the line-stream benchmark, in its own process so that its peak
 * RSS is its own: reads a synthetic Codex JSONL stream (deterministic sizes
 * from 100 B to 16 MiB, 256 MiB in all by default) through either our
 * {@linkcode LineStream} or `node:readline`, decodes and parses every line,
 * and prints one JSON result line.
 *
 * Runs under Deno (`ours`, `readline`) and under Node (`readline`) alike.
 *
 * @example
 * ```sh
 * deno run -A scripts/bench_lines_worker.mjs ours 268435456 parse
 * node scripts/bench_lines_worker.mjs readline 268435456
 * ```
 */

/** Line sizes in bytes: a fixed mix, most small, a few huge (16 MiB). */
export function* lineSizes(total) {
  const cycle = [
    100,
    300,
    1_000,
    4_000,
    100,
    20_000,
    200,
    250_000,
    150,
    1_000_000,
    120,
    16 * 1024 * 1024,
  ];
  let sent = 0;
  for (let i = 0; sent < total; i++) {
    const n = Math.min(cycle[i % cycle.length], total - sent);
    if (n < 64) break;
    sent += n;
    yield n;
  }
}

/** The stream as 64 KiB chunks of JSON lines. */
export async function* chunks(total) {
  const enc = new TextEncoder();
  const CHUNK = 64 * 1024;
  const head = enc.encode(
    '{"type":"item.completed","item":{"type":"command_execution","aggregated_output":"',
  );
  const tail = enc.encode('"}}\n');
  const filler = new Uint8Array(16 * 1024 * 1024).fill(120); // shared: the source adds no garbage
  let buf = new Uint8Array(CHUNK);
  let at = 0;
  for (const size of lineSizes(total)) {
    const fill = Math.max(0, size - head.length - tail.length);
    const parts = [head, filler.subarray(0, fill), tail];
    for (const p of parts) {
      let off = 0;
      while (off < p.length) {
        const n = Math.min(CHUNK - at, p.length - off);
        buf.set(p.subarray(off, off + n), at);
        at += n;
        off += n;
        if (at === CHUNK) {
          yield buf;
          buf = new Uint8Array(CHUNK);
          at = 0;
        }
      }
    }
  }
  if (at > 0) yield buf.subarray(0, at);
}

function rssKiB(field) {
  //
  const g = globalThis;
  const text = g.Deno
    ? g.Deno.readTextFileSync("/proc/self/status")
    : g.process.getBuiltinModule("node:fs").readFileSync("/proc/self/status", "utf8");
  return Number(text.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
}

/** Also JSON.parse each line (what the plugin does), not only split and decode. */
let parse = false;

async function runOurs(total) {
  const { LineStream } = await import("../lib/lines.ts");
  let lines = 0;
  let bytes = 0;
  const source = ReadableStream.from(chunks(total));
  for await (const text of source.pipeThrough(new LineStream())) {
    if (parse && !JSON.parse(text).type) throw new Error("bad line");
    lines++;
    bytes += text.length + 1; // ASCII: characters are bytes
  }
  return { lines, bytes };
}

/** The source alone, so its own memory can be told apart. */
async function runHarness(total) {
  let bytes = 0;
  for await (const c of chunks(total)) bytes += c.length;
  return { lines: 0, bytes };
}

async function runReadline(total) {
  const { createInterface } = await import("node:readline");
  const { Readable } = await import("node:stream");
  let lines = 0;
  let bytes = 0;
  const rl = createInterface({ input: Readable.from(chunks(total)), crlfDelay: Infinity });
  for await (const line of rl) {
    if (parse && !JSON.parse(line).type) throw new Error("bad line");
    lines++;
    bytes += line.length + 1;
  }
  return { lines, bytes };
}

//
const g = globalThis;
const argv = g.Deno ? g.Deno.args : g.process.argv.slice(2);
if (["ours", "readline", "none"].includes(argv[0])) {
  const [which, totalArg, stage] = argv;
  parse = stage === "parse";
  const total = Number(totalArg ?? 256 * 1024 * 1024);
  const baseKiB = rssKiB("VmRSS");
  const t0 = performance.now();
  const r = which === "ours"
    ? await runOurs(total)
    : which === "readline"
    ? await runReadline(total)
    : await runHarness(total);
  const ms = performance.now() - t0;
  console.log(JSON.stringify({
    which,
    runtime: g.Deno ? "deno" : "node",
    ...r,
    ms,
    mb_per_s: r.bytes / 1e6 / (ms / 1000),
    base_rss_mib: baseKiB / 1024,
    peak_rss_mib: rssKiB("VmHWM") / 1024,
  }));
}
