/**
 * The one fake `codex app-server` of the tests: it speaks the wire as the
 * real one does (no `"jsonrpc"` field, notifications in the recorded 0.169.0
 * order, one `item/agentMessage/delta` per piece of text, cumulative
 * `thread/tokenUsage/updated`), and misbehaves on demand: silence, a crash
 * mid-turn, a turn that hangs, an interrupt it never confirms, a thread held
 * by another writer, questions for the client (approvals, elicitations, a
 * tool call, an auth refresh, a kind no release has: real Codex sends none
 * under the plugin's `never` policy, so this is how tests prove no turn hangs
 * on one), notifications before the `turn/start` answer.
 *
 * Threads and their token totals persist in the fake's directory, so a
 * restarted fake resumes them and a thread it never started is "no rollout
 * found". The plan is read again at each request, so a test may change it
 * between turns ({@linkcode FakeAppServer.setPlan}). Every message the
 * client sends is recorded with the fake's pid. `--version` prints
 * `codex-cli <version>`. This module installs it; the process itself is
 * tests/support/fake_app_server_main.ts.
 *
 * @example
 * ```ts
 * await using fake = await installFakeAppServer({ deltas: ["Hel", "lo"] });
 * // config: { ...DEFAULTS, binary: fake.binary, backend: "app-server" }
 * (await fake.received()).map((r) => r.msg.method);
 * ```
 *
 * @module
 */

/** What the fake does; every field optional. */
export interface FakeAppServerPlan {
  /** `exit`: print a clap error and exit 2 (a Codex without the subcommand). */
  initialize?: "ok" | "silent" | "exit";
  /** The agent message, one delta per piece (default `["Hello", " world"]`). */
  deltas?: string[];
  /** Send the agent message only in `item/completed`, without deltas. */
  noDeltas?: boolean;
  /** A turn whose input contains this text streams one delta, then nothing more, ever. */
  hangOn?: string;
  deltaDelayMs?: number;
  /** Send `turn/started` and the message's `item/started` before answering `turn/start`. */
  notifyBeforeAnswer?: boolean;
  /** After this many deltas: fall silent, exit 1, or SIGKILL itself. */
  stopAfter?: { deltas: number; then: "hang" | "exit" | "kill" };
  /** `silent`: no answer, no completion; `answer-only`: `{}` but the turn never completes. */
  interrupt?: "confirm" | "silent" | "answer-only";
  /** Methods never answered (`*`: every method, once initialized). */
  silent?: string[];
  /** Answer `thread/resume` with this -32600 error (only the first `resumeErrorTimes`, if given). */
  resumeError?: string;
  resumeErrorTimes?: number;
  /** A `turn/start` whose input contains this text is never answered. */
  silentOn?: string;
  /** Sent to the client after the `turn/start` answer; the turn completes once all are answered. */
  requests?: { method: string; params?: Record<string, unknown> }[];
  /** The turn fails with this message (an `error` notification, then `failed`). */
  fail?: string;
  /** Answer `turn/start` (and start the turn) only after this long. */
  turnStartDelayMs?: number;
  /** Unload the thread when its turn ends (a later turn/start on it: "thread not found"). */
  unloadAfterTurn?: boolean;
  /** Tokens of each model call (default input 100, cached 20, output 7, reasoning 3). */
  usage?: { input: number; cached: number; output: number; reasoning: number };
  /** Model calls (`thread/tokenUsage/updated`) per turn (default 1). */
  calls?: number;
  /** Lines that are not JSON, printed before the `initialize` answer. */
  garbage?: boolean;
  /** At startup, leave `sleep 300` behind: an orphan in a session of its own (escapes the group). */
  escapedHelper?: boolean;
  /** At startup, start `sleep 301` as its own child (like a code-mode host or an MCP server). */
  childHelper?: boolean;
  /**
   * Keep a rollout file per thread, `rollout-<id>.jsonl` in the fake's dir, named as `thread.path`
   * by thread/start and thread/resume, with a `task_started` line (`payload.turn_id`) per turn.
   */
  rollout?: boolean;
  /** The Codex version in the `initialize` userAgent (default 0.169.0). */
  version?: string;
}

/** One message the client sent. */
export interface Received {
  pid: number;
  msg: Record<string, unknown>;
}

/** An installed fake. */
export interface FakeAppServer extends AsyncDisposable {
  /** The wrapper script: config `binary`. */
  binary: string;
  dir: string;
  setPlan(plan: FakeAppServerPlan): Promise<void>;
  /** Every message received so far, oldest first. */
  received(): Promise<Received[]>;
  /** argv of each start, oldest first. */
  starts(): Promise<{ pid: number; argv: string[] }[]>;
}

/** The fake itself (tests/support/fake_app_server_main.ts), run by the wrapper. */
const self = new URL("./fake_app_server_main.ts", import.meta.url).pathname;

/** Write the wrapper and plan into a new temp dir. */
export async function installFakeAppServer(
  plan: FakeAppServerPlan = {},
): Promise<FakeAppServer> {
  const dir = await Deno.makeTempDir({ prefix: "fake-app-server-" });
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const binary = `${dir}/codex`;
  await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(plan));
  await Deno.writeTextFile(
    binary,
    [
      "#!/bin/sh",
      `FAKE_APP_SERVER_DIR=${q(dir)}`,
      "export FAKE_APP_SERVER_DIR",
      `exec ${q(Deno.execPath())} run --no-config --no-lock --quiet -A ${q(self)} "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const lines = async (name: string) => {
    const text = await Deno.readTextFile(`${dir}/${name}`).catch(() => "");
    return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  };
  return {
    binary,
    dir,
    setPlan: (p) => Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(p)),
    received: () => lines("received.jsonl"),
    starts: () => lines("starts.jsonl"),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
