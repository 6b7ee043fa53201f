/**
 * lib/codex/app_server/notifications.ts (AppServerTurnMapper) on the real
 * app-server transcripts of every recorded Codex release (fixtures/app-server/<version>/, made by
 * scripts/record_app_server.ts), compared with what exec's TurnMapper makes
 * of `codex exec --json` for the same mock turns (the `.exec.jsonl` twins),
 * plus hand-made edge cases.
 */
import assert from "node:assert/strict";
import { AppServerTurnMapper, totalsFromWire } from "../lib/codex/app_server/notifications.ts";
import { type CodexEvent, TurnMapper } from "../lib/codex/exec/jsonl.ts";
import { usageDelta } from "../lib/codex/usage.ts";
import type { PlexumEvent } from "../lib/turns/backend.ts";
import { APP_SERVER_VERSIONS } from "../scripts/record_app_server.ts";
import { fixturePath } from "../dev/fake_codex.ts";

// deno-lint-ignore no-explicit-any
type Msg = Record<string, any>;
interface Line {
  dir: "in" | "out";
  ms: number;
  msg: Msg;
}

const dir = new URL("../fixtures/app-server/", import.meta.url).pathname;

function load(version: string, name: string): Line[] {
  return Deno.readTextFileSync(`${dir}${version}/${name}.jsonl`).split("\n").filter(Boolean)
    .map((l) => JSON.parse(l));
}

