/**
 * Issue 13: the pieces behind the end-to-end hardening tests, one by one:
 * masking (lib/redact.ts), outbound event limits (lib/protocol/outbound.ts),
 * bounded field errors (lib/protocol/field_errors.ts), workspace checks
 * (lib/protocol/chat_params.ts), token counts (lib/codex/usage.ts), the writer
 * that notices a host that stopped reading (lib/jsonrpc/transport.ts) and cutting (cut).
 */
import assert from "node:assert/strict";
import { MASK, Redactor } from "../lib/redact.ts";
import {
  MAX_EVENT_ERROR_CHARS,
  MAX_OUTBOUND_LINE_BYTES,
  MAX_TEXT_DELTA_CHARS,
  outboundEvents,
} from "../lib/protocol/outbound.ts";
import { addError, addErrors, invalidParams, omittedCount } from "../lib/protocol/field_errors.ts";
import { workspaceProblem } from "../lib/protocol/chat_params.ts";
import { checkTotals, usageDelta } from "../lib/codex/usage.ts";
import { cut } from "../lib/cut.ts";
import { countContainers } from "../lib/jsonrpc/message.ts";
import { LineTransport } from "../lib/jsonrpc/transport.ts";
import type { FieldError } from "../lib/config.ts";
import type { ActivityItem } from "../lib/turns/backend.ts";

Deno.test("Redactor masks secret-named variables (raw and JSON-escaped) and sk- keys, nothing else", () => {
  const r = new Redactor({
    OPENAI_API_KEY: "abc-secret-1",
    GITHUB_TOKEN: 'has"quote',
    SHORT_KEY: "x1", // too short to mask
    PATH: "/usr/bin:/bin",
  });
  assert.equal(r.text("k=abc-secret-1 p=/usr/bin:/bin s=x1"), `k=${MASK} p=/usr/bin:/bin s=x1`);
  assert.equal(r.text(JSON.stringify({ t: 'has"quote' })), `{"t":"${MASK}"}`);
  assert.equal(r.text("sk-proj-AAAAbbbbCCCCdddd1234 and sk-short"), `${MASK} and sk-short`);
  assert.deepEqual(r.deep({ a: ["abc-secret-1", 5, null], b: { c: "sk-0123456789abcdefXY" } }), {
    a: [MASK, 5, null],
    b: { c: MASK },
  });
});

Deno.test("outboundEvents: a huge text is split into deltas within the limit, pairs whole, text intact", () => {
  const text = "a".repeat(MAX_TEXT_DELTA_CHARS - 1) + "🦀" + "b".repeat(MAX_TEXT_DELTA_CHARS * 2);
  const out = outboundEvents({ type: "text_delta", text }, new Redactor({}));
  assert.equal(out.length, 4);
  const texts = out.map((e) => (e as { text: string }).text);
  assert.equal(texts.join(""), text);
  assert.ok(texts.every((t) => t.length <= MAX_TEXT_DELTA_CHARS));
  assert.ok(texts[0].endsWith("a") && texts[1].startsWith("🦀"), "the pair stayed whole");
  for (const e of out) {
    assert.ok(new TextEncoder().encode(JSON.stringify(e)).length < MAX_OUTBOUND_LINE_BYTES);
  }
});

Deno.test("outboundEvents: error messages are cut, oversized activity items are shrunk, small ones kept", () => {
  const r = new Redactor({});
  const [err] = outboundEvents(
    { type: "error", code: "turn_failed", message: "e".repeat(MAX_EVENT_ERROR_CHARS * 3) },
    r,
  );
  assert.ok((err as { message: string }).message.length < MAX_EVENT_ERROR_CHARS + 100);
  assert.match((err as { message: string }).message, /cut from 196608 characters\)$/);
  const small: ActivityItem = { id: "w", type: "web_search", query: "deno" };
  assert.deepEqual(outboundEvents({ type: "activity", phase: "completed", item: small }, r), [
    { type: "activity", phase: "completed", item: small },
  ]);
  const huge: ActivityItem = {
    id: "t",
    type: "todo_list",
    items: Array.from({ length: 3000 }, () => ({ text: "x".repeat(10_000), completed: false })),
  };
  const [shrunk] = outboundEvents({ type: "activity", phase: "updated", item: huge }, r);
  const bytes = new TextEncoder().encode(JSON.stringify(shrunk)).length;
  assert.ok(bytes < MAX_OUTBOUND_LINE_BYTES, `${bytes}`);
});

