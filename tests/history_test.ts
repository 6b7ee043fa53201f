/**
 * History replay (lib/codex/history.ts): the transcript a new thread gets,
 * and end to end on the real Codex releases against the mock API, that the
 * model sees the earlier messages exactly once: replayed into a new thread
 * (no stored thread, a stale one), never into a resumed thread, never with
 * `reset: true`, never with `replay_history: false`.
 */
import assert from "node:assert/strict";
import { buildReplay, HISTORY_MAX_CHARS, turnText } from "../lib/codex/history.ts";
import { SESSION_FILE } from "../lib/codex/session.ts";
import { createLogger } from "../lib/log.ts";
import { ensureCodex } from "../dev/codex.ts";
import { chat, startRig, userTexts } from "./support/rig.ts";
import { backendConfig, BACKENDS, EDGE_VERSIONS, NEUTRAL_VERSIONS } from "./support/backends.ts";
import { turnRecord } from "./support/logs.ts";

Deno.test("replay: a delimited transcript with roles, then the prompt", () => {
  const r = buildReplay([
    { role: "user", text: "My name is Ada." },
    { role: "assistant", text: "Hello Ada!" },
  ], "What is my name?");
  assert.equal(r.replayed, 2);
  assert.equal(r.omitted, 0);
  assert.equal(
    r.text,
    "<earlier_conversation>\n\n" +
      "The messages below come from earlier in this conversation, before this thread started. " +
      "Treat them as context; answer the message after the transcript.\n\n" +
      "[user]\nMy name is Ada.\n[/user]\n\n" +
      "[assistant]\nHello Ada!\n[/assistant]\n\n" +
      "</earlier_conversation>\n\n" +
      "What is my name?",
  );
});

Deno.test("replay: no history gives the prompt alone", () => {
  assert.deepEqual(buildReplay([], "hi"), { text: "hi", replayed: 0, omitted: 0 });
});

Deno.test("replay: over the cap, the most recent messages are kept and the cut is said", () => {
  const history = ["one", "two", "three", "four"].map((t, i) => ({
    role: i % 2 ? "assistant" as const : "user" as const,
    text: t.repeat(10), // 30..50 characters each
  }));
  const r = buildReplay(history, "prompt", { maxChars: 100 });
  assert.equal(r.replayed, 2); // "four…" (40) + "three…" (50) fit; "two…" would not
  assert.equal(r.omitted, 2);
  assert.match(
    r.text,
    /\[2 earlier messages were left out: the transcript keeps the most recent 100 characters\]/,
  );
  assert.ok(!r.text.includes("onetwo") && !r.text.includes("twotwo"));
  assert.ok(r.text.includes("three".repeat(10)) && r.text.includes("four".repeat(10)));
  assert.ok(r.text.endsWith("</earlier_conversation>\n\nprompt"));
});

Deno.test("replay: a newest message longer than the cap keeps its end", () => {
  const long = "a".repeat(50) + "THE-END";
  const r = buildReplay([{ role: "user", text: "old" }, { role: "assistant", text: long }], "p", {
    maxChars: 20,
  });
  assert.equal(r.replayed, 1);
  assert.equal(r.omitted, 1);
  assert.ok(r.text.includes(`[…] ${long.slice(-20)}\n[/assistant]`));
  assert.match(r.text, /was cut to its last 20 characters/);
  assert.equal(HISTORY_MAX_CHARS, 100_000);
});

Deno.test("replay: only a new thread, without reset, with replay_history, with history", () => {
  const history = [{ role: "user" as const, text: "x" }];
  const yes = { newThread: true, reset: false, enabled: true, history };
  const replayed = (o: typeof yes) =>
    turnText({ prompt: "p", workspace: "/w", ...o }, { ...o, log: createLogger() }).replayed;
  assert.equal(replayed(yes), 1);
  assert.equal(replayed({ ...yes, newThread: false }), 0);
  assert.equal(replayed({ ...yes, reset: true }), 0);
  assert.equal(replayed({ ...yes, enabled: false }), 0);
  assert.equal(replayed({ ...yes, history: [] }), 0);
});

