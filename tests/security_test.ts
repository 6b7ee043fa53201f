/**
 * What a hostile message or config value can do: nothing. Message text never
 * becomes a Codex flag (it goes to stdin), config values reach Codex as
 * single argv elements without a shell, and logs carry neither prompts (above
 * debug) nor OPENAI_API_KEY's value (at any level).
 *
 * The prompt and log cases run the REAL codex against the mock API; the argv
 * case uses tests/support/faulty_codex.ts, which records its argv and stdin.
 */
import assert from "node:assert/strict";
import { turnLog } from "./support/logs.ts";
import { installFaultyCodex } from "./support/faulty_codex.ts";
import { chat, chatParams, startRig, userTexts } from "./support/rig.ts";
import { until } from "./support/proc.ts";

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every string anywhere in a request body. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
  else if (v && typeof v === "object") Object.values(v).forEach((x) => strings(x, out));
  return out;
}

Deno.test("flag-like prompts reach the model verbatim as user text and the turns succeed", async () => {
  const prompts = [
    "-c model_provider=x",
    "--output-last-message=/etc/passwd",
    "--help",
    "-",
    "resume 0199a0b1-0000-7000-8000-000000000001",
    "--version\n-c\tsandbox_mode=danger-full-access",
  ];
  await using rig = await startRig([{ text: "plain answer" }]);
  const ws = await rig.workspace();
  const p = await rig.plugin();
  const passwd = await sha256("/etc/passwd");
  for (const [i, prompt] of prompts.entries()) {
    const r = await chat(p, ws, prompt, { reset: true });
    assert.equal(r.response.result?.stop_reason, "end_turn", `${prompt}: ${p.stderr()}`);
    assert.equal(r.text, "plain answer");
    assert.equal(rig.api.requests.length, i + 1, "one request per turn: codex did not exit early");
    assert.equal(userTexts(rig.api.requests[i]).at(-1), prompt, "the prompt arrived verbatim");
  }
  // A flag-like system message is developer text, not a flag either.
  const system = '--help" -c model_provider=x';
  const r = await chat(p, ws, "hello", {
    reset: true,
    messages: [{ role: "system", content: system }, { role: "user", content: "hello" }],
  });
  assert.equal(r.response.result?.stop_reason, "end_turn", p.stderr());
  assert.ok(
    strings(rig.api.requests.at(-1)).some((s) => s.includes(system)),
    "system text arrived verbatim",
  );
  assert.equal(await sha256("/etc/passwd"), passwd, "/etc/passwd untouched");
  assert.deepEqual([...Deno.readDirSync(ws)].map((e) => e.name).sort(), [
    ".plexum-codex-session",
    ".plexum-codex-usage",
    ".plexum-codex.lock",
  ]);
});

Deno.test("config values reach codex as single argv elements, never through a shell", async () => {
  await using fake = await installFaultyCodex({
    steps: [
      { line: '{"type":"thread.started","thread_id":"0199a0b1-0000-7000-8000-00000000a11c"}' },
      { line: '{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"ok"}}' },
      { line: '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}' },
    ],
  });
  await using rig = await startRig();
  const ws = await rig.workspace();
  const marks = await Deno.makeTempDir({ prefix: "marks-" });
  try {
    const m = (n: number) => `${marks}/mark${n}`;
    const extra = [
      "-c",
      `note="a b $(touch ${m(1)}) ; touch ${m(2)} \`touch ${m(3)}\` | tee ${m(4)}"`,
      `--weird=$(touch ${m(5)}); touch ${m(6)} & echo`,
      "two words",
      'it\'s "quoted"\n\ttoo',
    ];
    const model = `gpt $(touch ${m(7)}); x`;
    const system = `be brief $(touch ${m(8)}) "quoted" 'single'`;
    const prompt = `$(touch ${m(9)}) \`touch ${m(10)}\`; echo -c model_provider=x`;
    const p = await rig.plugin({
      backend: "exec", // the argv checked is codex exec's; the faulty codex speaks its JSONL
      binary: fake.binary, // its directory name contains a space
      extra_args: extra,
      supported_models: ["m"],
      model_args: { m: model },
    });
    const r = await chat(p, ws, prompt, {
      model: "m",
      messages: [{ role: "system", content: system }, { role: "user", content: prompt }],
    });
    assert.equal(r.response.result?.stop_reason, "end_turn", p.stderr());
    const calls = await fake.calls();
    assert.equal(calls.length, 1);
    const { argv, stdin, cwd } = calls[0];
    // rig.plugin puts the mock's own -c overrides first; ours follow, one element each.
    const at = argv.indexOf(extra[1]) - 1;
    assert.deepEqual(argv.slice(at, at + extra.length), extra);
    for (const value of [...extra.slice(1), model]) {
      assert.equal(argv.filter((a) => a === value).length, 1, `one element: ${value}`);
    }
    assert.equal(argv[argv.indexOf("--model") + 1], model);
    assert.ok(argv.includes(`developer_instructions=${JSON.stringify(system)}`));
    assert.equal(argv.at(-1), "-", "the prompt is read from stdin");
    assert.ok(!argv.some((a) => a.includes("touch " + m(9))), "no prompt text in argv");
    assert.equal(stdin, prompt, "the prompt arrived on stdin byte for byte");
    assert.equal(await Deno.realPath(cwd), await Deno.realPath(ws));
    assert.deepEqual([...Deno.readDirSync(marks)], [], "no command was executed");
    console.log(`argv as codex received it (${argv.length} elements):\n  ${JSON.stringify(argv)}`);
  } finally {
    await Deno.remove(marks, { recursive: true });
  }
});

