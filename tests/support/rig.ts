/**
 * The end-to-end rig of the reliability, security and load tests: a mock
 * OpenAI API, a temporary `HOME` and `CODEX_HOME` (a hermetic environment,
 * dev/hermetic.ts), workspaces, and plugins (main.ts subprocesses,
 * dev/plugin.ts) initialized to run the REAL codex against the mock.
 * Disposing it closes every plugin (killing it if it does not exit), the
 * mock, and removes every temp dir.
 *
 * @example
 * ```ts
 * await using rig = await startRig([{ text: "hello" }]);
 * const ws = await rig.workspace();
 * const p = await rig.plugin();
 * const r = await chat(p, ws, "hi");
 * assert.equal(r.text, "hello");
 * ```
 */
import { ensureCodex } from "../../dev/codex.ts";
import {
  type MockApi,
  mockCodexSetup,
  type MockOptions,
  type MockReply,
  startMockApi,
} from "../../dev/mock_api.ts";
import { type Msg, type Plugin, startPlugin } from "../../dev/plugin.ts";
import { hermetic } from "../../dev/hermetic.ts";
import { pidsWithEnv } from "./proc.ts";

/** A running rig. */
export interface Rig extends AsyncDisposable {
  api: MockApi;
  /** Temp dir holding HOME, CODEX_HOME and the workspaces. */
  root: string;
  /**
   * The complete environment of the rig's plugins (spawn with `clearEnv: true`):
   * hermetic (an empty HOME, the rig's CODEX_HOME) and pointing codex at the mock (MOCK_KEY).
   */
  env: Record<string, string>;
  /** The `-c` overrides that point codex at the mock (config `extra_args`). */
  args: string[];
  /** The real codex binary. */
  codex: string;
  /** A new empty workspace. */
  workspace(name?: string): Promise<string>;
  /**
   * Start and initialize a plugin. `config` is merged over the rig's config
   * (real codex, mock `extra_args`); `extra_args` given here are appended.
   */
  plugin(
    config?: Record<string, unknown>,
    opts?: { env?: Record<string, string>; wrap?: string[] },
  ): Promise<Plugin>;
}

/** Start a rig whose mock plays `script` (see {@linkcode startMockApi}). */
export async function startRig(
  script: MockReply[] = [{ text: "ok" }],
  mock: MockOptions = {},
): Promise<Rig> {
  const codex = await ensureCodex();
  const root = await Deno.makeTempDir({ prefix: "plexum-rig-" });
  // Apart from the workspaces, so a test may name one "home".
  const dirs = hermetic(`${root}/.hermetic`); // .hermetic/home, .hermetic/codex-home
  const api = startMockApi(script, mock);
  const setup = mockCodexSetup(api.baseUrl, dirs.codexHome);
  const env = dirs.env(setup.env);
  const plugins: Plugin[] = [];
  let n = 0;
  return {
    api,
    root,
    env,
    args: setup.args,
    codex,
    async workspace(name = `ws${n++}`) {
      const ws = `${root}/${name}`;
      await Deno.mkdir(ws);
      return ws;
    },
    async plugin(config = {}, opts = {}) {
      const extra = (config.extra_args as string[] | undefined) ?? [];
      const p = startPlugin({ env: { ...env, ...opts.env }, wrap: opts.wrap });
      plugins.push(p);
      const init = await p.request("initialize", {
        protocol_version: 1,
        host: { name: "rig", version: "0" },
        config: { binary: codex, ...config, extra_args: [...setup.args, ...extra] },
      });
      if (init.error) throw new Error(`initialize failed: ${JSON.stringify(init.error)}`);
      return p;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(plugins.map(closePlugin));
      await api.close();
      // A Codex whose plugin a test killed ends on its own moments later, and may
      // write into CODEX_HOME until then: remove the tree once none is left.
      const deadline = performance.now() + 5_000;
      while (pidsWithEnv(`CODEX_HOME=${dirs.codexHome}`).length && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await removeTree(root);
      // closePlugin never throws: a protocol violation (dev/protocol_check.ts) fails the test here.
      const broken = plugins.flatMap((p) => p.protocolErrors);
      if (broken.length) throw new Error(broken.join("\n"));
    },
  };
}

/** Remove `dir`, trying again for a few seconds while something still writes into it. */
async function removeTree(dir: string): Promise<void> {
  for (let i = 0; i < 25; i++) {
    try {
      await Deno.remove(dir, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Close a plugin's stdin and wait for it; SIGKILL it after `graceMs`. Never throws. */
export async function closePlugin(p: Plugin, graceMs = 15_000): Promise<void> {
  const timer = setTimeout(() => {
    try {
      p.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, graceMs);
  await p.close().catch(() => {});
  clearTimeout(timer);
}

/** What one turn produced. */
export interface TurnOutcome {
  /** The turn's id (its `turn` log record has it: tests/support/logs.ts). */
  turnId: string;
  response: Msg;
  events: Msg[];
  /** Concatenated text_delta texts. */
  text: string;
  errors: Msg[];
  ms: number;
}

let turns = 0;

/** A `chat` request's params for one user message in `workspace`. */
export function chatParams(
  workspace: string,
  prompt: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    turn_id: `t${++turns}-${crypto.randomUUID().slice(0, 8)}`,
    agent: { id: "agent", workspace },
    messages: [{ role: "user", content: prompt }],
    ...extra,
  };
}

/**
 * Run one turn and wait for its response.
 *
 * @example
 * ```ts
 * const r = await chat(p, ws, "hello");
 * r.response.result.stop_reason; // "end_turn"
 * ```
 */
export async function chat(
  p: Plugin,
  workspace: string,
  prompt: string,
  extra: Record<string, unknown> = {},
  timeoutMs = 120_000,
): Promise<TurnOutcome> {
  const params = chatParams(workspace, prompt, extra);
  const started = performance.now();
  const id = await p.send("chat", params);
  const response = await p.waitFor((m) => m.id === id && !("method" in m), timeoutMs);
  return outcome(p, params.turn_id as string, response, performance.now() - started);
}

/** Collect a finished turn's events. */
export function outcome(p: Plugin, turnId: string, response: Msg, ms: number): TurnOutcome {
  const events = p.eventsOf(turnId);
  return {
    turnId,
    response,
    events,
    text: events.filter((e) => e.type === "text_delta").map((e) => e.text).join(""),
    errors: events.filter((e) => e.type === "error"),
    ms,
  };
}

/** The user texts codex sent in one mock request (the `input_text` parts of user messages). */
export function userTexts(body: Record<string, unknown>): string[] {
  const input = (body.input ?? []) as {
    role?: string;
    content?: { type: string; text?: string }[];
  }[];
  return input.filter((m) => m.role === "user").flatMap((m) =>
    (m.content ?? []).filter((c) => c.type === "input_text").map((c) => c.text ?? "")
  );
}
