/**
 * The turn options of `chat` end to end: the REAL Codex of each pinned
 * release on both backends against the mock API, judged by what the mock
 * received. `reasoning_effort` reaches the model as `reasoning.effort` for
 * its turn only (the app-server would keep it for the thread's later turns:
 * lib/codex/app_server/effort.ts), in the same process and after a restart.
 * `output_schema` reaches it as a strict `json_schema` text format for its
 * turn only, the result's `output` is the answer parsed, an answer that is
 * not JSON is one `turn_failed` error, and exec's schema file is gone after
 * the turn, however it ended.
 */
import assert from "node:assert/strict";
import { chat, chatParams, closePlugin, startRig, userTexts } from "./support/rig.ts";
import { APP_SERVER_VERSIONS, pluginOn } from "./support/app_server.ts";
import { BACKENDS } from "./support/backends.ts";
import type { Plugin } from "../dev/plugin.ts";
import type { MockReply } from "../dev/mock_api.ts";

type Json = Record<string, unknown>;

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

const SCHEMA = {
  type: "object",
  properties: { files: { type: "integer" } },
  required: ["files"],
  additionalProperties: false,
};
const TMP = Deno.env.get("TMPDIR") || "/tmp";
const schemaFiles = () =>
  [...Deno.readDirSync(TMP)].map((e) => e.name).filter((n) => n.startsWith("plexum-schema-"));

/** Resolves once `cond()` holds; fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 60_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const backend of BACKENDS) {
  for (const version of APP_SERVER_VERSIONS) {
    Deno.test(`output_schema e2e (${backend}, codex ${version}): a strict json_schema format for its turn, output parsed, not JSON is one error`, async () => {
      // The mock answers by the prompt: JSON, plain text, or a stream that never ends.
      const replies: Record<string, MockReply> = {
        json: { text: '{"files": 3}', chunks: 3 },
        plain: { text: "Three files." },
        prose: { text: "Sure! There are three files." },
        hang: { hang: true },
      };
      await using rig = await startRig([{ text: "ok" }], {
        reply: (body) => replies[userTexts(body).at(-1) ?? ""],
      });
      const ws = await rig.workspace();
      const before = schemaFiles();
      const p = await pluginOn(rig, version, backend);
      /** The turn, and the `text` field of each model request it made. */
      const turn = async (prompt: string, schema?: unknown) => {
        const from = rig.api.requests.length;
        const r = await chat(p, ws, prompt, schema ? { output_schema: schema } : {});
        return { r, formats: rig.api.requests.slice(from).map((b) => (b.text as Json)?.format) };
      };
      const json = await turn("json", SCHEMA);
      assert.equal(json.r.response.result?.stop_reason, "end_turn", JSON.stringify(json.r));
      assert.ok(json.formats.length > 0);
      for (const f of json.formats) {
        assert.deepEqual(f, {
          type: "json_schema",
          strict: true,
          schema: SCHEMA,
          name: (f as Json).name,
        });
      }
      assert.deepEqual(json.r.response.result.output, { files: 3 });
      assert.equal(json.r.text, '{"files": 3}');

      const plain = await turn("plain"); // the same thread, no schema: no format
      assert.equal(plain.r.response.result?.stop_reason, "end_turn");
      assert.equal(plain.r.response.result.thread_id, json.r.response.result.thread_id);
      assert.deepEqual(plain.formats.filter((f) => f !== undefined), []);
      assert.ok(!("output" in plain.r.response.result));

      const prose = await turn("prose", SCHEMA);
      assert.equal(prose.r.response.result?.stop_reason, "error");
      assert.ok(!("output" in prose.r.response.result));
      assert.equal(prose.r.errors.length, 1, JSON.stringify(prose.r.events));
      assert.equal(prose.r.errors[0].code, "turn_failed");
      assert.match(prose.r.errors[0].message, /output_schema: the final answer is not JSON/);
      assert.equal(prose.r.text, "Sure! There are three files.");

      // Cancelled mid-turn: the schema file (exec) is there while Codex runs, gone after.
      const params = chatParams(ws, "hang", { output_schema: SCHEMA });
      const from = rig.api.requests.length;
      const id = await p.send("chat", params);
      await until(() => rig.api.requests.length > from, "codex reached the mock");
      if (backend === "exec") assert.equal(schemaFiles().length, before.length + 1);
      await p.request("cancel", { turn_id: params.turn_id });
      const c = await p.waitFor((m) => m.id === id && !("method" in m), 30_000);
      assert.equal(c.result.stop_reason, "cancelled");
      assert.deepEqual(schemaFiles().filter((n) => !before.includes(n)), []);
    });
  }
}
