/**
 * lib/codex/app_server/wire.ts against Codex's own schema of every pinned
 * release (`codex app-server generate-json-schema`, run here): each method
 * the plugin sends and each notification it reads exists on every release,
 * the params fields the plugin reads are ones Codex always sends, and the
 * recorded notifications (fixtures/app-server/<version>/) are valid
 * against that release's schema.
 */
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import type { Method, Notifications } from "../lib/codex/app_server/wire.ts";
import { ensureCodex } from "../dev/codex.ts";
import { hermetic } from "../dev/hermetic.ts";
import { APP_SERVER_VERSIONS } from "../scripts/record_app_server.ts";

/** Every method of `Requests` (the compiler keeps this list complete). */
const REQUESTS = {
  "initialize": true,
  "account/login/start": true,
  "thread/start": true,
  "thread/resume": true,
  "turn/start": true,
  "turn/interrupt": true,
  "turn/steer": true,
} satisfies Record<Method, true>;

/** Every notification of `Notifications`, with the params fields the plugin reads. */
const READS = {
  "turn/completed": ["threadId", "turn"],
  "item/started": ["threadId", "turnId", "item"],
  "item/completed": ["threadId", "turnId", "item"],
  "item/agentMessage/delta": ["threadId", "turnId", "itemId", "delta"],
  "item/reasoning/summaryTextDelta": ["threadId", "turnId", "itemId", "delta", "summaryIndex"],
  "error": ["threadId", "turnId", "error", "willRetry"],
  "thread/tokenUsage/updated": ["threadId", "turnId", "tokenUsage"],
  "turn/plan/updated": ["threadId", "turnId", "plan"],
} satisfies { [M in keyof Notifications]: (keyof Notifications[M])[] };

interface Schema {
  oneOf: { properties: { method: { enum: string[] }; params?: { $ref?: string } } }[];
  definitions: Record<string, { required?: string[] }>;
}

async function generated(version: string): Promise<{ requests: Schema; notifications: Schema }> {
  const bin = await ensureCodex(version);
  using h = hermetic();
  const out = `${h.root}/schema`;
  const r = await new Deno.Command(bin, {
    args: ["app-server", "generate-json-schema", "--out", out],
    env: h.env(),
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  const read = (f: string) => JSON.parse(Deno.readTextFileSync(`${out}/${f}`)) as Schema;
  return { requests: read("ClientRequest.json"), notifications: read("ServerNotification.json") };
}

const methodsOf = (s: Schema) => new Set(s.oneOf.map((o) => o.properties.method.enum[0]));

for (const v of APP_SERVER_VERSIONS) {
  Deno.test(`app-server ${v}: the wire the plugin uses is in Codex's own schema, and the recordings fit it`, async () => {
    const { requests, notifications } = await generated(v);
    const sent = methodsOf(requests);
    for (const m of Object.keys(REQUESTS)) assert.ok(sent.has(m), `${v} has no request ${m}`);
    const byMethod = new Map(notifications.oneOf.map((o) => [o.properties.method.enum[0], o]));
    for (const [m, fields] of Object.entries(READS)) {
      const ref = byMethod.get(m)?.properties.params?.$ref;
      assert.ok(ref, `${v} has no notification ${m}`);
      const required = notifications.definitions[ref.split("/").at(-1)!].required ?? [];
      for (const f of fields) assert.ok(required.includes(f), `${v}: ${m} may lack ${f}`);
    }

    // Codex's integer formats (int64, uint32, …) are not ajv's: known, not checked.
    const formats = ["int64", "uint64", "int32", "uint32", "uint", "uint8", "uint16", "double"];
    const ajv = new Ajv({
      strict: false,
      formats: Object.fromEntries(formats.map((f) => [f, true])),
    });
    const valid = ajv.compile(notifications);
    const dir = new URL(`../fixtures/app-server/${v}/`, import.meta.url).pathname;
    let checked = 0;
    for (const e of Deno.readDirSync(dir)) {
      if (!e.name.endsWith(".jsonl") || e.name.endsWith(".exec.jsonl")) continue;
      for (const line of Deno.readTextFileSync(dir + e.name).split("\n").filter(Boolean)) {
        const { dir: way, msg } = JSON.parse(line);
        if (way !== "in" || !(msg.method in READS) || "id" in msg) continue;
        const { method, params } = msg;
        assert.ok(
          valid({ method, params }),
          `${e.name} ${method}: ${ajv.errorsText(valid.errors)}`,
        );
        checked++;
      }
    }
    assert.ok(checked > 100, `only ${checked} recorded notifications checked`);
  });
}
