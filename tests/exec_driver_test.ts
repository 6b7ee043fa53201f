/**
 * The exec driver (lib/codex/exec/driver.ts: ExecBackend) + runCodex against
 * a fake codex that replays real recordings (dev/fake_codex.ts): argv, stdin bytes, exit codes, stderr,
 * idle timeout, cancel of the whole process group, stale thread recovery.
 */
import assert from "node:assert/strict";
import { type Config, DEFAULTS } from "../lib/config.ts";
import type { PlexumEvent, TurnResult } from "../lib/turns/backend.ts";
import { createLogger } from "../lib/log.ts";
import { readThreadId, SESSION_FILE, writeThreadId } from "../lib/codex/session.ts";
import { ExecBackend } from "../lib/codex/exec/driver.ts";
import {
  type FakeCall,
  type FakePlan,
  fixtureMeta,
  fixturePath,
  installFakeCodex,
  processesIn,
  waitNoProcessesIn,
} from "../dev/fake_codex.ts";

const V = "0.169.0";
const PLAIN = fixturePath(V, "plain");
const BASE_ARGV = [
  "exec",
  "--skip-git-repo-check",
  "--dangerously-bypass-approvals-and-sandbox",
  "--json",
];

/** Parsed lines of a fixture. */
// deno-lint-ignore no-explicit-any
function fixtureEvents(path: string): Record<string, any>[] {
  return Deno.readTextFileSync(path).split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
const threadOf = (path: string) =>
  fixtureEvents(path).find((e) => e.type === "thread.started")!.thread_id as string;
const textsOf = (path: string) =>
  fixtureEvents(path).filter((e) => e.item?.type === "agent_message").map((e) => e.item.text);
const totalsOf = (path: string) =>
  fixtureEvents(path).find((e) => e.type === "turn.completed")!.usage as Record<string, number>;

interface Run {
  result: TurnResult;
  events: PlexumEvent[];
  logs: string[];
  ms: number;
}

/** A temp workspace and a fake codex installed for `plan`; both removed afterwards. */
async function withFake(
  plan: FakePlan,
  fn: (f: {
    ws: string;
    calls: () => Promise<FakeCall[]>;
    turn: (o?: TurnOpts) => Promise<Run>;
  }) => Promise<void>,
) {
  await using fake = await installFakeCodex(plan);
  const ws = await Deno.makeTempDir({ prefix: "runner-ws-" });
  try {
    await fn({
      ws,
      calls: () => fake.calls(),
      turn: (o = {}) => runTurn({ ...o, binary: o.binary ?? fake.binary }, ws),
    });
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
}

interface TurnOpts {
  binary?: string;
  config?: Partial<Config>;
  prompt?: string;
  system?: string;
  model?: string;
  reset?: boolean;
  signal?: AbortSignal;
  onEvent?: (ev: PlexumEvent) => void;
}

async function runTurn(o: TurnOpts, ws: string): Promise<Run> {
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const backend = new ExecBackend({ ...DEFAULTS, ...o.config, binary: o.binary! }, log);
  const events: PlexumEvent[] = [];
  const t0 = performance.now();
  const result = await backend.runTurn({
    workspace: ws,
    prompt: o.prompt ?? "hello",
    model: o.model ?? "codex",
    system: o.system,
    reset: o.reset ?? false,
    signal: o.signal ?? new AbortController().signal,
    emit: (ev) => {
      events.push(ev);
      o.onEvent?.(ev);
    },
  });
  return { result, events, logs, ms: performance.now() - t0 };
}

const errorsOf = (events: PlexumEvent[]) => events.filter((e) => e.type === "error");

Deno.test("a new thread: exact argv, text and usage from the recording, thread id saved", async () => {
  await withFake({ fixture: PLAIN }, async ({ ws, calls, turn }) => {
    const { result, events } = await turn();
    const [call] = await calls();
    assert.deepEqual(call.argv, [...BASE_ARGV, "-"]);
    assert.equal(call.cwd, await Deno.realPath(ws));
    const totals = totalsOf(PLAIN);
    assert.deepEqual(events, [
      { type: "text_delta", text: textsOf(PLAIN)[0] },
      {
        type: "usage",
        input_tokens: totals.input_tokens,
        cached_input_tokens: totals.cached_input_tokens,
        output_tokens: totals.output_tokens,
        reasoning_tokens: totals.reasoning_output_tokens,
        cache_write_input_tokens: totals.cache_write_input_tokens,
      },
    ]);
    assert.equal(result.stop_reason, "end_turn");
    assert.equal(result.thread_id, threadOf(PLAIN));
    assert.equal(await Deno.readTextFile(`${ws}/${SESSION_FILE}`), `${threadOf(PLAIN)}\n`);
  });
});

Deno.test("a stored thread is resumed: model, extra_args, then resume id, then '-'", async () => {
  const resume = fixturePath(V, "resume");
  await withFake({ fixture: PLAIN, resumeFixture: resume }, async ({ ws, calls, turn }) => {
    const config = {
      supported_models: ["codex", "fast"],
      model_args: { fast: "gpt-5-codex-mini" },
      extra_args: ["-c", "foo=bar"],
    };
    const first = await turn({ config, model: "fast", system: "Be brief." });
    const second = await turn({ config, model: "fast", system: "Be brief." });
    const third = await turn({ config, model: "other-model", reset: true });
    const argvs = (await calls()).map((c) => c.argv);
    assert.deepEqual(argvs, [
      [
        ...BASE_ARGV,
        "--model",
        "gpt-5-codex-mini",
        "-c",
        'developer_instructions="Be brief."',
        "-c",
        "foo=bar",
        "-",
      ],
      // Developer instructions only start a thread; a resumed one keeps its own.
      [
        ...BASE_ARGV,
        "--model",
        "gpt-5-codex-mini",
        "-c",
        "foo=bar",
        "resume",
        threadOf(PLAIN),
        "-",
      ],
      [...BASE_ARGV, "--model", "other-model", "-c", "foo=bar", "-"],
    ]);
    assert.equal(first.result.thread_id, threadOf(PLAIN));
    assert.equal(second.result.thread_id, threadOf(resume));
    // Codex reports thread totals; the resumed turn reports only its own share.
    const before = totalsOf(PLAIN), after = totalsOf(resume);
    assert.deepEqual(second.result.usage, {
      input_tokens: after.input_tokens - before.input_tokens,
      cached_input_tokens: after.cached_input_tokens - before.cached_input_tokens,
      output_tokens: after.output_tokens - before.output_tokens,
      reasoning_tokens: after.reasoning_output_tokens - before.reasoning_output_tokens,
      cache_write_input_tokens: after.cache_write_input_tokens - before.cache_write_input_tokens,
    });
    assert.deepEqual(second.events.filter((e) => e.type === "text_delta"), [
      { type: "text_delta", text: textsOf(resume)[0] },
    ]);
    assert.equal(third.result.stop_reason, "end_turn");
    assert.equal(await readThreadId(ws), threadOf(PLAIN));
  });
});

Deno.test("the prompt reaches codex's stdin byte for byte and never argv", async () => {
  const prompts = [
    "-",
    "--version",
    "-c model=evil\n--help",
    "line one\nline two\r\nline three\n\n",
    "emoji 🦀👩‍💻 and Ünïcødé 中文 עברית \u{10FFFF}\u0000 tab\t",
    "x".repeat(1024 * 1024 - 3) + "end",
  ];
  await withFake({ fixture: PLAIN }, async ({ calls, turn }) => {
    for (const prompt of prompts) {
      const { result } = await turn({ prompt, reset: true });
      assert.equal(result.stop_reason, "end_turn");
    }
    const got = await calls();
    assert.equal(got.length, prompts.length);
    got.forEach((call, i) => {
      assert.deepEqual(call.stdin, new TextEncoder().encode(prompts[i]));
      assert.deepEqual(call.argv, [...BASE_ARGV, "-"]);
    });
  });
});

Deno.test("a failed turn (recorded 401: error then turn.failed) gives exactly one turn_failed error", async () => {
  const failed = fixturePath(V, "failed");
  await withFake({ fixture: failed }, async ({ turn }) => {
    const { result, events } = await turn();
    const msg = fixtureEvents(failed).find((e) => e.type === "turn.failed")!.error.message;
    assert.deepEqual(events, [{ type: "error", code: "turn_failed", message: msg }]);
    assert.equal(result.stop_reason, "error");
    assert.equal(result.thread_id, threadOf(failed));
    assert.equal(result.usage, null);
  });
});

Deno.test("codex exiting non-zero without a turn gives codex_exit with its Error: line", async () => {
  // The recorded stale-resume exit (code 1, stderr Error: + backtrace), with no thread stored.
  const stale = fixturePath(V, "stale_resume");
  const meta = fixtureMeta(stale);
  await withFake({ fixture: stale }, async ({ turn }) => {
    const { result, events } = await turn();
    const errors = errorsOf(events);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].type === "error" && errors[0].code, "codex_exit");
    const errLine = meta.stderr.split("\n").find((l) => l.startsWith("Error:"))!;
    const message = (errors[0] as { message: string }).message;
    assert.match(message, new RegExp(`exited with code ${meta.exit_code} `));
    assert.ok(message.includes(errLine.slice("Error:".length).trim()), message);
    assert.ok(!message.includes("backtrace"), message);
    assert.equal(result.stop_reason, "error");
  });
});

