/**
 * Issue 13, points 5, 6 and 11, end to end with a fake codex printing exactly
 * the bytes a test needs (tests/support/faulty_codex.ts): secrets Codex prints
 * are masked in events and logs; invalid UTF-8 in an answer arrives with
 * U+FFFD and a warning; an 80 MiB answer arrives split, no line over 64 MiB;
 * a host that stops reading stdout ends the plugin and Codex within seconds.
 */
import assert from "node:assert/strict";
import { installFaultyCodex, type Step } from "./support/faulty_codex.ts";
import { chat, chatParams, startRig } from "./support/rig.ts";
import { pluginArgs } from "../dev/plugin.ts";
import { isAlive, pidsInDir, until } from "./support/proc.ts";

const EXEC = { backend: "exec" };
const THREAD = "0199a0b1-0000-7000-8000-00000000c0de";
const line = (v: unknown): Step => ({ line: JSON.stringify(v) });
const started: Step[] = [
  line({ type: "thread.started", thread_id: THREAD }),
  line({ type: "turn.started" }),
];
const completed = line({
  type: "turn.completed",
  usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 2 },
});
const enc = new TextEncoder();

Deno.test("invalid UTF-8 in an answer (FF FE C0 AF) arrives with U+FFFD and one warning, never dropped", async () => {
  const head = enc.encode(
    '{"type":"item.completed","item":{"id":"m","type":"agent_message","text":"before ',
  );
  const tail = enc.encode(' after"}}');
  await using fake = await installFaultyCodex({
    steps: [...started, { bytes: [...head, 0xff, 0xfe, 0xc0, 0xaf, ...tail] }, completed],
  });
  await using rig = await startRig();
  const p = await rig.plugin({ ...EXEC, binary: fake.binary });
  const r = await chat(p, await rig.workspace(), "say something odd");
  assert.equal(r.response.result.stop_reason, "end_turn", p.stderr());
  assert.equal(r.text, "before \uFFFD\uFFFD\uFFFD\uFFFD after");
  const warnings = p.stderr().split("\n").filter((l) => / WARN /.test(l));
  assert.equal(warnings.length, 1, p.stderr());
  assert.match(warnings[0], /invalid UTF-8; passed on with U\+FFFD/);
});
