/**
 * Logging: stderr only, text or JSON lines, one `turn` record per turn, levels
 * from config or PLEXUM_LOG, and never a secret or (above debug) prompt text.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";
import { type Msg, pluginArgs, startPlugin } from "../dev/plugin.ts";
import { createLogger, stderrIsJournal } from "../lib/log.ts";
import { turnLog, waitForLog } from "./support/logs.ts";

const SECRET = "sk-test-secret-123456";
const MARKER = "PROMPT-MARKER-7f3a9c";

interface TurnRun {
  stderr: string;
  messages: Msg[];
  result: Msg;
  workspace: string;
}

/** One real turn (codex 0.169.0 vs the mock) through the plugin; its stderr and messages. */
async function oneTurn(o: {
  config?: Record<string, unknown>;
  configFile?: Record<string, unknown>;
  env?: Record<string, string>;
  prompt?: string;
  replies?: MockReply[];
  /** The turn's `turn` record is logged (its level lets it): wait for it before reading stderr. */
  logged?: boolean;
}): Promise<TurnRun> {
  const api = startMockApi(o.replies ?? [{ text: "hello" }]);
  const codexHome = await Deno.makeTempDir();
  const ws = await Deno.makeTempDir();
  const mock = mockCodexSetup(api.baseUrl, codexHome);
  const args: string[] = [];
  if (o.configFile) {
    await Deno.writeTextFile(`${codexHome}/plugin.jsonc`, JSON.stringify(o.configFile));
    args.push("--config", `${codexHome}/plugin.jsonc`);
  }
  const plugin = startPlugin({ args, env: { PLEXUM_LOG: "", ...mock.env, ...o.env } });
  try {
    const init = await plugin.request("initialize", {
      protocol_version: 1,
      config: { binary: await ensureCodex("0.169.0"), extra_args: mock.args, ...o.config },
    });
    assert.equal(init.error, undefined, JSON.stringify(init));
    const result = await plugin.request("chat", {
      turn_id: "t1",
      agent: { id: "a", workspace: ws },
      messages: [{ role: "user", content: o.prompt ?? "hi" }],
    });
    // Without its record (a quieter level) there is nothing to wait for: stderr is read after exit.
    if (o.logged ?? true) await turnLog(plugin, "t1");
    await plugin.close();
    return { stderr: plugin.stderr(), messages: plugin.messages, result, workspace: ws };
  } finally {
    await plugin.close();
    await api.close();
    await Deno.remove(codexHome, { recursive: true });
    await Deno.remove(ws, { recursive: true });
  }
}

const lines = (s: string) => s.split("\n").filter((l) => l !== "");

Deno.test("logger: json format writes one object per line with time, level, msg and fields", () => {
  const out: string[] = [];
  const log = createLogger({ format: "json", level: "info", write: (l) => out.push(l) });
  log.info("turn", { workspace: "/w", duration_ms: 5 });
  log.debug("hidden at info");
  log.warn("two\nlines", { note: 'a "quoted" value' });
  assert.equal(out.length, 2);
  for (const l of out) assert.ok(l.endsWith("\n") && !l.slice(0, -1).includes("\n"));
  const [a, b] = out.map((l) => JSON.parse(l));
  assert.equal(a.level, "info");
  assert.equal(a.msg, "turn");
  assert.equal(a.workspace, "/w");
  assert.equal(a.duration_ms, 5);
  assert.ok(!Number.isNaN(Date.parse(a.time)));
  assert.equal(b.msg, "two\nlines");
  assert.equal(b.note, 'a "quoted" value');
});

Deno.test("logger: secret-named environment values are masked at every level, even JSON-escaped", () => {
  const value = 'sk-unit-"quoted"-secret';
  Deno.env.set("PLEXUM_LOG_TEST_API_KEY", value);
  try {
    const out: string[] = [];
    for (const format of ["text", "json"] as const) {
      const log = createLogger({ format, level: "debug", write: (l) => out.push(l) });
      log.error(`key ${value}`, { key: value, nested: { v: value } });
      log.debug("debug", { key: value });
    }
    assert.equal(out.length, 4);
    for (const l of out) {
      assert.ok(!l.includes(value) && !l.includes('unit-\\"quoted'), l);
      assert.ok(l.includes("***"), l);
    }
  } finally {
    Deno.env.delete("PLEXUM_LOG_TEST_API_KEY");
  }
});