Deno.test("a crash mid-turn reports the exit code and the stderr tail", async () => {
  const stderr = "starting\nsomething odd happened\nfatal: out of cheese\n";
  await withFake({ fixture: PLAIN, lines: 2, exitCode: 3, stderr }, async ({ turn }) => {
    const { result, events } = await turn();
    const errors = errorsOf(events);
    assert.equal(errors.length, 1);
    const e = errors[0] as { code: string; message: string };
    assert.equal(e.code, "codex_exit");
    assert.match(e.message, /exited with code 3 before the turn completed/);
    assert.match(e.message, /fatal: out of cheese/);
    assert.equal(result.stop_reason, "error");
    // thread.started was printed: the thread is kept for the next turn.
    assert.equal(result.thread_id, threadOf(PLAIN));
  });
});

Deno.test("codex killed by a signal is reported as such", async () => {
  await withFake({ fixture: PLAIN, lines: 2, killSelf: "SIGKILL" }, async ({ turn }) => {
    const { result, events } = await turn();
    const errors = errorsOf(events) as { code: string; message: string }[];
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "codex_exit");
    assert.match(errors[0].message, /was killed by SIGKILL/);
    assert.equal(result.stop_reason, "error");
  });
});

Deno.test("a missing binary gives codex_not_found", async () => {
  const ws = await Deno.makeTempDir();
  try {
    const { result, events } = await runTurn({ binary: `${ws}/no-such-codex` }, ws);
    const errors = errorsOf(events) as { code: string; message: string }[];
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "codex_not_found");
    assert.match(errors[0].message, /no-such-codex/);
    assert.equal(result.stop_reason, "error");
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
});

