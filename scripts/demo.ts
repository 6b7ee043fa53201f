/**
 * `deno task demo`: the reference host (scripts/host.ts) drives the plugin
 * through two turns in one workspace, the second resuming the first's Codex
 * thread. No account, no network:
 *
 * - the real Codex CLI (0.169.0, installed from npm into `.tools/` when
 *   missing) talks to a local mock of the OpenAI Responses API
 *   (dev/mock_api.ts), which shows that turn 2 carried turn 1;
 * - where that CLI cannot be had (or with `--fake`), a fake codex replays
 *   recorded Codex output from `fixtures/` (dev/fake_codex.ts).
 *
 * Exits 0 only when both turns ended normally in the same thread (and, with the
 * real CLI, the mock saw turn 1's history in turn 2's request).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CODEX_VERSION, ensureCodex } from "../dev/codex.ts";
import { hermetic } from "../dev/hermetic.ts";
import { type MockApi, mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { testBackend } from "../dev/plugin.ts";
import { runHost } from "./host.ts";

const PROMPTS = ["Say hello.", "What did you just say?"];
/** What the mock answers; the recorded fixtures were made with the same script. */
const REPLIES = ["Hello from the mock API.", "I said hello."];
const root = new URL("../", import.meta.url).pathname;

/** How Codex runs in this demo, and how to tidy up after it. */
interface Backend {
  label: string;
  config: Record<string, unknown>;
  /** The plugin's whole environment: hermetic (dev/hermetic.ts), so no shell profile slows Codex. */
  env: Record<string, string>;
  api?: MockApi;
  /** For the fake: the argv of each codex invocation. */
  calls?: () => Promise<{ argv: string[] }[]>;
  cleanup(): Promise<void>;
}

const say = (s = "") => console.log(s);

async function realCodex(): Promise<Backend> {
  const binary = await ensureCodex(CODEX_VERSION);
  const api = startMockApi([{ text: REPLIES[0], chunks: 4 }, { text: REPLIES[1], chunks: 3 }]);
  const dirs = hermetic(); // an empty HOME and CODEX_HOME
  const { args, env } = mockCodexSetup(api.baseUrl, dirs.codexHome);
  return {
    label: `the real Codex CLI ${CODEX_VERSION} (${binary}) against the mock API at ${api.baseUrl}`,
    config: { ...testBackend(), binary, extra_args: args }, // PLEXUM_TEST_BACKEND, for the tests
    env: dirs.env(env),
    api,
    async cleanup() {
      await api.close();
      await dirs[Symbol.asyncDispose]();
    },
  };
}

/** The fake codex; loaded at run time so a checkout without it still runs the real path. */
async function fakeCodex(): Promise<Backend> {
  const fixtures = `${root}fixtures/${CODEX_VERSION}`;
  const support = new URL("../dev/fake_codex.ts", import.meta.url);
  for (const need of [`${fixtures}/plain.jsonl`, `${fixtures}/resume.jsonl`, support.pathname]) {
    try {
      await Deno.stat(need);
    } catch {
      throw new Error(`${need} is missing, so there is no recorded Codex output to replay`);
    }
  }
  const mod = await import(support.href);
  const fake = await mod.installFakeCodex({
    fixture: `${fixtures}/plain.jsonl`,
    resumeFixture: `${fixtures}/resume.jsonl`,
    lineDelayMs: 50,
  });
  const dirs = hermetic();
  return {
    label: `a fake codex replaying fixtures/${CODEX_VERSION}/{plain,resume}.jsonl (recorded from ` +
      `the real CLI against the mock API)`,
    config: { binary: fake.binary, backend: "exec" }, // the fake replays codex exec's output
    env: dirs.env(),
    calls: () => fake.calls(),
    async cleanup() {
      await fake[Symbol.asyncDispose]();
      await dirs[Symbol.asyncDispose]();
    },
  };
}

/** Text of every input message of `role` in one request the mock received. */
function texts(req: Record<string, unknown>, role: string): string[] {
  const input = (req.input ?? []) as {
    type?: string;
    role?: string;
    content?: { text?: string }[];
  }[];
  return input.filter((i) => i.type === "message" && i.role === role)
    .flatMap((i) => (i.content ?? []).map((c) => c.text ?? ""));
}

async function main(): Promise<number> {
  const { values } = parseArgs({ args: Deno.args, options: { fake: { type: "boolean" } } });
  let backend: Backend;
  if (values.fake) backend = await fakeCodex();
  else {
    try {
      backend = await realCodex();
    } catch (e) {
      say(`The real Codex CLI ${CODEX_VERSION} is not available: ${(e as Error).message.trim()}`);
      say("Falling back to a fake codex that replays recorded output.");
      backend = await fakeCodex();
    }
  }
  const ws = await Deno.makeTempDir({ prefix: "plexum-demo-ws-" });
  const problems: string[] = [];
  try {
    say("Plexum plugin demo: scripts/host.ts drives the plugin (main.ts) over JSON-RPC.");
    say(`Codex: ${backend.label}.`);
    say("Model text goes to stdout, the host's notes to stderr.");
    const { turns } = await runHost({
      config: backend.config,
      env: backend.env,
      clearEnv: true,
      workspace: ws,
      messages: PROMPTS,
    });
    say("\n--- what happened ---");
    for (const [i, t] of turns.entries()) {
      say(
        `turn ${i + 1}: ${t.stop_reason}, thread ${t.thread_id}, ` +
          `input_tokens ${t.usage?.input_tokens} (this turn only), reply ${JSON.stringify(t.text)}`,
      );
      if (t.stop_reason !== "end_turn") problems.push(`turn ${i + 1} ended with ${t.stop_reason}`);
    }
    const [one, two] = turns;
    if (one?.thread_id && one.thread_id === two?.thread_id) {
      say(`same thread: yes, turn 2 resumed ${one.thread_id}`);
    } else {problems.push(
        `the turns ran in different threads (${one?.thread_id}, ${two?.thread_id})`,
      );}
    const stored = (await Deno.readTextFile(`${ws}/.plexum-codex-session`)).trim();
    say(`${ws}/.plexum-codex-session holds ${stored}`);
    if (backend.api) {
      const req = backend.api.requests[1] ?? {};
      const users = texts(req, "user");
      const replies = texts(req, "assistant");
      if (users.includes(PROMPTS[0]) && replies.includes(one?.text ?? "")) {
        say(
          `history: the mock's 2nd request carried turn 1: user ${JSON.stringify(PROMPTS[0])}, ` +
            `assistant ${JSON.stringify(one.text)}, then user ${JSON.stringify(users.at(-1))}`,
        );
      } else problems.push("the mock's second request did not carry turn 1's messages");
    } else if (backend.calls) {
      const argv = (await backend.calls())[1]?.argv ?? [];
      const at = argv.indexOf("resume");
      if (at >= 0) {
        say(
          `history: turn 2 ran \`codex ${argv[0]} ... ${argv.slice(at).join(" ")}\` ` +
            "(a replay: there is no mock API to show the history it carried)",
        );
      } else problems.push("turn 2 did not run `codex exec ... resume`");
    }
  } finally {
    await backend.cleanup();
    await Deno.remove(ws, { recursive: true });
  }
  for (const p of problems) console.error(`demo: ${p}`);
  say(problems.length ? "demo FAILED" : "demo OK");
  return problems.length ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`demo: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
