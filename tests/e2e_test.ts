/**
 * End to end with the REAL Codex CLI 0.169.0 against the mock Responses API,
 * driving main.ts as Plexum does (tests/support/rig.ts, plugin.ts): first
 * turn, resume, prompts that look like flags, a large prompt, a failed turn,
 * a stale thread, cancel.
 */
import assert from "node:assert/strict";
import { readThreadId, SESSION_FILE, writeThreadId } from "../lib/codex/session.ts";
import { waitForLog } from "./support/logs.ts";
import { pidsInDir } from "./support/proc.ts";
import { codexPids } from "./support/app_server.ts";
import { chat, chatParams, startRig, userTexts } from "./support/rig.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/** Wait until nothing runs in `ws` (Codex's group is killed asynchronously); returns what is left. */
async function settled(ws: string, timeoutMs = 10_000): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  while (pidsInDir(ws).length && Date.now() < end) await sleep(50);
  return pidsInDir(ws);
}

Deno.test("first turn: the answer, then usage; the thread id is returned and stored", async () => {
  await using rig = await startRig([{ text: "Hello from the mock.", chunks: 4 }]);
  const ws = await rig.workspace();
  const p = await rig.plugin();
  const r = await chat(p, ws, "Say hello.");
  assert.equal(r.response.result.stop_reason, "end_turn");
  assert.equal(r.text, "Hello from the mock.");
  assert.deepEqual(r.errors, []);
  const threadId = r.response.result.thread_id;
  assert.match(threadId, /^[0-9a-f-]{36}$/);
  assert.equal(await Deno.readTextFile(`${ws}/${SESSION_FILE}`), `${threadId}\n`);
  const usage = r.events.at(-1)!;
  assert.equal(usage.type, "usage");
  const { type: _, ...fields } = usage;
  assert.deepEqual(fields, r.response.result.usage);
  assert.ok(fields.input_tokens > 0 && fields.output_tokens > 0);
  assert.deepEqual(userTexts(rig.api.requests[0]).at(-1), "Say hello.");
});

Deno.test("second turn sees the first (its answer is in the request) and reuses the thread", async () => {
  await using rig = await startRig([
    { text: "The secret word is marmalade." },
    { text: "You asked me to remember marmalade." },
  ]);
  const ws = await rig.workspace();
  const p = await rig.plugin();
  const first = await chat(p, ws, "Pick a secret word.");
  const second = await chat(p, ws, "What was the word?");
  assert.equal(second.response.result.stop_reason, "end_turn");
  assert.equal(second.text, "You asked me to remember marmalade.");
  assert.equal(second.response.result.thread_id, first.response.result.thread_id);
  assert.equal(rig.api.requests.length, 2);
  const body = JSON.stringify(rig.api.requests[1]);
  assert.ok(body.includes("The secret word is marmalade."), "first answer is in the 2nd request");
  assert.ok(body.includes("Pick a secret word."), "first prompt too");
  assert.ok(!JSON.stringify(rig.api.requests[0]).includes("marmalade"));
  // The mock charges the same per request: the second turn reports its own share only.
  assert.deepEqual(second.response.result.usage, first.response.result.usage);
});

Deno.test("a prompt '--version' is a message to the model, not a flag", async () => {
  await using rig = await startRig([{ text: "That looks like a flag." }]);
  const ws = await rig.workspace();
  const p = await rig.plugin();
  const r = await chat(p, ws, "--version");
  assert.equal(r.response.result.stop_reason, "end_turn");
  assert.equal(r.text, "That looks like a flag.");
  assert.equal(rig.api.requests.length, 1);
  assert.equal(userTexts(rig.api.requests[0]).at(-1), "--version");
});

Deno.test("a 300 KB prompt arrives whole in the API request", async () => {
  await using rig = await startRig([{ text: "Got it all." }]);
  const ws = await rig.workspace();
  const p = await rig.plugin();
  const unit = 'line 🦀 with ünïcode, "quotes", \\backslashes\\ and a tab\t\n';
  // As many units as take it to 300 KiB (counted once: re-encoding the growing prompt each time
  // took seconds).
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  const units = Math.ceil((300 * 1024 - bytes("-BEGIN-\n")) / bytes(unit));
  const prompt = "-BEGIN-\n" + unit.repeat(units) + "-END-";
  const r = await chat(p, ws, prompt);
  assert.equal(r.response.result.stop_reason, "end_turn");
  assert.equal(r.text, "Got it all.");
  const sent = userTexts(rig.api.requests[0]).at(-1)!;
  assert.equal(sent.length, prompt.length);
  assert.ok(sent === prompt, "the prompt arrived byte for byte");
});

Deno.test("a 401 from the API is exactly one turn_failed error and stop_reason error", async () => {
  await using rig = await startRig([{ status: 401 }]);
  const ws = await rig.workspace();
  const p = await rig.plugin();
  const r = await chat(p, ws, "Say hello.");
  assert.equal(r.response.result.stop_reason, "error");
  assert.equal(r.errors.length, 1, JSON.stringify(r.events));
  assert.equal(r.errors[0].code, "turn_failed");
  assert.match(r.errors[0].message, /401/);
  assert.equal(r.text, "");
  assert.equal(r.response.result.usage, null);
});

Deno.test("a stale thread id in the session file recovers: answer, file replaced, warning", async () => {
  await using rig = await startRig([{ text: "Fresh thread, fresh answer." }]);
  const ws = await rig.workspace();
  const stale = crypto.randomUUID();
  await writeThreadId(ws, stale);
  const p = await rig.plugin();
  const r = await chat(p, ws, "Are you there?");
  assert.equal(r.response.result.stop_reason, "end_turn");
  assert.equal(r.text, "Fresh thread, fresh answer.");
  assert.deepEqual(r.errors, []);
  const fresh = r.response.result.thread_id;
  assert.notEqual(fresh, stale);
  assert.equal(await readThreadId(ws), fresh);
  assert.equal(await Deno.readTextFile(`${ws}/${SESSION_FILE}`), `${fresh}\n`);
  const warning = await waitForLog(p, (l) => l.includes(stale));
  assert.match(warning, /WARN/);
  assert.equal(rig.api.requests.length, 1, "only the fresh thread reached the API");
});

for (
  const [what, reply] of [
    ["a slow stream", { text: "x".repeat(500), chunks: 50, delayMs: 100 }],
    ["a hung stream", { hang: true as const }],
  ] as const
) {
  Deno.test(`cancel during ${what}: stop_reason cancelled within seconds, no process left`, async () => {
    await using rig = await startRig([reply]);
    const ws = await rig.workspace();
    const p = await rig.plugin();
    const params = chatParams(ws, "Write a long answer.");
    const id = await p.send("chat", params);
    await until(() => rig.api.requests.length >= 1, "codex reached the mock");
    await sleep(300);
    assert.ok(codexPids(p.child.pid, ws).length > 0, "codex runs for the turn");
    const t0 = performance.now();
    const c = await p.request("cancel", { turn_id: params.turn_id });
    assert.deepEqual(c.result, { cancelled: true });
    const r = await p.waitFor((m) => m.id === id && !("method" in m), 30_000);
    const ms = performance.now() - t0;
    assert.equal(r.result.stop_reason, "cancelled");
    assert.ok(ms < 5_000, `cancel took ${ms} ms`);
    assert.deepEqual(p.eventsOf(params.turn_id as string).filter((e) => e.type === "error"), []);
    assert.deepEqual(await settled(ws), []);
  });
}