Deno.test("field errors: the first 20 are kept, the rest counted, through nesting; the reply is bounded", () => {
  const inner: FieldError[] = [];
  for (let i = 0; i < 30; i++) {
    addError(inner, { field: `messages[0].content[${i}]`, message: "bad" });
  }
  assert.equal(inner.length, 20);
  assert.equal(omittedCount(inner), 10);
  const outer: FieldError[] = [{ field: "turn_id", message: "must be a non-empty string" }];
  addErrors(outer, inner);
  assert.equal(outer.length, 20);
  assert.equal(omittedCount(outer), 11);
  const { message, data } = invalidParams(outer);
  assert.equal(data.errors.length, 20);
  assert.equal(data.errors_omitted, 11);
  assert.match(message, /^invalid params: turn_id must be a non-empty string; .*; and 11 more$/);
  const long = invalidParams([{ field: "f".repeat(100_000), message: "m".repeat(100_000) }]);
  assert.ok(long.message.length < 2000, `${long.message.length}`);
  assert.equal(long.data.errors_omitted, undefined);
});

Deno.test("workspaceProblem: pseudo filesystems named, missing said so, a directory fine", async () => {
  assert.match(workspaceProblem("/proc")!, /^is \/proc, the kernel's pseudo filesystem/);
  assert.match(workspaceProblem("/sys/kernel")!, /inside \/sys/);
  assert.match(workspaceProblem("/dev/shm")!, /inside \/dev, the device tree/);
  assert.match(workspaceProblem("/tmp/../dev")!, /^is \/dev/);
  assert.equal(workspaceProblem("relative/path"), "must be an absolute path");
  assert.equal(workspaceProblem("/nonexistent/x"), "does not exist");
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(workspaceProblem(dir), undefined);
    await Deno.symlink("/proc", `${dir}/link`);
    assert.match(workspaceProblem(`${dir}/link`)!, /^leads to \/proc, .*\(through a symlink\)/);
    await Deno.writeTextFile(`${dir}/file`, "");
    assert.equal(workspaceProblem(`${dir}/file`), "is not a directory");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkTotals accepts non-negative safe integers only; usageDelta never passes a non-count through", () => {
  assert.deepEqual(checkTotals({ input_tokens: 5, output_tokens: 0, other: "x" }), {
    ok: true,
    value: { input_tokens: 5, output_tokens: 0 },
  });
  for (const bad of [-5, "x", 1e300, null, 0.5, Number.MAX_SAFE_INTEGER + 2]) {
    assert.equal(checkTotals({ input_tokens: bad, output_tokens: 1 }).ok, false, String(bad));
  }
  assert.equal(checkTotals({}).ok, false);
  assert.equal(checkTotals([1]).ok, false);
  const u = usageDelta({ input_tokens: 1e300, output_tokens: -3, cached_input_tokens: 7 });
  assert.deepEqual(u, {
    input_tokens: 0,
    cached_input_tokens: 7,
    output_tokens: 0,
    reasoning_tokens: 0,
  });
});

Deno.test("cut keeps surrogate pairs whole and says the original length", () => {
  assert.equal(cut("abc", 5), "abc");
  assert.equal(cut("abcdef", 3), "abc… (cut from 6 characters)");
  assert.equal(cut("ab🦀cd", 3), "ab… (cut from 6 characters)");
});

Deno.test("LineTransport: a write blocked for the stall limit closes it as stalled; flush does not wait forever", async () => {
  const w = new LineTransport({
    readable: new ReadableStream(),
    writable: { write: () => new Promise<number>(() => {}) },
    stallMs: 50,
  });
  w.send({ a: 1 });
  assert.equal(await w.outputClosed, "stalled");
  await w.flush(); // resolves although the write never will
  await w.send({ b: 2 }); // dropped
});

Deno.test("countContainers counts objects and arrays outside strings, escapes included, and stops past max", () => {
  assert.equal(countContainers('{"a":[1,{"b":"{[[\\"{"}]}', 100), 3);
  assert.equal(countContainers('["\\\\", {}]', 100), 2);
  assert.equal(countContainers("[" + "{},".repeat(1000) + "{}]", 10), 11);
});