function loadExec(version: string, name: string): CodexEvent[] {
  return Deno.readTextFileSync(`${dir}${version}/${name}.exec.jsonl`).split("\n").filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The id of the turn this client started (the last turn/start's response). */
function turnIdOf(lines: Line[]): string {
  const req = lines.findLast((l) => l.dir === "out" && l.msg.method === "turn/start")!;
  const res = lines.find((l) => l.dir === "in" && l.msg.id === req.msg.id && "result" in l.msg)!;
  return res.msg.result.turn.id;
}

/** The server notifications of that turn, demultiplexed as a backend does. */
function turnNotifications(lines: Line[]): Msg[] {
  const id = turnIdOf(lines);
  return lines.filter((l) =>
    l.dir === "in" && "method" in l.msg && !("id" in l.msg) &&
    (l.msg.params?.turnId === id || l.msg.params?.turn?.id === id)
  ).map((l) => l.msg);
}

/** Feed a transcript's turn to a mapper: the events sent, the mapper, the notes. */
function map(lines: Line[], emitActivity = false) {
  const notes: string[] = [];
  const m = new AppServerTurnMapper({ emitActivity, onNote: (msg) => notes.push(msg) });
  const perPush: PlexumEvent[][] = turnNotifications(lines).map((n) => m.push(n.method, n.params));
  return { m, out: perPush.flat(), perPush, notes };
}

/** exec's mapping of its twin recording. */
function mapExec(events: CodexEvent[]) {
  const m = new TurnMapper({ emitActivity: true });
  return { m, out: events.flatMap((e) => m.push(e)) };
}

const texts = (evs: PlexumEvent[]) => evs.flatMap((e) => (e.type === "text_delta" ? [e.text] : []));
const byMethod = (ns: Msg[], method: string) => ns.filter((n) => n.method === method);
/** Completed agent messages of a turn, in order. */
const agentTexts = (ns: Msg[]) =>
  byMethod(ns, "item/completed").filter((n) => n.params.item.type === "agentMessage").map((n) =>
    n.params.item.text as string
  );
/** Events without item ids, which differ between the backends (exec numbers its items). */
const withoutIds = (evs: PlexumEvent[]) =>
  evs.map((e) => (e.type === "activity" ? { ...e, item: { ...e.item, id: "" } } : e));
const lastTotal = (ns: Msg[]) =>
  byMethod(ns, "thread/tokenUsage/updated").at(-1)!.params.tokenUsage.total;

for (const v of APP_SERVER_VERSIONS) {
  Deno.test(`app-server ${v}: one text_delta per delta, in order, the message exactly once`, () => {
    const lines = load(v, "plain");
    const ns = turnNotifications(lines);
    const deltas = byMethod(ns, "item/agentMessage/delta").map((n) => n.params.delta);
    assert.ok(deltas.length >= 6, "the reply was streamed in several deltas");
    const { m, out, perPush } = map(lines, true);
    assert.deepEqual(out, deltas.map((text) => ({ type: "text_delta", text })));
    assert.equal(texts(out).join(""), agentTexts(ns)[0]);
    // each delta is sent when it arrives, and item/completed adds nothing
    const i = ns.findIndex((n) =>
      n.method === "item/completed" && n.params.item.type === "agentMessage"
    );
    assert.deepEqual(perPush[i], []);
    assert.deepEqual(perPush.at(-1), []);
    assert.equal(m.done, true);
    assert.equal(m.status, "completed");
    assert.equal(m.failure, undefined);
    assert.equal(m.errorInfo, undefined);
    assert.deepEqual(m.totals, totalsFromWire(lastTotal(ns)));
  });

  Deno.test(`app-server ${v}: a second agent message starts with a blank line`, () => {
    const lines = load(v, "two_messages");
    const [a, b] = agentTexts(turnNotifications(lines));
    assert.ok(a && b);
    const sent = texts(map(lines).out);
    assert.equal(sent.join(""), `${a}\n\n${b}`);
    assert.equal(sent.filter((t) => t.startsWith("\n\n")).length, 1);
    const second = sent.findIndex((t) => t.startsWith("\n\n"));
    assert.equal(sent.slice(0, second).join(""), a);
    assert.ok(sent.length > 2, "the second message came in several deltas");
  });

  Deno.test(`app-server ${v}: usage of a two-call turn is the last total, as exec reports it`, () => {
    const lines = load(v, "command");
    const ns = turnNotifications(lines);
    const updates = byMethod(ns, "thread/tokenUsage/updated");
    assert.equal(updates.length, 2, "one update per model request");
    const [first, second] = updates.map((u) => u.params.tokenUsage.total);
    assert.ok(second.inputTokens > first.inputTokens);
    const { m } = map(lines);
    assert.deepEqual(m.totals, totalsFromWire(second));
    const exec = mapExec(loadExec(v, "command")).m;
    assert.deepEqual(m.totals, exec.totals, "the same numbers as exec for the same mock turn");
    assert.deepEqual(usageDelta(m.totals!), usageDelta(exec.totals!));
    assert.equal("cache_write_input_tokens" in m.totals!, v !== "0.135.0");
  });

  Deno.test(`app-server ${v}: a resumed thread's totals grow; the restored totals are not the turn's`, () => {
    const before = map(load(v, "plain")).m.totals!;
    const lines = load(v, "resume");
    const restored = lines.find((l) => l.msg.method === "thread/tokenUsage/updated")!.msg.params;
    assert.notEqual(restored.turnId, turnIdOf(lines), "sent under the previous turn's id");
    assert.deepEqual(totalsFromWire(restored.tokenUsage.total), before);
    const { m, out } = map(lines);
    assert.equal(texts(out).join(""), agentTexts(turnNotifications(lines))[0]);
    const after = m.totals!;
    assert.ok(after.input_tokens! > before.input_tokens!);
    const u = usageDelta(after, before);
    const last = lastTotal(turnNotifications(lines));
    assert.equal(u.input_tokens, last.inputTokens - before.input_tokens!);
    assert.equal(u.output_tokens, last.outputTokens - before.output_tokens!);
  });

  Deno.test(`app-server ${v}: a stale thread id fails thread/resume; a new thread answers`, () => {
    const lines = load(v, "stale_resume");
    const resume = lines.find((l) => l.dir === "out" && l.msg.method === "thread/resume")!;
    const reply = lines.find((l) => l.dir === "in" && l.msg.id === resume.msg.id)!.msg;
    assert.equal(reply.error.code, -32600);
    assert.match(reply.error.message, /^no rollout found for thread id /);
    const { m, out } = map(lines);
    assert.equal(texts(out).join(""), "Hello on a new thread.");
    assert.equal(m.status, "completed");
  });

  Deno.test(`app-server ${v}: retries are noted, never sent; the final error is remembered`, () => {
    const lines = load(v, "retries_failed");
    const errors = byMethod(turnNotifications(lines), "error");
    assert.deepEqual(errors.map((e) => e.params.willRetry), [true, true, false]);
    const { m, out, notes } = map(lines, true);
    assert.deepEqual(out, []);
    assert.equal(notes.filter((n) => n === "app-server error, codex will retry").length, 2);
    assert.equal(m.status, "failed");
    assert.equal(m.failure, errors[2].params.error.message);
    assert.match(m.failure!, /high demand/);
    assert.equal(m.errorInfo?.codexErrorInfo, "internalServerError");
  });

  Deno.test(`app-server ${v}: a retry that succeeds gives the text and no failure`, () => {
    const lines = load(v, "reconnect");
    const [retry] = byMethod(turnNotifications(lines), "error");
    assert.equal(retry.params.willRetry, true);
    assert.match(retry.params.error.message, /^Reconnecting\.\.\./);
    const { m, out } = map(lines, true);
    assert.equal(texts(out).join(""), "Hello after a retry.");
    assert.ok(out.every((e) => e.type === "text_delta"));
    assert.equal(m.status, "completed");
    assert.equal(m.failure, undefined);
    assert.equal(m.errorInfo, undefined);
  });

  Deno.test(`app-server ${v}: HTTP 500 without retries: one failure, no event`, () => {
    const lines = load(v, "http_500");
    const ns = turnNotifications(lines);
    const { m, out } = map(lines);
    assert.deepEqual(out, []);
    assert.equal(m.status, "failed");
    assert.equal(m.failure, byMethod(ns, "turn/completed")[0].params.turn.error.message);
    assert.equal(m.failure, byMethod(ns, "error")[0].params.error.message);
    assert.equal(m.errorInfo?.codexErrorInfo, "internalServerError");
    assert.equal(m.totals, undefined);
  });

  Deno.test(`app-server ${v}: HTTP 401: the failure and its codexErrorInfo`, () => {
    const { m, out } = map(load(v, "unauthorized"));
    assert.deepEqual(out, []);
    assert.equal(m.status, "failed");
    assert.match(m.failure!, /^unexpected status 401 Unauthorized: mock unauthorized/);
    assert.deepEqual(
      m.errorInfo?.codexErrorInfo,
      v === "0.135.0" ? "other" : { httpConnectionFailed: { httpStatusCode: 401 } },
    );
  });

  Deno.test(`app-server ${v}: an interrupt mid-stream ends the turn interrupted, without failure`, () => {
    const lines = load(v, "interrupt");
    const ns = turnNotifications(lines);
    const deltas = byMethod(ns, "item/agentMessage/delta").map((n) => n.params.delta);
    assert.equal(deltas.length, 3);
    assert.equal(agentTexts(ns).length, 0, "the message cut short never completes");
    const { m, out } = map(lines, true);
    assert.deepEqual(texts(out), deltas);
    assert.equal(out.length, 3);
    assert.equal(m.done, true);
    assert.equal(m.status, "interrupted");
    assert.equal(m.failure, undefined);
  });

  for (const name of ["command", "plan", "web_search", "file_change"]) {
    Deno.test(`app-server ${v}: ${name}: the same events as exec for the same mock turn`, () => {
      const { out } = map(load(v, name), true);
      const exec = mapExec(loadExec(v, name)).out;
      assert.ok(out.some((e) => e.type === "activity"));
      assert.deepEqual(withoutIds(out), withoutIds(exec));
      const off = map(load(v, name), false).out;
      assert.deepEqual(off, out.filter((e) => e.type !== "activity"));
    });
  }

  Deno.test(`app-server ${v}: command activity is exec's shape, in_progress then completed`, () => {
    const acts = map(load(v, "command"), true).out.filter((e) => e.type === "activity");
    assert.deepEqual(acts.map((e) => e.type === "activity" && [e.phase, e.item]), [
      ["started", {
        id: acts[0].type === "activity" ? acts[0].item.id : "",
        type: "command_execution",
        command: "/bin/bash -lc 'echo hi'",
        aggregated_output: "",
        exit_code: null,
        status: "in_progress",
      }],
      ["completed", {
        id: acts[0].type === "activity" ? acts[0].item.id : "",
        type: "command_execution",
        command: "/bin/bash -lc 'echo hi'",
        aggregated_output: "hi\n",
        exit_code: 0,
        status: "completed",
      }],
    ]);
  });

  Deno.test(`app-server ${v}: a declined approval ends the command declined`, () => {
    const lines = load(v, "approval_decline");
    const req = lines.find((l) => l.msg.method === "item/commandExecution/requestApproval")!;
    const answer = lines.find((l) => l.dir === "out" && l.msg.id === req.msg.id)!;
    assert.deepEqual(answer.msg.result, { decision: "decline" });
    const { m, out } = map(lines, true);
    const acts = out.flatMap((e) => (e.type === "activity" ? [[e.phase, e.item]] : []));
    assert.deepEqual(acts.map(([phase, item]) => [phase, (item as { status: string }).status]), [
      ["started", "in_progress"],
      ["completed", "declined"],
    ]);
    assert.deepEqual(texts(out), ["The command was declined."]);
    assert.equal(m.status, "completed");
  });

  Deno.test(`app-server ${v}: reasoning is never sent, even with emitActivity`, () => {
    const lines = load(v, "reasoning");
    const ns = turnNotifications(lines);
    assert.ok(ns.some((n) => n.params.item?.type === "reasoning"));
    const { out, notes } = map(lines, true);
    assert.deepEqual(out, [{ type: "text_delta", text: "Hi there!" }]);
    assert.ok(notes.includes("app-server item/completed"));
  });
}

Deno.test("command activity equals exec's fixtures/<version>/command.jsonl, phase by phase", () => {
  // The exec recordings the exec backend's tests use (0.135.0 prints the
  // command's completion only some of the time: this one has none).
  for (const v of ["0.135.0", "0.169.0"]) {
    const exec = mapExec(
      Deno.readTextFileSync(fixturePath(v, "command")).split("\n").filter(Boolean).map((l) =>
        JSON.parse(l)
      ),
    ).out;
    const app = withoutIds(map(load(v, "command"), true).out);
    const execActs = withoutIds(exec).filter((e) => e.type === "activity");
    assert.ok(execActs.length > 0);
    for (const e of execActs) {
      assert.deepEqual(app.find((a) => a.type === "activity" && a.phase === e.phase), e, v);
    }
    assert.deepEqual(texts(app), texts(exec), v);
  }
});

Deno.test("0.169.0 on: turn/completed repeats the final message, which is not sent again", () => {
  for (const v of APP_SERVER_VERSIONS) {
    const ns = turnNotifications(load(v, "plain"));
    const items = byMethod(ns, "turn/completed")[0].params.turn.items;
    assert.equal(items.length, v === "0.135.0" ? 0 : 1, v);
  }
});

// ------------------------------------------------------------ hand-made

function mapper(emitActivity = true) {
  const notes: [string, unknown][] = [];
  const m = new AppServerTurnMapper({ emitActivity, onNote: (msg, d) => notes.push([msg, d]) });
  return { m, notes };
}
const delta = (itemId: string, d: string) =>
  ["item/agentMessage/delta", { itemId, delta: d }] as const;
const completed = (item: Record<string, unknown>) => ["item/completed", { item }] as const;
const started = (item: Record<string, unknown>) => ["item/started", { item }] as const;
const message = (id: string, text: string) => ({ type: "agentMessage", id, text });
const turnDone = (status: string, extra: Record<string, unknown> = {}) =>
  ["turn/completed", { turn: { id: "t1", status, items: [], error: null, ...extra } }] as const;

Deno.test("a message without deltas is sent whole; the next one after a blank line", () => {
  const { m } = mapper();
  assert.deepEqual(m.push(...completed(message("a", "First."))), [
    { type: "text_delta", text: "First." },
  ]);
  assert.deepEqual(m.push(...completed(message("b", "Second."))), [
    { type: "text_delta", text: "\n\nSecond." },
  ]);
  assert.deepEqual(m.push(...delta("c", "Thi")), [{ type: "text_delta", text: "\n\nThi" }]);
  assert.deepEqual(m.push(...delta("c", "rd.")), [{ type: "text_delta", text: "rd." }]);
  assert.deepEqual(m.push(...completed(message("c", "Third."))), []);
});

Deno.test("a completed text longer than its deltas sends only the missing suffix", () => {
  const { m } = mapper();
  const out = [
    m.push(...delta("a", "Hel")),
    m.push(...delta("a", "lo")),
    m.push(...completed(message("a", "Hello, world."))),
  ].flat();
  assert.deepEqual(texts(out), ["Hel", "lo", ", world."]);
  assert.equal(texts(out).join(""), "Hello, world.");
});

Deno.test("a completed text that contradicts its deltas is noted, not sent", () => {
  const { m, notes } = mapper();
  m.push(...delta("a", "Hello"));
  assert.deepEqual(m.push(...completed(message("a", "Goodbye"))), []);
  assert.equal(notes[0][0], "app-server completed text differs from its deltas (kept the deltas)");
});

Deno.test("deltas after their message completed, and a repeated completion, are dropped", () => {
  const { m, notes } = mapper();
  m.push(...delta("a", "Hi"));
  m.push(...completed(message("a", "Hi")));
  assert.deepEqual(m.push(...delta("a", " again")), []);
  assert.deepEqual(m.push(...completed(message("a", "Hi again"))), []);
  assert.ok(notes.some(([n]) => n === "app-server delta after its message completed (dropped)"));
});

Deno.test("empty deltas and empty messages send nothing and do not count as a message", () => {
  const { m } = mapper();
  assert.deepEqual(m.push(...delta("a", "")), []);
  assert.deepEqual(m.push(...completed(message("a", ""))), []);
  assert.deepEqual(m.push(...completed(message("b", "Only."))), [
    { type: "text_delta", text: "Only." },
  ]);
});

Deno.test("turn/completed items: a message never seen is sent, one already sent is not", () => {
  const { m } = mapper();
  m.push(...delta("a", "Seen."));
  const out = m.push(
    ...turnDone("completed", { items: [message("a", "Seen."), message("b", "Unseen.")] }),
  );
  assert.deepEqual(out, [{ type: "text_delta", text: "\n\nUnseen." }]);
  assert.equal(m.done, true);
  assert.deepEqual(m.push(...turnDone("completed")), [], "a second turn/completed is ignored");
});

Deno.test("failure: turn.error wins; else the last final error; else a default", () => {
  const err = (message: string, info: unknown, willRetry: boolean) =>
    ["error", {
      error: { message, codexErrorInfo: info, additionalDetails: null },
      willRetry,
      threadId: "th",
      turnId: "t1",
    }] as const;
  const a = mapper().m;
  a.push(...err("Reconnecting... 1/2", { responseStreamDisconnected: {} }, true));
  assert.equal(a.failure, undefined);
  a.push(...err("boom", "internalServerError", false));
  assert.equal(a.failure, "boom");
  a.push(...turnDone("failed", {
    error: { message: "final", codexErrorInfo: { x: 1 }, additionalDetails: null },
  }));
  assert.equal(a.failure, "final");
  assert.deepEqual(a.errorInfo, { codexErrorInfo: { x: 1 }, resetsAt: undefined });

  const b = mapper().m;
  b.push(...err("boom", "usageLimitExceeded", false));
  b.push(...turnDone("failed"));
  assert.equal(b.failure, "boom");
  assert.equal(b.errorInfo?.codexErrorInfo, "usageLimitExceeded");

  const c = mapper().m;
  c.push(...turnDone("failed"));
  assert.equal(c.status, "failed");
  assert.equal(c.failure, "turn failed");

  const d = mapper().m;
  d.push(...turnDone("inProgress"));
  assert.equal(d.status, "failed", "an unexpected end status is a failure");
  assert.equal(d.failure, "turn ended inProgress");

  const e = mapper().m;
  e.push(...err("boom", "other", false));
  e.push(...turnDone("interrupted"));
  assert.equal(e.status, "interrupted");
  assert.equal(e.failure, undefined);
});

Deno.test("totals: exec's names; cache_write_input_tokens only when reported", () => {
  const wire = {
    totalTokens: 1158,
    inputTokens: 1001,
    cachedInputTokens: 100,
    outputTokens: 50,
    reasoningOutputTokens: 7,
  };
  const { m } = mapper();
  m.push("thread/tokenUsage/updated", { tokenUsage: { total: wire, last: wire } });
  assert.deepEqual(m.totals, {
    input_tokens: 1001,
    cached_input_tokens: 100,
    output_tokens: 50,
    reasoning_output_tokens: 7,
  });
  m.push("thread/tokenUsage/updated", {
    tokenUsage: { total: { ...wire, inputTokens: 2002, cacheWriteInputTokens: 30 }, last: wire },
  });
  assert.deepEqual(m.totals, {
    input_tokens: 2002, // the last update wins
    cached_input_tokens: 100,
    output_tokens: 50,
    reasoning_output_tokens: 7,
    cache_write_input_tokens: 30,
  });
});

Deno.test("long command output is cut to its last 4096 characters, as on exec", () => {
  const { m } = mapper();
  const output = "a".repeat(5000) + "b".repeat(4096);
  const [ev] = m.push(...completed({
    type: "commandExecution",
    id: "call_1",
    command: "/bin/bash -lc 'yes'",
    cwd: "/w",
    processId: null,
    status: "failed",
    aggregatedOutput: output,
    exitCode: 1,
    durationMs: 3,
  }));
  assert.deepEqual(ev, {
    type: "activity",
    phase: "completed",
    item: {
      id: "call_1",
      type: "command_execution",
      command: "/bin/bash -lc 'yes'",
      aggregated_output: "b".repeat(4096),
      exit_code: 1,
      status: "failed",
      output_truncated: true,
    },
  });
});

Deno.test("mcpToolCall and fileChange items map to the neutral shape", () => {
  const { m } = mapper();
  assert.deepEqual(
    m.push(...started({
      type: "mcpToolCall",
      id: "mcp_1",
      server: "docs",
      tool: "search",
      status: "inProgress",
      arguments: {},
      result: null,
      error: null,
    })),
    [{
      type: "activity",
      phase: "started",
      item: {
        id: "mcp_1",
        type: "mcp_tool_call",
        server: "docs",
        tool: "search",
        status: "in_progress",
      },
    }],
  );
  assert.deepEqual(
    m.push(...completed({
      type: "mcpToolCall",
      id: "mcp_1",
      server: "docs",
      tool: "search",
      status: "failed",
      error: { message: "no such index" },
    }))[0],
    {
      type: "activity",
      phase: "completed",
      item: {
        id: "mcp_1",
        type: "mcp_tool_call",
        server: "docs",
        tool: "search",
        status: "failed",
        error: "no such index",
      },
    },
  );
  assert.deepEqual(
    m.push(...completed({
      type: "fileChange",
      id: "p1",
      status: "declined",
      changes: [
        { path: "/w/a", kind: { type: "add" }, diff: "" },
        { path: "/w/b", kind: { type: "delete" }, diff: "" },
        { path: "/w/c", kind: { type: "update", move_path: null }, diff: "" },
      ],
    }))[0],
    {
      type: "activity",
      phase: "completed",
      item: {
        id: "p1",
        type: "file_change",
        status: "declined",
        changes: [
          { path: "/w/a", kind: "add" },
          { path: "/w/b", kind: "delete" },
          { path: "/w/c", kind: "update" },
        ],
      },
    },
  );
});

Deno.test("without emitActivity: no activity, no todo_list, and progress is never sent", () => {
  const { m, notes } = mapper(false);
  const out = [
    m.push(...started({ type: "commandExecution", id: "c", command: "x", status: "inProgress" })),
    m.push("item/commandExecution/outputDelta", { itemId: "c", delta: "out" }),
    m.push("turn/plan/updated", {
      turnId: "t1",
      explanation: null,
      plan: [{ step: "A", status: "completed" }],
    }),
    m.push(...turnDone("completed")),
  ].flat();
  assert.deepEqual(out, []);
  assert.ok(notes.some(([n]) => n === "app-server item/commandExecution/outputDelta"));
});

Deno.test("unknown notifications are noted, quiet ones are not, none is sent", () => {
  const { m, notes } = mapper();
  const out = [
    m.push("turn/started", { turn: { id: "t1" } }),
    m.push("thread/status/changed", { status: { type: "active" } }),
    m.push("some/future/notification", { x: 1 }),
    m.push("item/completed", {}),
    m.push("item/started", { item: { type: "userMessage", id: "u" } }),
  ].flat();
  assert.deepEqual(out, []);
  assert.deepEqual(notes.map(([n]) => n), ["app-server some/future/notification"]);
});