Deno.test("logs above debug never contain prompt text (success, failure, cancel, text and json)", async (t) => {
  const secret = `PROMPT-${crypto.randomUUID()}`;
  for (const format of ["text", "json"]) {
    await t.step(format, async () => {
      await using rig = await startRig([
        { text: `you said ${secret}` }, // the model quoting the prompt back
        { status: 401 },
        { text: "slow", chunks: 50, delayMs: 200 },
      ]);
      const ws = await rig.workspace();
      const p = await rig.plugin({ log_level: "info", log_format: format, emit_activity: true });
      const ok = await chat(p, ws, `tell me ${secret}`, {
        messages: [
          { role: "system", content: `system ${secret}` },
          { role: "user", content: `tell me ${secret}` },
        ],
      });
      assert.equal(ok.response.result?.stop_reason, "end_turn");
      const failed = await chat(p, ws, `fail ${secret}`);
      assert.equal(failed.response.result?.stop_reason, "error");
      const params = chatParams(ws, `cancel ${secret}`);
      const id = await p.send("chat", params);
      await until(() => rig.api.requests.length >= 3, 60_000, "the third turn to reach the mock");
      await p.request("cancel", { turn_id: params.turn_id });
      const cancelled = await p.waitFor((m) => m.id === id && !("method" in m));
      assert.equal(cancelled.result?.stop_reason, "cancelled");
      const bad = await p.request("chat", { ...chatParams(ws, `invalid ${secret}`), reset: 7 });
      assert.equal(bad.error?.code, -32602);
      await turnLog(p, params.turn_id as string); // the three turns' records are written
      const log = p.stderr();
      assert.ok(log.split("\n").filter(Boolean).length >= 5, log);
      assert.ok(!log.includes(secret), `prompt text in the ${format} log:\n${log}`);
      assert.ok(!log.includes("PROMPT-"), "not even part of it");
    });
  }
});

Deno.test("OPENAI_API_KEY's value never reaches the log, even at debug", async () => {
  const key = `sk-test-${crypto.randomUUID().replaceAll("-", "")}`;
  await using rig = await startRig([
    { shell: `echo ${key}`, via: "function" }, // a command line holding the key
    { text: `the key is ${key}` }, // the model saying it
    { status: 401, body: JSON.stringify({ error: { message: `bad key ${key}`, type: "x" } }) },
  ]);
  const ws = await rig.workspace();
  const p = await rig.plugin(
    { log_level: "debug", emit_activity: false }, // command items are then debug records
    { env: { OPENAI_API_KEY: key } },
  );
  const r1 = await chat(p, ws, `run it, and here is the key: ${key}`);
  assert.equal(r1.response.result?.stop_reason, "end_turn", p.stderr());
  // The key did flow through the turn, and the host got it masked too (issue 13).
  assert.ok(r1.text.includes("the key is ***") && !r1.text.includes(key), r1.text);
  const r2 = await chat(p, ws, `again ${key}`);
  assert.equal(r2.response.result?.stop_reason, "error");
  const log = await turnLog(p, r2.turnId);
  assert.match(log, / DEBUG /, "debug records were written");
  assert.ok(!log.includes(key), "the key is not in the log");
  assert.ok(!log.includes(key.slice(0, 24)), "nor a prefix of it");
  // The records are named after what each backend reads: exec's JSONL events, the app-server's
  // notifications.
  assert.match(
    log,
    /DEBUG (codex item\.started|app-server item\/started) .*echo \*\*\*/,
    "the command record was masked",
  );
  assert.match(
    log,
    /(WARN codex error event|DEBUG app-server error) .*bad key \*\*\*/,
    "the API error was masked",
  );
  const masked = log.split("\n").filter((l) => l.includes("***")).length;
  console.log(`debug log: ${log.split("\n").length} lines, ${masked} with the key masked`);
});
