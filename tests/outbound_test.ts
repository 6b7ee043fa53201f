/**
 * Masking a turn's streamed text as one stream (lib/redact.ts `StreamRedactor`,
 * lib/protocol/outbound.ts `OutboundTurns`): a secret split across two or
 * three `text_delta`s or `reasoning_delta`s is masked whole; text that cannot
 * be part of a secret is passed on at once; what waits is sent before the
 * turn's next event of another kind and before its result. In process, with a
 * scripted backend behind the real protocol server; the real Codex streaming a
 * key in pieces is in app_server_e2e_test.ts.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { OutboundTurns } from "../lib/protocol/outbound.ts";
import { Server } from "../lib/protocol/server.ts";
import { Redactor, StreamRedactor } from "../lib/redact.ts";
import type { Backend, PlexumEvent, TurnRequest, TurnResult } from "../lib/turns/backend.ts";

/** A secret-named variable's value, and a key shaped like OpenAI's that is in no variable. */
const VALUE = `val-${crypto.randomUUID().replaceAll("-", "")}`;
const SHAPED = `sk-proj-${crypto.randomUUID().replaceAll("-", "")}`;
// Before the server's shared Redactor reads the environment (it does on first use).
Deno.env.set("PLEXUM_OUTBOUND_TEST_API_KEY", VALUE);

const redactor = new Redactor({ PLEXUM_OUTBOUND_TEST_API_KEY: VALUE });
const TEXT = `first ${VALUE} then ${SHAPED}, and "${VALUE}" last`;

/** Every way to cut `text` into `n` non-empty pieces (n = 2 or 3). */
function splits(text: string, n: 2 | 3): string[][] {
  const out: string[][] = [];
  for (let a = 1; a < text.length; a++) {
    if (n === 2) out.push([text.slice(0, a), text.slice(a)]);
    else {
      for (let b = a + 1; b < text.length; b++) {
        out.push([text.slice(0, a), text.slice(a, b), text.slice(b)]);
      }
    }
  }
  return out;
}

/** What a stream passes on for `pieces`: each push's output, then the flush's. */
function streamed(pieces: string[]): string[] {
  const s = new StreamRedactor(redactor);
  return [...pieces.map((p) => s.push(p)), s.flush()];
}

Deno.test("a secret value or sk- key split over 2 or 3 pieces, at any point, is masked whole", () => {
  const whole = redactor.text(TEXT);
  assert.equal(whole, `first *** then ***, and "***" last`);
  for (const n of [2, 3] as const) {
    for (const pieces of splits(TEXT, n)) {
      const out = streamed(pieces).join("");
      assert.equal(out, whole, JSON.stringify(pieces));
    }
  }
});

Deno.test("text that cannot become a secret is passed on at once, whole", () => {
  const s = new StreamRedactor(redactor);
  assert.equal(s.push("Hello, world."), "Hello, world.");
  assert.equal(s.push(" Streaming, one piece"), " Streaming, one piece");
  assert.equal(s.flush(), "");
});

Deno.test("only the tail that may still be a secret waits: a prefix of a value, s, sk, sk-…", () => {
  const s = new StreamRedactor(redactor);
  assert.equal(s.push(`ok ${VALUE.slice(0, 5)}`), "ok ");
  assert.equal(s.push(`${VALUE.slice(5)} and that is`), "*** and that i");
  assert.equal(s.push(" sk"), "s ");
  assert.equal(s.push("-abc"), "");
  assert.equal(s.push("defghijklmnopqrstu"), "");
  assert.equal(s.push(" done"), "*** done");
  assert.equal(s.push(` ${VALUE.slice(0, 3)}`), " ");
  assert.equal(s.flush(), VALUE.slice(0, 3), "a prefix that never became the secret");
});

