/**
 * The turn options of `chat` end to end: the REAL Codex of each pinned
 * release on both backends against the mock API, judged by what the mock
 * received. `reasoning_effort` reaches the model as `reasoning.effort` for
 * its turn only (the app-server would keep it for the thread's later turns:
 * lib/codex/app_server/effort.ts), in the same process and after a restart.
 */
import assert from "node:assert/strict";
import { chat, closePlugin, startRig } from "./support/rig.ts";
import { APP_SERVER_VERSIONS, pluginOn } from "./support/app_server.ts";
import { BACKENDS } from "./support/backends.ts";
import type { Plugin } from "../dev/plugin.ts";

for (const backend of BACKENDS) {
  for (const version of APP_SERVER_VERSIONS) {
    Deno.test(`reasoning_effort e2e (${backend}, codex ${version}): the model gets it for its turn only`, async () => {
      await using rig = await startRig([{ text: "ok" }]);
      const ws = await rig.workspace();
      /** `reasoning.effort` of every model request of one turn. */
      const efforts = async (p: Plugin, effort?: string) => {
        const from = rig.api.requests.length;
        const r = await chat(p, ws, "hi", effort ? { reasoning_effort: effort } : {});
        assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r.response));
        const sent = rig.api.requests.slice(from).map((b) =>
          (b.reasoning as { effort?: string } | undefined)?.effort
        );
        assert.ok(sent.length > 0);
        return [...new Set(sent)];
      };
      const p1 = await pluginOn(rig, version, backend);
      const [own] = await efforts(p1); // Codex's own for its default model
      assert.ok(own && own !== "xhigh" && own !== "minimal", `codex's own effort: ${own}`);
      assert.deepEqual(await efforts(p1, "xhigh"), ["xhigh"]);
      assert.deepEqual(await efforts(p1), [own], "the next turn is back to Codex's own");
      assert.deepEqual(await efforts(p1, "minimal"), ["minimal"]);
      await closePlugin(p1);
      // A new process resumes the thread, which the app-server keeps at "minimal".
      const p2 = await pluginOn(rig, version, backend);
      assert.deepEqual(await efforts(p2), [own], "after a restart too");
      await closePlugin(p2);
      const p3 = await pluginOn(rig, version, backend, { reasoning_effort: "low" });
      assert.deepEqual(await efforts(p3), ["low"], "config reasoning_effort is the default");
      assert.deepEqual(await efforts(p3, "high"), ["high"]);
      assert.deepEqual(await efforts(p3), ["low"]);
    });
  }
}
