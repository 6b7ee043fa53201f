/**
 * Issue 21, point 1: without network a turn must not outlive
 * `idle_timeout_s`. The real Codex (0.169.0) is pointed at a closed loopback
 * port; it retries and says so ("Reconnecting... waiting for network"), about
 * 3 s, then 8 s, then 13 s apart. Those notices must not reset the idle
 * timer: the turn ends `idle_timeout_s` after Codex's last progress, with one
 * `timeout` error that says Codex could not reach the API and quotes its
 * notice. Counting the notices as activity ended the same turn after about
 * 21 s (notice at ~3 s → ~13 s; at ~11 s → ~21 s), well over the bound.
 */
import assert from "node:assert/strict";
import { chat, startRig } from "./support/rig.ts";
import { backendConfig, BACKENDS } from "./support/backends.ts";

const IDLE_S = 10;
/** Start-up of Codex (and of the app-server), the interrupt, and a loaded machine. */
const SLACK_S = 5;

/** A loopback port nothing listens on. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: with the API unreachable, Codex's retry notices do not keep a turn past idle_timeout_s, and its one error names the cause`, async () => {
    await using rig = await startRig();
    const ws = await rig.workspace();
    const p = await rig.plugin({
      ...backendConfig(backend),
      idle_timeout_s: IDLE_S,
      extra_args: [
        "-c",
        `model_providers.mock.base_url="http://127.0.0.1:${closedPort()}/v1"`,
        "-c",
        "model_providers.mock.request_max_retries=4",
        "-c",
        "model_providers.mock.stream_max_retries=4",
      ],
    });
    const r = await chat(p, ws, "Say hi.", {}, (IDLE_S + 60) * 1000);
    assert.equal(r.response.result?.stop_reason, "error", JSON.stringify(r.response));
    assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
    const e = r.errors[0];
    assert.equal(e.code, "timeout");
    assert.match(e.message, /^codex could not reach the API: no progress for 10s, only retries/);
    assert.match(e.message, /\(last: "Reconnecting\.\.\. [^"]*"\)/, e.message);
    assert.ok(e.message.length < 600, e.message);
    assert.equal(rig.api.requests.length, 0, "the mock was never asked");
    assert.ok(
      r.ms < (IDLE_S + SLACK_S) * 1000,
      `the turn took ${Math.round(r.ms)} ms with idle_timeout_s ${IDLE_S}`,
    );
  });
}