Deno.test("OutboundTurns: held text goes before the turn's next other event and at its end; turns apart", () => {
  const sent: [string, PlexumEvent][] = [];
  const turns = new OutboundTurns((id, ev) => sent.push([id, ev]), redactor);
  turns.send("a", { type: "text_delta", text: `key ${VALUE.slice(0, 8)}` });
  turns.send("b", { type: "reasoning_delta", text: `thinking ${SHAPED.slice(0, 10)}` });
  turns.send("a", { type: "text_delta", text: VALUE.slice(8) });
  turns.send("b", { type: "reasoning_delta", text: SHAPED.slice(10, 16) });
  turns.send("b", { type: "text_delta", text: "answer" }); // another kind: the reasoning goes first
  turns.send("b", { type: "reasoning_delta", text: SHAPED.slice(16) }); // not the same stream
  turns.send("a", { type: "usage" } as PlexumEvent);
  turns.end("b");
  turns.end("a");
  assert.deepEqual(sent, [
    ["a", { type: "text_delta", text: "key " }],
    ["b", { type: "reasoning_delta", text: "thinking " }],
    ["a", { type: "text_delta", text: "***" }],
    ["b", { type: "reasoning_delta", text: SHAPED.slice(0, 16) }],
    ["b", { type: "text_delta", text: "answer" }],
    ["b", { type: "reasoning_delta", text: SHAPED.slice(16) }],
    ["a", { type: "usage" }],
  ]);
  // Cut off by the text, SHAPED.slice(0, 16) is "sk-" and 13 characters: not a key (16 or more).
  assert.equal(SHAPED.slice(0, 16).length, 3 + 13);
});

/** A backend that streams `pieces` as deltas of `type`, then ends the turn. */
class StreamingBackend implements Backend {
  constructor(readonly pieces: string[], readonly type: "text_delta" | "reasoning_delta") {}
  runTurn(req: TurnRequest): Promise<TurnResult> {
    for (const text of this.pieces) req.emit({ type: this.type, text });
    return Promise.resolve({ stop_reason: "end_turn", thread_id: null, usage: null });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Run one turn through the real protocol server; its messages, in order. */
// deno-lint-ignore no-explicit-any
async function serveTurn(backend: Backend): Promise<Record<string, any>[]> {
  // deno-lint-ignore no-explicit-any
  const sent: Record<string, any>[] = [];
  const server = new Server({
    send: (msg) => sent.push(JSON.parse(JSON.stringify(msg))),
    log: createLogger({ level: "error", write: () => {} }),
    baseConfig: { ...DEFAULTS },
    version: "0.0.0-test",
    backend: () => backend,
  });
  const ws = await Deno.makeTempDir();
  try {
    const line = (id: string, method: string, params: unknown) =>
      server.handle(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    line("i", "initialize", { protocol_version: 1, config: { emit_reasoning: true } });
    line("c", "chat", {
      turn_id: "t",
      agent: { id: "a", workspace: ws },
      messages: [{ role: "user", content: "hi" }],
    });
    const end = Date.now() + 5_000;
    while (!sent.some((m) => m.id === "c")) {
      if (Date.now() > end) throw new Error(`no response: ${JSON.stringify(sent)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await server.shutdown();
    return sent;
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
}

for (const type of ["text_delta", "reasoning_delta"] as const) {
  Deno.test(`server: a key split over 2 and 3 ${type}s reaches the host masked, all of it before the result`, async () => {
    const text = `the keys: ${VALUE} and ${SHAPED}.`;
    const at = text.indexOf(VALUE) + 7;
    const at2 = text.indexOf(SHAPED) + 9;
    for (
      const pieces of [[text.slice(0, at), text.slice(at)], [
        text.slice(0, at),
        text.slice(at, at2),
        text.slice(at2),
      ]]
    ) {
      const sent = await serveTurn(new StreamingBackend(pieces, type));
      const events = sent.filter((m) => m.method === "event").map((m) => m.params.event);
      const streamedText = events.filter((e) => e.type === type).map((e) => e.text).join("");
      assert.equal(streamedText, "the keys: *** and ***.", JSON.stringify(pieces));
      const wire = JSON.stringify(sent);
      for (const secret of [VALUE, SHAPED]) {
        for (const part of pieces.map((p) => p.slice(-6)).filter((p) => secret.includes(p))) {
          assert.ok(!wire.includes(part), `part of a secret reached the host: ${part}`);
        }
      }
      const result = sent.findIndex((m) => m.id === "c");
      const lastEvent = sent.findLastIndex((m) => m.method === "event");
      assert.ok(lastEvent < result, "every event before the result");
    }
  });
}