Deno.test("text logs: one info 'turn' line with workspace, model, thread, duration, tokens, outcome", async () => {
  const r = await oneTurn({});
  assert.equal(r.result.result.stop_reason, "end_turn");
  const turn = lines(r.stderr).filter((l) => / INFO turn /.test(l));
  assert.equal(turn.length, 1, r.stderr);
  assert.match(turn[0], /^\S+Z INFO turn /);
  const fields = Object.fromEntries(
    turn[0].split(" ").slice(3).map((
      kv,
    ) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  assert.equal(fields.turn_id, "t1");
  assert.equal(fields.workspace, r.workspace);
  assert.equal(fields.model, "codex");
  assert.equal(fields.thread_id, r.result.result.thread_id);
  assert.match(fields.duration_ms, /^\d+$/);
  assert.deepEqual(
    [
      fields.input_tokens,
      fields.cached_input_tokens,
      fields.output_tokens,
      fields.reasoning_tokens,
    ],
    ["120", "20", "7", "3"],
  );
  assert.equal(fields.outcome, "end_turn");
  // stdout carried protocol messages only.
  for (const m of r.messages) assert.equal(m.jsonrpc, "2.0", JSON.stringify(m));
});

Deno.test("json logs (log_format from --config): every stderr line is an object; the turn record", async () => {
  const r = await oneTurn({ configFile: { log_format: "json" } });
  assert.equal(r.result.result.stop_reason, "end_turn");
  const records = lines(r.stderr).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new Error(`not a JSON line: ${l}`);
    }
  });
  const turn = records.filter((x) => x.msg === "turn");
  assert.equal(turn.length, 1);
  const t = turn[0];
  assert.equal(t.level, "info");
  assert.equal(t.workspace, r.workspace);
  assert.equal(t.model, "codex");
  assert.equal(t.thread_id, r.result.result.thread_id);
  assert.equal(typeof t.duration_ms, "number");
  assert.deepEqual(
    [t.input_tokens, t.cached_input_tokens, t.output_tokens, t.reasoning_tokens],
    [120, 20, 7, 3],
  );
  assert.equal(t.outcome, "end_turn");
});

Deno.test("log level: config log_level hides the turn line; PLEXUM_LOG overrides it", async () => {
  const quiet = await oneTurn({ config: { log_level: "warn" }, logged: false });
  assert.equal(quiet.result.result.stop_reason, "end_turn");
  assert.doesNotMatch(quiet.stderr, / INFO turn /);
  const loud = await oneTurn({ config: { log_level: "error" }, env: { PLEXUM_LOG: "info" } });
  assert.match(loud.stderr, / INFO turn /);
});

Deno.test("logs never hold OPENAI_API_KEY at any level, nor prompt text above debug", async () => {
  const replies: MockReply[] = [{ reasoning: `thinking of ${SECRET} and ${MARKER}`, text: "done" }];
  const prompt = `please remember ${MARKER} (and my key ${SECRET})`;
  const env = { OPENAI_API_KEY: SECRET };
  const info = await oneTurn({ env, prompt, replies });
  assert.equal(info.result.result.stop_reason, "end_turn");
  assert.ok(!info.stderr.includes(SECRET), info.stderr);
  assert.ok(!info.stderr.includes(MARKER), info.stderr);
  for (const format of ["text", "json"]) {
    const debug = await oneTurn({
      env: { ...env, PLEXUM_LOG: "debug" },
      config: { log_format: format },
      prompt,
      replies,
    });
    assert.equal(debug.result.result.stop_reason, "end_turn");
    assert.match(debug.stderr, /debug/i, "debug records were written");
    assert.ok(debug.stderr.includes("***"), "something secret was there to mask");
    assert.ok(!debug.stderr.includes(SECRET), debug.stderr);
  }
});

