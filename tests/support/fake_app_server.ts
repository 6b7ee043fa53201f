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
 * `codex-cli <version>`.
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
  /** Methods never answered. */
  silent?: string[];
  /** Answer `thread/resume` with this -32600 error. */
  resumeError?: string;
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

const self = new URL(import.meta.url).pathname;

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

// ---------------------------------------------------------------- the fake itself

type Json = Record<string, unknown>;

async function main() {
  const dir = Deno.env.get("FAKE_APP_SERVER_DIR")!;
  const enc = new TextEncoder();
  const plan = (): FakeAppServerPlan => JSON.parse(Deno.readTextFileSync(`${dir}/plan.json`));
  const append = (name: string, v: unknown) =>
    Deno.writeTextFileSync(`${dir}/${name}`, JSON.stringify(v) + "\n", { append: true });
  const threadsFile = `${dir}/threads.json`;
  const threads = (): Record<string, Record<string, number>> => {
    try {
      return JSON.parse(Deno.readTextFileSync(threadsFile));
    } catch {
      return {};
    }
  };
  const saveThread = (id: string, totals: Record<string, number>) =>
    Deno.writeTextFileSync(threadsFile, JSON.stringify({ ...threads(), [id]: totals }));
  const send = (m: Json) => {
    try {
      Deno.stdout.writeSync(enc.encode(JSON.stringify(m) + "\n"));
    } catch { /* client gone */ }
  };
  const notify = (method: string, params: Json) =>
    send({ method, params, emittedAtMs: Date.now() });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  if (Deno.args.includes("--version")) {
    console.log(`codex-cli ${plan().version ?? "0.169.0"}`);
    return;
  }
  append("starts.jsonl", { pid: Deno.pid, argv: Deno.args });
  if (Deno.args[0] !== "app-server") {
    console.error(`error: unrecognized subcommand '${Deno.args[0]}'`);
    Deno.exit(2);
  }
  if (plan().initialize === "exit") {
    console.error("error: unrecognized subcommand 'app-server'\n\nUsage: codex [OPTIONS] [PROMPT]");
    Deno.exit(2);
  }
  if (plan().childHelper) {
    new Deno.Command("sleep", { args: ["301"], stdin: "null", stdout: "null", stderr: "null" })
      .spawn();
  }
  if (plan().escapedHelper) {
    // Its shell exits at once: the sleep is an orphan in a session of its own.
    new Deno.Command("sh", {
      args: ["-c", "setsid sleep 300 &"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    })
      .spawn();
  }
  console.error("WARNING: proceeding, even though we could not update PATH: fake app-server");

  const answers = new Map<number | string, () => void>(); // our requests to the client
  const interrupts = new Map<string, () => void>(); // turnId → interrupt it
  let nextServerId = 0;
  const loaded = new Set<string>(); // threads started or resumed by this process
  let turnSeq = 0;

  const rolloutOf = (threadId: string) =>
    plan().rollout ? { path: `${dir}/rollout-${threadId}.jsonl` } : {};

  async function runTurn(threadId: string, turnId: string, p: FakeAppServerPlan, input: string) {
    if (p.rollout) {
      Deno.writeTextFileSync(
        `${dir}/rollout-${threadId}.jsonl`,
        JSON.stringify({ type: "event_msg", payload: { type: "task_started", turn_id: turnId } }) +
          "\n",
        { append: true },
      );
    }
    let interrupted = false;
    interrupts.set(turnId, () => (interrupted = true));
    const ids = { threadId, turnId };
    if (!p.notifyBeforeAnswer) {
      notify("turn/started", { threadId, turn: { id: turnId, status: "inProgress", items: [] } });
    }
    for (const r of p.requests ?? []) {
      const id = nextServerId++;
      const answered = new Promise<void>((res) => answers.set(id, res));
      send({ id, method: r.method, params: { ...ids, ...r.params } });
      await answered;
      notify("serverRequest/resolved", { threadId, requestId: id });
    }
    if (p.fail) {
      const error = { message: p.fail, codexErrorInfo: "other", additionalDetails: null };
      notify("error", { error, willRetry: false, ...ids });
      notify("turn/completed", {
        threadId,
        turn: { id: turnId, status: "failed", error, items: [] },
      });
      interrupts.delete(turnId);
      return;
    }
    const itemId = `msg_${turnId}`;
    if (!p.notifyBeforeAnswer) {
      notify("item/started", { item: { type: "agentMessage", id: itemId, text: "" }, ...ids });
    }
    if (p.hangOn && input.includes(p.hangOn)) {
      notify("item/agentMessage/delta", { ...ids, itemId, delta: "thinking..." });
      await new Promise(() => {}); // and nothing more, ever
    }
    const deltas = p.deltas ?? ["Hello", " world"];
    for (let i = 0; i < (p.noDeltas ? 0 : deltas.length); i++) {
      if (interrupted) break;
      if (p.stopAfter && i === p.stopAfter.deltas) {
        if (p.stopAfter.then === "exit") {
          console.error("thread 'main' panicked: scripted crash");
          Deno.exit(1);
        }
        if (p.stopAfter.then === "kill") Deno.kill(Deno.pid, "SIGKILL");
        await new Promise(() => {}); // hang
      }
      if (p.deltaDelayMs) await sleep(p.deltaDelayMs);
      if (interrupted) break;
      notify("item/agentMessage/delta", { ...ids, itemId, delta: deltas[i] });
    }
    const u = p.usage ?? { input: 100, cached: 20, output: 7, reasoning: 3 };
    const totals = threads()[threadId] ?? {};
    for (let c = 0; c < (interrupted ? 1 : p.calls ?? 1); c++) {
      const add = (k: string, v: number) => (totals[k] = (totals[k] ?? 0) + v);
      add("inputTokens", u.input);
      add("cachedInputTokens", u.cached);
      add("outputTokens", u.output);
      add("reasoningOutputTokens", u.reasoning);
      add("totalTokens", u.input + u.output);
      const last = {
        inputTokens: u.input,
        cachedInputTokens: u.cached,
        outputTokens: u.output,
        reasoningOutputTokens: u.reasoning,
        totalTokens: u.input + u.output,
      };
      notify("thread/tokenUsage/updated", {
        ...ids,
        tokenUsage: { total: { ...totals }, last, modelContextWindow: 258400 },
      });
    }
    saveThread(threadId, totals);
    if (!interrupted) {
      notify("item/completed", {
        item: { type: "agentMessage", id: itemId, text: deltas.join("") },
        ...ids,
      });
    }
    notify("thread/status/changed", { threadId, status: { type: "idle" } });
    notify("turn/completed", {
      threadId,
      turn: {
        id: turnId,
        status: interrupted ? "interrupted" : "completed",
        error: null,
        items: [],
      },
    });
    interrupts.delete(turnId);
    if (p.unloadAfterTurn) loaded.delete(threadId);
  }

  const handle = (m: Json) => {
    const p = plan();
    const id = m.id as number | string | undefined;
    const method = m.method as string | undefined;
    if (method === undefined) { // an answer to one of our requests
      answers.get(id!)?.();
      answers.delete(id!);
      return;
    }
    if (p.silent?.includes(method)) return;
    const params = (m.params ?? {}) as Json;
    const reply = (result: Json) => send({ id, result });
    const fail = (code: number, message: string) => send({ id, error: { code, message } });
    switch (method) {
      case "initialize":
        if (p.initialize === "silent") return;
        if (p.garbage) {
          Deno.stdout.writeSync(enc.encode("not json at all\n[1,2,3]\n\n"));
        }
        reply({
          userAgent: `fake/${p.version ?? "0.169.0"} (fake)`,
          codexHome: dir,
          platformFamily: "unix",
        });
        notify("configWarning", { summary: "fake app-server" });
        return;
      case "account/login/start":
        reply({ type: "apiKey" });
        return;
      case "thread/start": {
        const threadId = crypto.randomUUID();
        saveThread(threadId, {});
        loaded.add(threadId);
        reply({
          thread: { id: threadId, cwd: params.cwd, ...rolloutOf(threadId) },
          cwd: params.cwd,
        });
        notify("thread/started", { thread: { id: threadId } });
        return;
      }
      case "thread/resume": {
        const threadId = params.threadId as string;
        if (p.resumeError) return fail(-32600, p.resumeError.replace("{id}", threadId));
        if (!(threadId in threads())) {
          return fail(-32600, `no rollout found for thread id ${threadId}`);
        }
        loaded.add(threadId);
        reply({
          thread: { id: threadId, cwd: params.cwd, turns: [], ...rolloutOf(threadId) },
          cwd: params.cwd,
        });
        return;
      }
      case "turn/start": {
        const threadId = params.threadId as string;
        if (!loaded.has(threadId)) return fail(-32600, `thread not found: ${threadId}`);
        const turnId = `turn-${Deno.pid}-${++turnSeq}`;
        if (p.notifyBeforeAnswer) {
          notify("turn/started", { threadId, turn: { id: turnId, status: "inProgress" } });
          notify("item/started", {
            item: { type: "agentMessage", id: `msg_${turnId}`, text: "" },
            threadId,
            turnId,
          });
        }
        const go = () => {
          reply({ turn: { id: turnId, status: "inProgress", items: [] } });
          runTurn(threadId, turnId, p, JSON.stringify(params.input ?? ""));
        };
        if (p.turnStartDelayMs) setTimeout(go, p.turnStartDelayMs);
        else go();
        return;
      }
      case "turn/interrupt": {
        const turnId = params.turnId as string;
        const stop = interrupts.get(turnId);
        if (!stop) return fail(-32600, "no active turn to interrupt");
        if (p.interrupt === "silent") return;
        reply({});
        if (p.interrupt !== "answer-only") stop();
        return;
      }
      default:
        return fail(-32600, `Invalid request: unknown variant \`${method}\``);
    }
  };

  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of Deno.stdin.readable) {
    buf += dec.decode(chunk, { stream: true });
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m: Json;
      try {
        m = JSON.parse(line);
      } catch {
        console.error("ERROR codex_app_server_transport: Failed to deserialize JSONRPCMessage");
        continue;
      }
      append("received.jsonl", { pid: Deno.pid, msg: m });
      handle(m);
    }
  }
  Deno.exit(0); // stdin EOF: the client is gone
}

if (import.meta.main) await main();
