/**
 * The command line: --version, --help, usage errors, and the `chat`
 * subcommand running real turns (codex 0.169.0 vs the mock API).
 */
import assert from "node:assert/strict";
import meta from "../deno.json" with { type: "json" };
import { CONFIG_KEYS } from "../lib/config.ts";
import { FLAGS } from "../main.ts";
import { unsupportedArgMessage } from "../lib/codex/app_server/launch.ts";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";
import { pluginArgs, testBackend } from "../dev/plugin.ts";
import { hermetic } from "../dev/hermetic.ts";

const dec = new TextDecoder();

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the plugin CLI in a hermetic environment (dev/hermetic.ts) plus `env`. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Out> {
  await using h = hermetic();
  const o = await new Deno.Command(Deno.execPath(), {
    args: pluginArgs(args),
    clearEnv: true,
    env: h.env(env),
    stdin: "null",
  }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** A mock API, a CODEX_HOME, a workspace and a config file pointing codex at the mock. */
async function chatRig(replies: MockReply[]) {
  const api = startMockApi(replies);
  const dir = await Deno.makeTempDir();
  const ws = `${dir}/workspace`;
  await Deno.mkdir(ws);
  const mock = mockCodexSetup(api.baseUrl, dir);
  const config = `${dir}/plugin.jsonc`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      ...testBackend(),
      binary: await ensureCodex("0.169.0"),
      extra_args: mock.args,
    }),
  );
  return {
    api,
    ws,
    chat: (message: string, ...flags: string[]) =>
      cli(["chat", "--workspace", ws, "--config", config, ...flags, message], mock.env),
    async close() {
      await api.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("--version and -V print deno.json's version", async () => {
  for (const flag of ["--version", "-V"]) {
    const out = await cli([flag]);
    assert.deepEqual(out, { code: 0, stdout: `${meta.version}\n`, stderr: "" });
  }
});

Deno.test("--help names every subcommand, flag and config key", async () => {
  for (const flag of ["--help", "-h"]) {
    const out = await cli([flag]);
    assert.equal(out.code, 0);
    assert.equal(out.stderr, "");
    for (const sub of ["serve", "chat", "doctor"]) {
      assert.match(out.stdout, new RegExp(`plexum-openai-provider-plugin \\[?${sub}`), sub);
    }
    for (const [name, f] of Object.entries(FLAGS)) {
      assert.ok(out.stdout.includes(`--${name}`), `flag --${name}`);
      if ("short" in f) assert.ok(out.stdout.includes(`-${f.short},`), `flag -${f.short}`);
    }
    for (const key of Object.keys(CONFIG_KEYS)) {
      assert.match(out.stdout, new RegExp(`^  ${key} +\\S`, "m"), `config key ${key}`);
    }
    assert.ok(out.stdout.includes(meta.version));
  }
});

Deno.test("--help's extra_args line lists every argument the app-server takes, --strict-config included", async () => {
  const out = await cli(["--help"]);
  const line = out.stdout.split("\n").find((l) => l.startsWith("  extra_args "));
  assert.ok(line, out.stdout);
  // The same list the app-server's refusal names (lib/codex/app_server/launch.ts).
  const taken = unsupportedArgMessage("--x").match(/takes only (.*)\)$/)?.[1];
  assert.ok(taken, "launch.ts names what the app-server takes");
  assert.ok(line.includes(taken), `${line}\nvs ${taken}`);
  for (const a of ["-c/--config", "--enable", "--disable", "--strict-config"]) {
    assert.ok(line.includes(a), `${a} in ${line}`);
  }
});

Deno.test("usage errors exit 2 with a pointer to --help", async () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /Unknown option '--bogus'[\s\S]*See --help/],
    [["frobnicate"], /unknown subcommand: frobnicate\nSee --help/],
    [["doctor", "extra"], /doctor: unexpected argument extra/],
    [["chat", "hi"], /usage: chat --workspace DIR/],
    [["chat", "--workspace", "/tmp"], /usage: chat --workspace DIR/],
  ];
  for (const [args, re] of cases) {
    const out = await cli(args);
    assert.equal(out.code, 2, args.join(" "));
    assert.equal(out.stdout, "");
    assert.match(out.stderr, re);
  }
});

Deno.test("chat: the reply on stdout, usage on stderr, exit 0", async () => {
  const rig = await chatRig([{ text: "Hello from the mock", chunks: 3 }]);
  try {
    const out = await rig.chat("say hello");
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, "Hello from the mock\n");
    assert.match(
      out.stderr,
      /^usage: \{"input_tokens":120,"cached_input_tokens":20,"output_tokens":7,"reasoning_tokens":3/m,
    );
    assert.match(out.stderr, /^stop_reason: end_turn thread_id: [0-9a-f-]{36}$/m);
    assert.equal(rig.api.requests.length, 1);
    // chat names itself as a host does, so its log says who started the turn.
    assert.match(
      out.stderr,
      new RegExp(`INFO initialized host=chat host_version=${meta.version} `),
    );
    assert.doesNotMatch(out.stderr, /undefined/);
  } finally {
    await rig.close();
  }
});

Deno.test("chat: a second chat resumes the thread; --reset starts a new one", async () => {
  const rig = await chatRig([{ text: "first" }, { text: "second" }, { text: "third" }]);
  try {
    const threadOf = (o: Out) => o.stderr.match(/thread_id: ([0-9a-f-]{36})/)?.[1];
    const a = await rig.chat("remember PLUM");
    const b = await rig.chat("what fruit?");
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, "second\n");
    assert.ok(threadOf(a));
    assert.equal(threadOf(b), threadOf(a));
    // The resumed request carries the first turn's history.
    assert.ok(JSON.stringify(rig.api.requests[1].input).includes("remember PLUM"));
    const c = await rig.chat("fresh start", "--reset");
    assert.equal(c.code, 0, c.stderr);
    assert.notEqual(threadOf(c), threadOf(a));
    assert.ok(!JSON.stringify(rig.api.requests[2].input).includes("remember PLUM"));
  } finally {
    await rig.close();
  }
});

Deno.test("chat: a 401 from the API exits non-zero with the error on stderr", async () => {
  const rig = await chatRig([{ status: 401 }]);
  try {
    const out = await rig.chat("hi");
    assert.notEqual(out.code, 0);
    assert.equal(out.stdout, "");
    assert.match(out.stderr, /^error \(turn_failed\): .*401 Unauthorized/m);
    assert.match(out.stderr, /^stop_reason: error /m);
  } finally {
    await rig.close();
  }
});

Deno.test("chat: a model that is not advertised, or a missing workspace, is an error", async () => {
  const rig = await chatRig([{ text: "never sent" }]);
  try {
    const model = await rig.chat("hi", "--model", "gpt-nope");
    assert.equal(model.code, 1);
    assert.match(
      model.stderr,
      /^error: invalid params: model must be one of the advertised models: codex/m,
    );
    await Deno.remove(rig.ws);
    const ws = await rig.chat("hi");
    assert.equal(ws.code, 1);
    assert.match(ws.stderr, /agent\.workspace does not exist/);
    assert.equal(rig.api.requests.length, 0);
  } finally {
    await rig.close();
  }
});