Deno.test("a malformed host line is logged without the prompt text it quotes", async () => {
  const plugin = startPlugin({ env: { PLEXUM_LOG: "" } });
  try {
    await plugin.sendLine(
      `{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user","content":${MARKER} x"}]}}`,
    );
    const reply = await plugin.waitFor((m) => m.error?.code === -32700);
    assert.match(reply.error.message, /^parse error: /);
    await plugin.close();
    await waitForLog(plugin, /WARN bad message from host code=-32700/);
    assert.ok(!plugin.stderr().includes(MARKER.slice(0, 8)), plugin.stderr());
  } finally {
    await plugin.close();
  }
});

Deno.test("journald: each line starts with its level's <N> priority when stderr is the journal stream", () => {
  for (const format of ["text", "json"] as const) {
    const lines: string[] = [];
    const log = createLogger({
      level: "debug",
      format,
      journald: true,
      write: (l) => lines.push(l),
    });
    log.error("e");
    log.warn("w");
    log.info("i");
    log.debug("d");
    assert.deepEqual(lines.map((l) => l.slice(0, 3)), ["<3>", "<4>", "<6>", "<7>"], format);
    // What journald keeps as MESSAGE (the prefix stripped) is the line as without systemd.
    if (format === "json") {
      for (const l of lines) assert.equal(JSON.parse(l.slice(3)).msg.length, 1);
    }
  }
});

Deno.test("journald: JOURNAL_STREAM counts only when it names stderr's device and inode", () => {
  const stderr = () => ({ dev: 64769, ino: 1234 });
  assert.equal(stderrIsJournal({ journalStream: "64769:1234", stderr }), true);
  assert.equal(stderrIsJournal({ journalStream: "64769:999", stderr }), false); // a host's pipe
  assert.equal(stderrIsJournal({ journalStream: "", stderr }), false);
  assert.equal(stderrIsJournal({ journalStream: "junk", stderr }), false);
  const gone = () => {
    throw new Error("no /proc");
  };
  assert.equal(stderrIsJournal({ journalStream: "64769:1234", stderr: gone }), false);
});

/** The plugin's stderr, written to a file whose dev:ino is (or is not) in JOURNAL_STREAM. */
async function stderrUnder(journalStream: "match" | "other"): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    const err = `${dir}/stderr`;
    // chat in a workspace that does not exist: "initialized" (info), then an error; exit 1.
    const args = ["chat", "--workspace", `${dir}/none`, "hi"];
    const deno = [Deno.execPath(), ...pluginArgs(args)];
    const quoted = deno.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
    const script = `: > ${err}; ` +
      (journalStream === "match"
        ? `JOURNAL_STREAM=$(stat -L -c %d:%i ${err}); `
        : `JOURNAL_STREAM=1:2; `) +
      `export JOURNAL_STREAM; exec ${quoted} 2>>${err} </dev/null >/dev/null`;
    const o = await new Deno.Command("sh", {
      args: ["-c", script],
      env: { PLEXUM_LOG: "debug" },
    }).output();
    assert.equal(o.code, 1, new TextDecoder().decode(o.stderr));
    // chat's own "error: ..." line is its output, not a log line.
    return (await Deno.readTextFile(err)).split("\n").filter((l) => l && !l.startsWith("error:"))
      .join("\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("journald: a plugin whose stderr is the JOURNAL_STREAM prefixes its lines; one on another stream does not", async () => {
  const journal = (await stderrUnder("match")).trimEnd().split("\n");
  assert.ok(
    journal.length > 0 && journal.every((l) => /^<[3467]>\d{4}-/.test(l)),
    journal.join("\n"),
  );
  const plain = (await stderrUnder("other")).trimEnd().split("\n");
  assert.ok(plain.length > 0 && plain.every((l) => /^\d{4}-/.test(l)), plain.join("\n"));
});
