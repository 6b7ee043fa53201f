/**
 * A fake `codex` for unit and runner tests: replays a recorded fixture
 * (`fixtures/<version>/NAME.jsonl` + `NAME.meta.json`) instead of talking to a
 * model. It reads stdin to the end first, appends its argv and stdin bytes to
 * `$FAKE_CODEX_RECORD`, prints the fixture's lines (optionally slowly), writes
 * the fixture's stderr and exits with its exit code.
 *
 * {@linkcode installFakeCodex} writes a `#!/bin/sh` wrapper into a temp dir
 * that execs `deno run` on this file; the wrapper's path is the config `binary`.
 *
 * @example
 * ```ts
 * await using fake = await installFakeCodex({ fixture: fixturePath("0.169.0", "plain") });
 * const backend = new ExecBackend({ ...DEFAULTS, binary: fake.binary }, log);
 * (await fake.calls())[0].argv; // ["exec", ..., "-"]
 * ```
 *
 * @module
 */

/** What the fake does when run. */
export interface FakePlan {
  /** Path of `NAME.jsonl`; `NAME.meta.json` beside it gives stderr and exit code. */
  fixture: string;
  /** Replayed instead of `fixture` when argv contains `resume`. */
  resumeFixture?: string;
  /** Pause before each stdout line. */
  lineDelayMs?: number;
  /** Print only this many lines of the fixture. */
  lines?: number;
  /** After the lines: print nothing more and never exit. */
  hang?: boolean;
  /** Start `sleep 300` (same process group, cwd inherited) before printing. */
  sleeper?: boolean;
  /** Replace the fixture's exit code / stderr. */
  exitCode?: number;
  stderr?: string;
  /** End by sending this signal to itself. */
  killSelf?: Deno.Signal;
}

/** One invocation of the fake, as recorded. */
export interface FakeCall {
  argv: string[];
  stdin: Uint8Array;
  cwd: string;
}

/** An installed fake: its binary, and what it was called with. */
export interface FakeCodex extends AsyncDisposable {
  /** The wrapper script: use it as config `binary`. */
  binary: string;
  /** Temp directory holding the wrapper, plan and record. */
  dir: string;
  /** Every invocation so far, oldest first. */
  calls(): Promise<FakeCall[]>;
}

const root = new URL("../", import.meta.url).pathname;

/** Absolute path of a recorded fixture's JSONL. */
export function fixturePath(version: string, name: string): string {
  return `${root}fixtures/${version}/${name}.jsonl`;
}

/** The sidecar of a fixture (exit code, stderr, argv, ...). */
export function fixtureMeta(jsonl: string): {
  exit_code: number;
  stderr: string;
  argv: string[];
  prompt: string;
  codex_version: string;
} {
  return JSON.parse(Deno.readTextFileSync(jsonl.replace(/\.jsonl$/, ".meta.json")));
}

/** Write the wrapper script and plan into a new temp dir. */
export async function installFakeCodex(plan: FakePlan): Promise<FakeCodex> {
  const dir = await Deno.makeTempDir({ prefix: "fake-codex-" });
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(plan));
  const script = [
    "#!/bin/sh",
    `FAKE_CODEX_PLAN=${q(`${dir}/plan.json`)}`,
    `FAKE_CODEX_RECORD=${q(`${dir}/calls.jsonl`)}`,
    "export FAKE_CODEX_PLAN FAKE_CODEX_RECORD",
    `exec ${q(Deno.execPath())} run --no-config --no-lock --quiet -A ${
      q(new URL(import.meta.url).pathname)
    } "$@"`,
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/codex`, script, { mode: 0o755 });
  return {
    binary: `${dir}/codex`,
    dir,
    async calls() {
      let text = "";
      try {
        text = await Deno.readTextFile(`${dir}/calls.jsonl`);
      } catch { /* never called */ }
      return text.split("\n").filter(Boolean).map((l) => {
        const c = JSON.parse(l);
        return {
          argv: c.argv,
          cwd: c.cwd,
          stdin: Uint8Array.from(atob(c.stdin_b64), (ch) => ch.charCodeAt(0)),
        };
      });
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Pids of live processes whose working directory is `dir` (from /proc), to
 * prove that a process group is gone.
 *
 * @example
 * ```ts
 * assert.deepEqual(processesIn(workspace), []);
 * ```
 */
export function processesIn(dir: string): number[] {
  const want = Deno.realPathSync(dir);
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/cwd`) === want) pids.push(Number(e.name));
    } catch { /* gone, or not ours to see */ }
  }
  return pids;
}

/** Wait until `processesIn(dir)` is empty or `timeoutMs` passed; returns what is left. */
export async function waitNoProcessesIn(dir: string, timeoutMs = 5000): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  let left = processesIn(dir);
  while (left.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesIn(dir);
  }
  return left;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

async function main(): Promise<number> {
  const stdin = new Uint8Array(await new Response(Deno.stdin.readable).arrayBuffer());
  const plan: FakePlan = JSON.parse(Deno.readTextFileSync(Deno.env.get("FAKE_CODEX_PLAN")!));
  const record = Deno.env.get("FAKE_CODEX_RECORD");
  if (record) {
    const call = { argv: Deno.args, cwd: Deno.cwd(), stdin_b64: toBase64(stdin) };
    Deno.writeTextFileSync(record, JSON.stringify(call) + "\n", { append: true });
  }
  const fixture = Deno.args.includes("resume") && plan.resumeFixture
    ? plan.resumeFixture
    : plan.fixture;
  const meta = fixtureMeta(fixture);
  if (plan.sleeper) {
    new Deno.Command("sleep", { args: ["300"], stdin: "null", stdout: "null", stderr: "null" })
      .spawn();
  }
  const bytes = Deno.readFileSync(fixture);
  const lines: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const nl = bytes.indexOf(10, at);
    const end = nl < 0 ? bytes.length : nl + 1;
    lines.push(bytes.subarray(at, end));
    at = end;
  }
  for (const line of lines.slice(0, plan.lines ?? lines.length)) {
    if (plan.lineDelayMs) await sleep(plan.lineDelayMs);
    for (let at = 0; at < line.length;) at += Deno.stdout.writeSync(line.subarray(at));
  }
  Deno.stderr.writeSync(new TextEncoder().encode(plan.stderr ?? meta.stderr));
  if (plan.hang) {
    setInterval(() => {}, 1 << 30);
    return await new Promise<number>(() => {});
  }
  if (plan.killSelf) {
    Deno.kill(Deno.pid, plan.killSelf);
    await sleep(10_000);
  }
  return plan.exitCode ?? meta.exit_code;
}

if (import.meta.main) Deno.exit(await main());
