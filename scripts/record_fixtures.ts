/**
 * Records `fixtures/<version>/` from the REAL Codex CLI running offline
 * against the mock Responses API (dev/mock_api.ts). Each scenario
 * gives `NAME.jsonl` (codex's stdout, byte for byte) and `NAME.meta.json`
 * (exit code, stderr, codex version, argv, prompt, mock script).
 *
 * Nothing in a fixture is edited after recording: thread ids, the mock's port
 * and temp paths are whatever the recording run produced.
 *
 * @example
 * ```sh
 * deno task record                          # 0.169.0
 * deno task record --codex-version 0.135.0
 * deno task record --codex-version 0.169.0 --codex-version 0.135.0
 * deno task record --codex-version 0.135.0 --scenario usage_limit --scenario quota
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { execArgs } from "../lib/codex/exec/argv.ts";
import { ensureCodex } from "../dev/codex.ts";
import { hermetic } from "../dev/hermetic.ts";
import { mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";

/** The sidecar written next to each `NAME.jsonl`. */
export interface FixtureMeta {
  name: string;
  codex_version: string;
  /** argv after the binary, exactly as codex got it. */
  argv: string[];
  /** The prompt written to codex's stdin. */
  prompt: string;
  exit_code: number;
  stderr: string;
  /** What the mock API answered, in order. */
  mock_script: MockReply[];
  /** Extra facts about the scenario (e.g. which fixture it resumes). */
  notes?: string;
}

/** One recording: a mock script, a prompt, and whether to resume an earlier thread. */
interface Scenario {
  name: string;
  prompt: string;
  script: MockReply[];
  /** Resume the thread of this earlier scenario (same CODEX_HOME), or "unknown". */
  resume?: string | "unknown";
  /** Extra `-c` overrides for codex. */
  extra?: string[];
  /** Extra environment for codex (e.g. `TZ`, so printed times do not depend on the machine). */
  env?: Record<string, string>;
  notes?: string;
}

/** Every scenario, in recording order (`resume` refers to an earlier one). */
export const SCENARIOS: readonly Scenario[] = [
  { name: "plain", prompt: "Say hello.", script: [{ text: "Hello from the mock API." }] },
  {
    name: "resume",
    prompt: "What did you just say?",
    script: [{ text: "I said hello." }],
    resume: "plain",
    notes: "second turn of the thread started by plain.jsonl (usage is the thread's total)",
  },
  { name: "failed", prompt: "Say hello.", script: [{ status: 401 }] },
  {
    name: "command",
    prompt: "Run echo hi.",
    script: [{ shell: "echo hi", via: "function" }, { text: "The command printed hi." }],
  },
  {
    name: "reasoning",
    prompt: "Think, then greet.",
    script: [{ reasoning: "The user wants a greeting.", text: "Hi there!" }],
  },
  {
    name: "stale_resume",
    prompt: "Say hello.",
    script: [{ text: "never sent" }],
    resume: "unknown",
    notes: "resumes a thread id codex never saw",
  },
  {
    name: "reconnect",
    prompt: "Say hello.",
    script: [{ hang: true }, { text: "Hello after a retry." }],
    extra: [
      "-c",
      "model_providers.mock.stream_max_retries=2",
      "-c",
      "model_providers.mock.stream_idle_timeout_ms=300",
    ],
    notes: "first stream stalls; codex prints a non-fatal Reconnecting... error and retries",
  },
  {
    name: "two_messages",
    prompt: "Run echo hi and tell me.",
    // The mock sends a reply's `text` after its tool call, so the model both
    // speaks and calls the tool: two agent messages in one turn.
    script: [
      { shell: "echo hi", via: "function", text: "Let me check." } as MockReply,
      { text: "It printed hi." },
    ],
  },
  ...usageLimitScenarios(),
];

/**
 * How the releases report a usage or rate limit (lib/codex/codex_errors.ts):
 * the mock answers 429 with the bodies the API sends. Recorded with `TZ=UTC`;
 * the reset times are relative to the recording, and kept in the mock script.
 */
