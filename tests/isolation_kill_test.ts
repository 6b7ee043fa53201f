/**
 * Isolation between workspaces on the shared app-server (PROTOCOL.md,
 * "Isolation between workspaces"): an agent's command that kills its parent
 * (`kill $PPID`, the app-server) ends another workspace's streaming turn with
 * one `codex_exit` error saying the app-server exited (with Codex 0.169.0's
 * npm wrapper: "code 0", not the signal), and that workspace's next turn
 * works on a new app-server.
 */
import assert from "node:assert/strict";
import { chat, startRig, userTexts } from "./support/rig.ts";

Deno.test("isolation (app-server): kill $PPID from one workspace ends the others' turns with one codex_exit; their next turn works", async () => {
  await using rig = await startRig([{ text: "ok" }], {
    reply: (body) => {
      const said = userTexts(body).at(-1) ?? "";
      if (said.includes("Stream slowly")) {
        return { text: "x".repeat(40), chunks: 40, delayMs: 1000 };
      }
      if (said.includes("Kill it")) return { shell: "kill $PPID" };
      return undefined;
    },
  });
  const p = await rig.plugin({ backend: "app-server" });
  const [a, b] = [await rig.workspace(), await rig.workspace()];
  const streaming = chat(p, a, "Stream slowly.");
  // Bounded wait until workspace a's turn reached the model (it then streams for 40 s).
  for (let i = 0; !rig.api.requests.some((r) => userTexts(r).join(" ").includes("Stream")); i++) {
    assert.ok(i < 600, "the streaming turn never reached the mock");
    await new Promise((r) => setTimeout(r, 100));
  }
  const killer = await chat(p, b, "Kill it.");
  const other = await streaming;
  assert.equal(other.response.result?.stop_reason, "error", JSON.stringify(other));
  assert.equal(other.errors.length, 1, JSON.stringify(other.events));
  assert.equal(other.errors[0].code, "codex_exit");
  assert.match(
    other.errors[0].message,
    /^codex app-server exited \(.+\) before the turn completed/,
  );
  assert.equal(killer.errors[0]?.code, "codex_exit", JSON.stringify(killer.events));
  const next = await chat(p, a, "Say hello.");
  assert.equal(next.response.result?.stop_reason, "end_turn", JSON.stringify(next));
  assert.equal(next.text, "ok");
});