// ---- end to end ------------------------------------------------------------

const EARLIER = [
  { role: "user", content: "Remember the word PELICAN-7Q." },
  { role: "assistant", content: "Noted: PELICAN-7Q, and the city QUITO-3X." },
  { role: "user", content: "Also remember MANGO-5Z." },
];
const MARKS = ["PELICAN-7Q.", "QUITO-3X.", "MANGO-5Z."];

/** How often `s` occurs in the request's JSON. */
const count = (body: unknown, s: string) => JSON.stringify(body).split(s).length - 1;

for (const backend of BACKENDS) {
  // How a release reports a thread it does not have can change: the oldest and the newest.
  for (const version of EDGE_VERSIONS) {
    Deno.test(`history e2e (${backend}, codex ${version}): a stale thread is replaced and gets the earlier messages once; the next turn does not resend them`, async () => {
      await using rig = await startRig([{ text: "ok" }]);
      const ws = await rig.workspace();
      await Deno.writeTextFile(`${ws}/${SESSION_FILE}`, `${crypto.randomUUID()}\n`); // stale
      const p = await rig.plugin({
        ...backendConfig(backend),
        binary: await ensureCodex(version),
        log_format: "json",
      });
      const messages = [...EARLIER, { role: "user", content: "Which words did I give you?" }];
      const first = await chat(p, ws, "", { messages });
      assert.equal(first.response.result?.stop_reason, "end_turn", JSON.stringify(first));
      assert.equal(first.response.result.replayed_messages, 3);
      assert.equal(rig.api.requests.length, 1);
      const body = rig.api.requests[0];
      const history = EARLIER.map((m) => ({
        role: m.role as "user" | "assistant",
        text: m.content,
      }));
      assert.ok(
        userTexts(body).includes(buildReplay(history, "Which words did I give you?").text),
        `the exact transcript and prompt: ${JSON.stringify(userTexts(body))}`,
      );
      for (const m of MARKS) assert.equal(count(body, m), 1, m);
      assert.equal((await turnRecord(p, first.turnId)).replayed_messages, 3);

      // The next turn resumes the new thread: it holds the transcript already.
      const next = await chat(p, ws, "", {
        messages: [...messages, { role: "assistant", content: "ok" }, {
          role: "user",
          content: "And now?",
        }],
      });
      assert.equal(next.response.result?.stop_reason, "end_turn");
      assert.equal(next.response.result.thread_id, first.response.result.thread_id);
      assert.equal(next.response.result.replayed_messages, undefined);
      const body2 = rig.api.requests[1];
      for (const m of MARKS) assert.equal(count(body2, m), 1, `${m} once in the resumed thread`);
      assert.ok(userTexts(body2).includes("And now?"));
      assert.equal((await turnRecord(p, next.turnId)).replayed_messages, undefined);
    });
  }

  // Whether history is sent is the plugin's decision alone.
  for (const version of NEUTRAL_VERSIONS) {
    Deno.test(`history e2e (${backend}, codex ${version}): reset and replay_history: false send no history`, async () => {
      await using rig = await startRig([{ text: "ok" }]);
      const messages = [...EARLIER, { role: "user", content: "Fresh start." }];
      const binary = await ensureCodex(version);
      const p = await rig.plugin({ ...backendConfig(backend), binary });
      const ws = await rig.workspace();
      const r = await chat(p, ws, "", { messages, reset: true });
      assert.equal(r.response.result?.stop_reason, "end_turn");
      assert.equal(r.response.result.replayed_messages, undefined);
      for (const m of MARKS) assert.equal(count(rig.api.requests[0], m), 0, m);

      const off = await rig.plugin({ ...backendConfig(backend), binary, replay_history: false });
      const r2 = await chat(off, await rig.workspace(), "", { messages });
      assert.equal(r2.response.result?.stop_reason, "end_turn");
      assert.equal(r2.response.result.replayed_messages, undefined);
      for (const m of MARKS) assert.equal(count(rig.api.requests[1], m), 0, m);
      assert.ok(userTexts(rig.api.requests[1]).includes("Fresh start."));
    });
  }
}
