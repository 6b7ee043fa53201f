/**
 * The process of the fake `codex app-server` that tests/support/fake_app_server.ts
 * installs (see that module for what it does and how a test steers it): it
 * reads its plan from `$FAKE_APP_SERVER_DIR/plan.json` at each request and
 * records what it receives next to it.
 *
 * @example
 * ```sh
 * FAKE_APP_SERVER_DIR=/tmp/fake deno run -A tests/support/fake_app_server_main.ts app-server
 * ```
 *
 * @module
 */
import { delay } from "../../lib/async.ts";
import type { FakeAppServerPlan } from "./fake_app_server.ts";

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
      if (p.deltaDelayMs) await delay(p.deltaDelayMs);
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

  let resumesRefused = 0;
  const handle = (m: Json) => {
    const p = plan();
    const id = m.id as number | string | undefined;
    const method = m.method as string | undefined;
    if (method === undefined) { // an answer to one of our requests
      answers.get(id!)?.();
      answers.delete(id!);
      return;
    }
    if (p.silent?.includes(method) || (p.silent?.includes("*") && method !== "initialize")) return;
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
        if (p.resumeError && (p.resumeErrorTimes ?? Infinity) > resumesRefused++) {
          return fail(-32600, p.resumeError.replace("{id}", threadId));
        }
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
        if (p.silentOn && JSON.stringify(params.input ?? "").includes(p.silentOn)) return;
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
        if (p.turnStartDelayMs) delay(p.turnStartDelayMs).then(go);
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
