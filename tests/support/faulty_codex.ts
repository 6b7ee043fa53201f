/**
 * A misbehaving `codex` for the fault and security tests: it prints whatever
 * its plan says on stdout (garbage, truncated JSON, invalid UTF-8, one line of
 * many MiB), can then fall silent forever (with a `sleep` child in its process
 * group, optionally ignoring SIGTERM), and records every invocation's argv,
 * stdin and cwd. Unlike dev/fake_codex.ts it does not replay
 * fixtures: each plan is written by the test that needs it.
 *
 * {@linkcode installFaultyCodex} writes a `#!/bin/sh` wrapper that execs
 * `deno run` on this file; the wrapper's path is the config `binary`.
 *
 * @example
 * ```ts
 * await using fake = await installFaultyCodex({ steps: [
 *   { line: '{"type":"thread.started","thread_id":"0199a0b1-0000-7000-8000-000000000001"}' },
 *   { bytes: [0xff, 0xfe] },
 *   { hang: true },
 * ] });
 * // config: { binary: fake.binary }
 * (await fake.calls())[0].argv;
 * ```
 *
 * @module
 */

/** One thing the fake does, in order. */
export type Step =
  /** Print this text plus a newline. */
  | { line: string }
  /** Print these raw bytes plus a newline (e.g. invalid UTF-8). */
  | { bytes: number[] }
  /** Print an `item.completed` command_execution whose aggregated_output is this many bytes. */
  | { hugeOutput: number }
  /** Print this text on stderr plus a newline. */
  | { stderr: string }
  /** Wait. */
  | { sleepMs: number }
  /** Print nothing more and never exit. */
  | { hang: true };

/** What the fake does when run. */
export interface FaultPlan {
  steps: Step[];
  /** Start `sleep 300` in the same process group (it shares stdout) before the steps. */
  sleeper?: boolean;
  /**
   * Start `setsid sleep 300`: a session of its own, as codex does with the login
   * shell that snapshots the environment, so a group kill alone misses it.
   */
  escapee?: boolean;
  /**
   * Leave `sleep 300` behind in a session of its own, its parent already gone,
   * holding this process's stdout and stderr: only the run's environment marker
   * still ties it to codex; with "clean-env" it drops that too.
   */
  orphanHoldingPipes?: boolean | "clean-env";
  /** Ignore SIGTERM (so only SIGKILL ends it). */
  ignoreTerm?: boolean;
  /** Exit code after the steps (default 0). */
  exitCode?: number;
}

/** One invocation, as recorded. */
export interface FaultyCall {
  argv: string[];
  stdin: string;
  cwd: string;
  pid: number;
}

/** An installed fake. */
export interface FaultyCodex extends AsyncDisposable {
  /** The wrapper script: use it as config `binary`. */
  binary: string;
  dir: string;
  /** Every invocation so far, oldest first. */
  calls(): Promise<FaultyCall[]>;
}

const self = new URL(import.meta.url).pathname;

/** Write the wrapper and plan into a new temp dir (whose name may contain a space). */
export async function installFaultyCodex(plan: FaultPlan): Promise<FaultyCodex> {
  const dir = await Deno.makeTempDir({ prefix: "faulty codex-" });
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(plan));
  const binary = `${dir}/codex`;
  await Deno.writeTextFile(
    binary,
    `#!/bin/sh\nFAULTY_CODEX_DIR=${q(dir)} exec ${q(Deno.execPath())} run --no-config ` +
      `--no-prompt --allow-all ${q(self)} "$@"\n`,
    { mode: 0o755 },
  );
  return {
    binary,
    dir,
    async calls() {
      const text = await Deno.readTextFile(`${dir}/calls.jsonl`).catch(() => "");
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

const enc = new TextEncoder();

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length;) at += await w.write(bytes.subarray(at));
}

/** The bytes of one command_execution line with `n` bytes of output, built without a big string. */
function hugeLine(n: number): Uint8Array {
  const head = enc.encode(
    '{"type":"item.completed","item":{"id":"item_0","type":"command_execution",' +
      '"command":"/bin/bash -lc \'yes x | head\'","aggregated_output":"',
  );
  const tail = enc.encode('","exit_code":0,"status":"completed"}}\n');
  const out = new Uint8Array(head.length + n + tail.length);
  out.set(head, 0);
  out.fill(0x78, head.length, head.length + n); // "x"
  out.set(tail, head.length + n);
  return out;
}

async function main() {
  const dir = Deno.env.get("FAULTY_CODEX_DIR")!;
  const plan: FaultPlan = JSON.parse(await Deno.readTextFile(`${dir}/plan.json`));
  const stdin = await new Response(Deno.stdin.readable).text();
  const call: FaultyCall = { argv: Deno.args, stdin, cwd: Deno.cwd(), pid: Deno.pid };
  await Deno.writeTextFile(`${dir}/calls.jsonl`, JSON.stringify(call) + "\n", { append: true });
  if (plan.ignoreTerm) Deno.addSignalListener("SIGTERM", () => {});
  if (plan.sleeper) new Deno.Command("sleep", { args: ["300"], stdin: "null" }).spawn();
  if (plan.orphanHoldingPipes) {
    // "clean-env": the orphan also drops its environment, and with it the run's marker.
    // It says when it is in its own session: until then it is still in codex's
    // group, and a scan in that window would find it (a flaky test, not a fault).
    const ready = `${dir}/orphan-ready-${Deno.pid}`;
    const cmd = plan.orphanHoldingPipes === "clean-env"
      ? 'env -i "$(command -v setsid)" /bin/sh -c \'touch "$1"; exec sleep 300\' _ "$0" &'
      : 'setsid /bin/sh -c \'touch "$1"; exec sleep 300\' _ "$0" &';
    const sh = new Deno.Command("sh", { args: ["-c", cmd, ready], stdin: "null" });
    await sh.spawn().status; // stdout and stderr inherited: the orphan holds them
    for (let i = 0; i < 500 && !(await Deno.stat(ready).catch(() => undefined)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  if (plan.escapee) {
    new Deno.Command("setsid", { args: ["sleep", "300"], stdin: "null", stdout: "null" }).spawn();
  }
  for (const step of plan.steps) {
    if ("line" in step) await writeAll(Deno.stdout, enc.encode(step.line + "\n"));
    else if ("bytes" in step) {
      await writeAll(Deno.stdout, new Uint8Array([...step.bytes, 10]));
    } else if ("hugeOutput" in step) await writeAll(Deno.stdout, hugeLine(step.hugeOutput));
    else if ("stderr" in step) await writeAll(Deno.stderr, enc.encode(step.stderr + "\n"));
    else if ("sleepMs" in step) await new Promise((r) => setTimeout(r, step.sleepMs));
    else if ("hang" in step) await new Promise(() => setInterval(() => {}, 60_000));
  }
  Deno.exit(plan.exitCode ?? 0);
}

if (import.meta.main) await main();