Deno.test("codex silent for idle_timeout_s is ended and the turn reports timeout", async () => {
  await withFake({ fixture: PLAIN, lines: 2, hang: true, sleeper: true }, async ({ ws, turn }) => {
    // A broken idle timeout must fail the test, not hang it: give up after 30 s.
    const guard = new AbortController();
    const giveUp = setTimeout(() => guard.abort(), 30_000);
    const { result, events, ms } = await turn({
      config: { idle_timeout_s: 1 },
      signal: guard.signal,
    }).finally(() => clearTimeout(giveUp));
    const errors = errorsOf(events) as { code: string; message: string }[];
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "timeout");
    assert.match(errors[0].message, /1s/);
    assert.equal(result.stop_reason, "error");
    assert.ok(ms < 20_000, `took ${ms} ms`);
    assert.deepEqual(await waitNoProcessesIn(ws), []);
  });
});

Deno.test("cancel ends the whole process group (codex and the command it started)", async () => {
  await withFake({ fixture: PLAIN, lines: 2, hang: true, sleeper: true }, async ({ ws, turn }) => {
    const ac = new AbortController();
    const running = turn({ signal: ac.signal });
    // Wait until the fake and its `sleep 300` both run in the workspace.
    const end = Date.now() + 30_000;
    while (processesIn(ws).length < 2 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(processesIn(ws).length, 2, "fake codex and its sleep should be running");
    const t0 = performance.now();
    ac.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<"stuck">((r) => timer = setTimeout(() => r("stuck"), 30_000));
    if (await Promise.race([running, stuck]) === "stuck") {
      for (const pid of processesIn(ws)) Deno.kill(pid, "SIGKILL"); // end the test, then fail
      await running;
      assert.fail("cancel did not end the turn within 30 s");
    }
    clearTimeout(timer);
    const { result, events } = await running;
    const ms = performance.now() - t0;
    assert.equal(result.stop_reason, "cancelled");
    assert.deepEqual(errorsOf(events), []);
    assert.ok(ms < 10_000, `cancel took ${ms} ms`);
    assert.deepEqual(processesIn(ws), []);
  });
});

Deno.test("a stale stored thread is replaced by a new one in the same turn, with a warning", async () => {
  const stale = fixturePath(V, "stale_resume");
  const staleId = fixtureMeta(stale).argv.at(-2)!;
  await withFake({ fixture: PLAIN, resumeFixture: stale }, async ({ ws, calls, turn }) => {
    await writeThreadId(ws, staleId);
    const { result, events, logs } = await turn({ prompt: "are you there?" });
    const got = await calls();
    assert.deepEqual(got.map((c) => c.argv), [
      [...BASE_ARGV, "resume", staleId, "-"],
      [...BASE_ARGV, "-"],
    ]);
    for (const c of got) assert.equal(new TextDecoder().decode(c.stdin), "are you there?");
    assert.equal(result.stop_reason, "end_turn");
    assert.equal(result.thread_id, threadOf(PLAIN));
    assert.deepEqual(errorsOf(events), []);
    assert.deepEqual(events.filter((e) => e.type === "text_delta"), [
      { type: "text_delta", text: textsOf(PLAIN)[0] },
    ]);
    assert.equal(await Deno.readTextFile(`${ws}/${SESSION_FILE}`), `${threadOf(PLAIN)}\n`);
    const warning = logs.find((l) => l.includes("WARN") && l.includes(staleId));
    assert.ok(warning, logs.join(""));
    assert.match(warning, /no longer knows the stored thread/);
  });
});

Deno.test("events stream out while codex is still printing", async () => {
  const two = fixturePath(V, "two_messages");
  await withFake({ fixture: two, lineDelayMs: 300 }, async ({ turn }) => {
    let firstText = 0;
    const t0 = performance.now();
    const { events, ms } = await turn({
      onEvent: (ev) => {
        if (ev.type === "text_delta" && !firstText) firstText = performance.now() - t0;
      },
    });
    const [a, b] = textsOf(two);
    assert.deepEqual(events.filter((e) => e.type === "text_delta"), [
      { type: "text_delta", text: a },
      { type: "text_delta", text: `\n\n${b}` },
    ]);
    // Four more lines follow the first message, 300 ms apart.
    assert.ok(firstText > 0 && ms - firstText > 600, `first text at ${firstText}, end ${ms}`);
  });
});
