/**
 * A stand-in `codex` whose `app-server` asks its client questions: after
 * answering `turn/start` it sends every server→client request of its plan
 * (approvals, elicitations, a tool call, an auth refresh, a kind no release
 * has) and finishes the turn only once each has been answered. Real Codex
 * sends none of these under the plugin's `never`/`danger-full-access`
 * policy, so this is how the end-to-end tests prove that no turn hangs on
 * one. It can also hang a turn and ignore `turn/interrupt`, as a wedged
 * app-server would. Every line the client sends is recorded.
 *
 * The wire shapes follow the recorded 0.169.0 transcripts
 * (fixtures/app-server/0.169.0); `--version` prints `codex-cli 0.169.0`.
 *
 * @example
 * ```ts
 * await using fake = await installFakeAppServer({ requests: [
 *   { method: "item/commandExecution/requestApproval", params: { command: "rm -rf /" } },
 * ] });
 * // config: { binary: fake.binary, backend: "app-server" }
 * (await fake.received()).filter((m) => !("method" in m)); // the answers
 * ```
 *
 * @module
 */

/** What the fake does when run. */
export interface AppServerPlan {
  /** Sent right after the `turn/start` response, ids 0, 1, ...; `threadId`/`turnId` are added. */
  requests: { method: string; params: Record<string, unknown> }[];
  /** The agent message of each turn. */
  text?: string;
  /** A turn whose input text contains this streams one delta, then nothing more. */
  hangOn?: string;
  /** Never answer `turn/interrupt` (a wedged app-server). */
  ignoreInterrupt?: boolean;
  /** Send the agent message only in `item/completed`, without deltas. */
  noDeltas?: boolean;
}

/** An installed fake. */
export interface FakeAppServer extends AsyncDisposable {
  /** The wrapper script: use it as config `binary`. */
  binary: string;
  /** Every message the client sent, oldest first. */
  received(): Promise<Record<string, unknown>[]>;
}

const self = new URL(import.meta.url).pathname;

/** Write the wrapper and plan into a new temp dir. */
export async function installFakeAppServer(plan: AppServerPlan): Promise<FakeAppServer> {
  const dir = await Deno.makeTempDir({ prefix: "fake-app-server-" });
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  await Deno.writeTextFile(`${dir}/plan.json`, JSON.stringify(plan));
  const binary = `${dir}/codex`;
  await Deno.writeTextFile(
    binary,
    `#!/bin/sh\nFAKE_APP_SERVER_DIR=${q(dir)} exec ${q(Deno.execPath())} run --no-config ` +
      `--no-prompt --allow-all ${q(self)} "$@"\n`,
    { mode: 0o755 },
  );
  return {
    binary,
    async received() {
      const text = await Deno.readTextFile(`${dir}/received.jsonl`).catch(() => "");
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

const enc = new TextEncoder();

async function main() {
  if (Deno.args.includes("--version")) {
    console.log("codex-cli 0.169.0");
    return;
  }
  if (!Deno.args.includes("app-server")) {
    console.error("fake app-server: only `app-server` and `--version` are faked");
    Deno.exit(2);
  }
  const dir = Deno.env.get("FAKE_APP_SERVER_DIR")!;
  const plan: AppServerPlan = JSON.parse(await Deno.readTextFile(`${dir}/plan.json`));
  const send = async (msg: unknown) => {
    const bytes = enc.encode(JSON.stringify(msg) + "\n");
    for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
  };
  let threadId: string = crypto.randomUUID(); // one thread per process; a resumed one keeps its id
  let turns = 0;
  /** Server request ids still waiting for their answer, and what to do once none is. */
  const pending = new Set<number>();
  let whenAnswered: (() => Promise<void>) | undefined;

  const thread = (cwd: unknown) => ({
    thread: { id: threadId, sessionId: threadId, preview: "", status: { type: "idle" }, cwd },
    model: "fake",
    modelProvider: "mock",
    cwd,
    approvalPolicy: "never",
    sandbox: { type: "dangerFullAccess" },
  });
  const finishTurn = async (turnId: string) => {
    const base = { threadId, turnId };
    const text = plan.text ?? "answered";
    const item = { type: "agentMessage", id: `msg_${turnId}`, text: "" };
    await send({ method: "item/started", params: { ...base, item } });
    if (!plan.noDeltas) {
      await send({
        method: "item/agentMessage/delta",
        params: { ...base, itemId: item.id, delta: text },
      });
    }
    await send({ method: "item/completed", params: { ...base, item: { ...item, text } } });
    const n = turns;
    const usage = (k: number) => ({
      totalTokens: 127 * k,
      inputTokens: 120 * k,
      cachedInputTokens: 20 * k,
      outputTokens: 7 * k,
      reasoningOutputTokens: 3 * k,
    });
    await send({
      method: "thread/tokenUsage/updated",
      params: { ...base, tokenUsage: { total: usage(n), last: usage(1), modelContextWindow: 1 } },
    });
    await send({
      method: "turn/completed",
      params: {
        threadId,
        turn: { id: turnId, items: [], status: "completed", error: null },
      },
    });
  };

  let buf = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      await Deno.writeTextFile(`${dir}/received.jsonl`, line + "\n", { append: true });
      // deno-lint-ignore no-explicit-any
      const msg = JSON.parse(line) as any;
      if (msg.method === undefined) { // an answer to one of our requests
        pending.delete(msg.id);
        if (pending.size === 0 && whenAnswered) {
          const then = whenAnswered;
          whenAnswered = undefined;
          await then();
        }
        continue;
      }
      if (msg.id === undefined) continue; // a notification (initialized)
      const reply = (result: unknown) => send({ id: msg.id, result });
      switch (msg.method) {
        case "initialize":
          await reply({
            userAgent: "fake/0.169.0",
            codexHome: Deno.env.get("CODEX_HOME") ?? "",
            platformFamily: "unix",
            platformOs: "linux",
          });
          break;
        case "thread/start":
        case "thread/resume":
          if (msg.method === "thread/resume") threadId = String(msg.params?.threadId);
          await reply(thread(msg.params?.cwd));
          if (msg.method === "thread/start") {
            await send({ method: "thread/started", params: { thread: thread(null).thread } });
          }
          break;
        case "turn/start": {
          const turnId = `turn-${++turns}`;
          await reply({ turn: { id: turnId, items: [], status: "inProgress", error: null } });
          await send({
            method: "turn/started",
            params: { threadId, turn: { id: turnId, items: [], status: "inProgress" } },
          });
          const input = JSON.stringify(msg.params?.input ?? "");
          if (plan.hangOn && input.includes(plan.hangOn)) {
            const item = { type: "agentMessage", id: `msg_${turnId}`, text: "" };
            await send({ method: "item/started", params: { threadId, turnId, item } });
            await send({
              method: "item/agentMessage/delta",
              params: { threadId, turnId, itemId: item.id, delta: "thinking..." },
            });
            break; // and nothing more, ever
          }
          if (plan.requests.length === 0) {
            await finishTurn(turnId);
            break;
          }
          whenAnswered = () => finishTurn(turnId);
          for (const [i, r] of plan.requests.entries()) {
            const id = 1000 * turns + i;
            pending.add(id);
            await send({ id, method: r.method, params: { threadId, turnId, ...r.params } });
          }
          break;
        }
        case "turn/interrupt":
          if (!plan.ignoreInterrupt) await reply({});
          break;
        default:
          await reply({});
      }
    }
  }
}

if (import.meta.main) await main();
