/**
 * The permissions the plugin runs with: one set, in deno.json's compile task,
 * shared by the start task, compile:all and every test that starts the plugin
 * (dev/plugin.ts), so a missing permission fails here, not in
 * production. The set is sufficient (a real turn, doctor and chat pass under
 * it) and minimal (without any one flag doctor cannot pass).
 */
import assert from "node:assert/strict";
import deno from "../deno.json" with { type: "json" };
import { turnLog, waitForLog } from "./support/logs.ts";
import { compileTask } from "../scripts/compile_all.ts";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { permissionFlags, startPlugin, testBackend } from "../dev/plugin.ts";
import { hermetic } from "../dev/hermetic.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

/** The permission flags of a `deno run|compile ...` task line. */
function taskPermissions(task: string): string[] {
  return task.split(/\s+/).filter((w) => /^--(allow|deny)-|^-A$/.test(w));
}

Deno.test("start and compile tasks grant identical permissions, and none is allow-all", () => {
  const start = taskPermissions(deno.tasks.start);
  const compile = taskPermissions(deno.tasks["compile:raw"]);
  assert.deepEqual(start, compile);
  assert.deepEqual(compile, ["--allow-run", "--allow-read", "--allow-write", "--allow-env"]);
  for (const f of compile) assert.ok(f !== "--allow-all" && f !== "-A", f);
  // compile:all and the test harness read the very same flags.
  assert.deepEqual(compileTask(deno.tasks["compile:raw"]).flags, compile);
  assert.deepEqual(permissionFlags(), compile);
  assert.ok(!/--allow-all|\s-A\s/.test(deno.tasks["compile:all"]));
});

/** A logged-in CODEX_HOME (offline: `codex login --with-api-key`), a mock, a workspace. */
async function rig() {
  const bin = await ensureCodex("0.169.0");
  const api = startMockApi([{ text: "under the compile flags" }]);
  const dir = await Deno.makeTempDir();
  const ws = `${dir}/ws`;
  await Deno.mkdir(ws);
  const h = hermetic(dir); // dir/home, dir/codex-home
  const mock = mockCodexSetup(api.baseUrl, h.codexHome);
  const env = h.env(mock.env);
  const login = new Deno.Command(bin, {
    args: ["login", "--with-api-key"],
    clearEnv: true,
    env,
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const w = login.stdin.getWriter();
  await w.write(new TextEncoder().encode("sk-permissions-test\n"));
  await w.close();
  assert.equal((await login.status).code, 0);
  const config = `${dir}/plugin.jsonc`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ ...testBackend(), binary: bin, extra_args: mock.args }),
  );
  return {
    bin,
    api,
    ws,
    config,
    /** Complete and hermetic (dev/hermetic.ts): spawn with `clearEnv: true`. */
    env,
    async close() {
      await api.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Run main.ts with exactly `flags` and `--no-prompt` (a missing permission is an error). */
async function runWith(flags: string[], args: string[], env: Record<string, string>) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, `${root}main.ts`, ...args],
    clearEnv: true,
    env,
    stdin: "null",
  }).output();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test("under exactly the compile flags: a real turn, doctor and chat all work", async () => {
  const r = await rig();
  const plugin = startPlugin({ args: ["--config", r.config], env: r.env });
  try {
    await plugin.request("initialize", { protocol_version: 1 });
    const turn = await plugin.request("chat", {
      turn_id: "t1",
      agent: { id: "a", workspace: r.ws },
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(turn.result.stop_reason, "end_turn", plugin.stderr());
    assert.ok(turn.result.thread_id, "the thread id was saved");
    // The text, then usage. The text may come in two deltas: its last "s" waits for the next
    // piece, as the start of a key would (lib/redact.ts), and goes out before usage.
    const events = plugin.eventsOf("t1");
    const types = events.map((e) => e.type).filter((t, i, all) => t !== all[i - 1]);
    assert.deepEqual(types, ["text_delta", "usage"]);
    const text = events.filter((e) => e.type === "text_delta").map((e) => e.text).join("");
    assert.equal(text, "under the compile flags");
    const log = await turnLog(plugin, "t1");
    const status = await plugin.close();
    assert.equal(status.code, 0);
    assert.doesNotMatch(log, /NotCapable|Requires \w+ access/);
    await waitForLog(plugin, / INFO stopping /); // shutdown began: its lines follow this one
    assert.doesNotMatch(plugin.stderr(), /NotCapable|Requires \w+ access/);

    const flags = permissionFlags();
    const doctor = await runWith(
      flags,
      ["doctor", "--config", r.config, "--workspace", r.ws],
      r.env,
    );
    assert.equal(doctor.code, 0, doctor.out);
    assert.match(doctor.out, /resumes thread/);
    const chat = await runWith(
      flags,
      ["chat", "--config", r.config, "--workspace", r.ws, "hi"],
      r.env,
    );
    assert.equal(chat.code, 0, chat.out);
    assert.match(chat.out, /under the compile flags/);
    assert.doesNotMatch(doctor.out + chat.out, /NotCapable|Requires \w+ access/);
  } finally {
    await plugin.close();
    await r.close();
  }
});

Deno.test("each compile flag is needed: without any one, doctor fails naming that access", async () => {
  const r = await rig();
  try {
    const flags = permissionFlags();
    for (const dropped of flags) {
      const kind = dropped.replace("--allow-", "");
      const o = await runWith(
        flags.filter((f) => f !== dropped),
        ["doctor", "--config", r.config, "--workspace", r.ws],
        r.env,
      );
      assert.notEqual(o.code, 0, `doctor passed without ${dropped}:\n${o.out}`);
      assert.match(o.out, new RegExp(`Requires ${kind} access`), `without ${dropped}:\n${o.out}`);
    }
  } finally {
    await r.close();
  }
});