function usageLimitScenarios(): Scenario[] {
  const now = Math.floor(Date.now() / 1000);
  const limit = (extra: Record<string, unknown>): MockReply => ({
    status: 429,
    body: JSON.stringify({
      error: { type: "usage_limit_reached", message: "The usage limit has been reached", ...extra },
    }),
  });
  const utc = { TZ: "UTC" };
  return [
    {
      name: "usage_limit",
      prompt: "Say hello.",
      script: [limit({ plan_type: "plus", resets_at: now + 1234, resets_in_seconds: 1234 })],
      env: utc,
      notes: "ChatGPT usage limit resetting in 1234 s (same day, UTC)",
    },
    {
      name: "usage_limit_later_day",
      prompt: "Say hello.",
      script: [limit({ plan_type: "pro", resets_at: now + 259800, resets_in_seconds: 259800 })],
      env: utc,
      notes: "usage limit resetting in 3 days 10 minutes (another day, UTC)",
    },
    {
      name: "usage_limit_no_reset",
      prompt: "Say hello.",
      script: [limit({ plan_type: "plus" })],
      env: utc,
      notes: "usage limit without a reset time",
    },
    {
      name: "rate_limit",
      prompt: "Say hello.",
      script: [{
        status: 429,
        body: JSON.stringify({
          error: {
            type: "requests",
            code: "rate_limit_exceeded",
            message: "Rate limit reached for requests. Please try again in 17s.",
          },
        }),
      }],
      env: utc,
      notes: "a plain 429 (rate_limit_exceeded); request_max_retries=0",
    },
    {
      name: "quota",
      prompt: "Say hello.",
      script: [{
        status: 429,
        body: JSON.stringify({
          error: {
            type: "insufficient_quota",
            code: "insufficient_quota",
            message: "You exceeded your current quota, please check your plan and billing details.",
          },
        }),
      }],
      env: utc,
      notes: "429 insufficient_quota: not a limit that resets",
    },
  ];
}

const root = new URL("../", import.meta.url).pathname;

async function runCodex(
  bin: string,
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  prompt: string,
) {
  const child = new Deno.Command(bin, {
    args: argv,
    cwd,
    clearEnv: true, // env is complete and hermetic (dev/hermetic.ts)
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(prompt));
  await w.close();
  return await child.output();
}

/** Record every scenario (or those named in `only`) for `version` into `fixtures/<version>/`. */
export async function record(version: string, only?: string[]): Promise<string[]> {
  const bin = await ensureCodex(version);
  const outDir = `${root}fixtures/${version}`;
  await Deno.mkdir(outDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ prefix: "plexum-record-" });
  const written: string[] = [];
  const threads = new Map<string, string>();
  try {
    const dirs = hermetic(tmp); // an empty HOME (tmp/home) and CODEX_HOME (tmp/codex-home)
    const home = dirs.codexHome;
    const ws = `${tmp}/workspace`;
    await Deno.mkdir(ws);
    for (const s of SCENARIOS) {
      if (only?.length && !only.includes(s.name)) continue;
      const api = startMockApi(s.script);
      try {
        const { args, env } = mockCodexSetup(api.baseUrl, home);
        const threadId = s.resume === "unknown"
          ? crypto.randomUUID()
          : s.resume
          ? threads.get(s.resume)
          : undefined;
        if (s.resume && !threadId) throw new Error(`${s.name}: no thread from ${s.resume}`);
        const argv = execArgs({ extraArgs: [...args, ...(s.extra ?? [])], threadId });
        const out = await runCodex(bin, argv, ws, dirs.env({ ...env, ...s.env }), s.prompt);
        const stdout = new TextDecoder().decode(out.stdout);
        const started = stdout.match(/"thread\.started","thread_id":"([^"]+)"/);
        if (started) threads.set(s.name, started[1]);
        const meta: FixtureMeta = {
          name: s.name,
          codex_version: version,
          argv,
          prompt: s.prompt,
          exit_code: out.code,
          stderr: new TextDecoder().decode(out.stderr),
          mock_script: s.script,
          ...(s.notes ? { notes: s.notes } : {}),
        };
        await Deno.writeFile(`${outDir}/${s.name}.jsonl`, out.stdout);
        await Deno.writeTextFile(
          `${outDir}/${s.name}.meta.json`,
          JSON.stringify(meta, null, 2) + "\n",
        );
        written.push(`${outDir}/${s.name}.jsonl`);
        console.error(
          `${version} ${s.name}: exit ${out.code}, ${stdout.split("\n").filter(Boolean).length} ` +
            `lines, ${api.requests.length} API requests`,
        );
      } finally {
        await api.close();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return written;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "codex-version": { type: "string", multiple: true },
      // Record only these scenarios (a scenario that resumes another needs that one too).
      scenario: { type: "string", multiple: true },
    },
    strict: true,
  });
  for (const v of values["codex-version"] ?? ["0.169.0"]) await record(v, values.scenario);
}
