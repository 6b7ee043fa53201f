/**
 * `--config FILE`: JSONC HostConfig for serve, chat and doctor; `initialize`'s
 * config overrides it key by key; every error says where.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { pluginArgs, startPlugin } from "../dev/plugin.ts";
import { chat } from "./support/rig.ts";
import { DEFAULTS } from "../lib/config.ts";
import { loadConfigFile } from "../lib/config_file.ts";

async function withFile(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/plugin.jsonc`, text);
    await fn(`${dir}/plugin.jsonc`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("config file: comments and trailing commas are fine; missing keys keep defaults", async () => {
  const text = `// Plexum's Codex provider
{
  /* absolute, so systemd's PATH does not matter */
  "binary": "/usr/local/bin/codex",
  "extra_args": ["-c", "model_reasoning_effort=high",], // trailing comma
  "log_format": "json",
}
`;
  await withFile(text, async (path) => {
    const r = await loadConfigFile(path);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, {
      ...DEFAULTS,
      binary: "/usr/local/bin/codex",
      extra_args: ["-c", "model_reasoning_effort=high"],
      log_format: "json",
    });
  });
  assert.deepEqual(await loadConfigFile(undefined), { ok: true, value: { ...DEFAULTS } });
});

Deno.test("config file: bad JSONC is reported with its line and column", async () => {
  await withFile('{\n  "binary": "codex"\n  "idle_timeout_s": 30\n}\n', async (path) => {
    const r = await loadConfigFile(path);
    assert.deepEqual(r, {
      ok: false,
      error: `config file ${path}: expected ',' at line 3, column 3`,
    });
  });
  await withFile('{\n  "binary": "codex",\n  "emit_activity": tru\n}', async (path) => {
    const r = await loadConfigFile(path);
    assert.ok(!r.ok);
    assert.match(r.error, /invalid symbol at line 3, column 20$/);
  });
});

Deno.test("config file: a bad key or value is reported with the line and column of its key", async () => {
  await withFile(
    '{\n  "binary": "codex",\n    "idle_timeout_s": -1,\n  "bianry": "x"\n}',
    async (path) => {
      const r = await loadConfigFile(path);
      assert.ok(!r.ok);
      assert.equal(
        r.error,
        `config file ${path}: line 3, column 5: idle_timeout_s must be a positive number of seconds; ` +
          "line 4, column 3: bianry is not a known config key",
      );
    },
  );
  await withFile("[1, 2]", async (path) => {
    const r = await loadConfigFile(path);
    assert.deepEqual(r, { ok: false, error: `config file ${path}: config must be an object` });
  });
});

Deno.test("config file: a missing file is named in the error", async () => {
  const r = await loadConfigFile("/nonexistent/plugin.jsonc");
  assert.ok(!r.ok);
  assert.match(r.error, /^cannot read config file \/nonexistent\/plugin\.jsonc: /);
});

Deno.test("serve, chat and doctor all reject a bad config file with exit 2 and line:column", async () => {
  await withFile('{ "binary": "codex", }\n{', async (path) => {
    for (
      const args of [["--config", path], ["chat", "--workspace", "/tmp", "--config", path, "hi"], [
        "doctor",
        "--config",
        path,
      ]]
    ) {
      const o = await new Deno.Command(Deno.execPath(), { args: pluginArgs(args), stdin: "null" })
        .output();
      assert.equal(o.code, 2, args.join(" "));
      assert.equal(o.stdout.length, 0);
      assert.equal(
        new TextDecoder().decode(o.stderr).trim(),
        `config file ${path}: expected the end of the file at line 2, column 1`,
      );
    }
  });
});

Deno.test("initialize overrides the file key by key: its supported_models, the file's extra_args", async () => {
  const api = startMockApi([{ text: "through the mock" }]);
  const codexHome = await Deno.makeTempDir();
  const ws = await Deno.makeTempDir();
  const mock = mockCodexSetup(api.baseUrl, codexHome);
  // Without the file's extra_args Codex would call api.openai.com and fail here.
  const file = `${codexHome}/plugin.jsonc`;
  await Deno.writeTextFile(
    file,
    `{
  "binary": ${JSON.stringify(await ensureCodex("0.169.0"))},
  "extra_args": ${JSON.stringify(mock.args)}, // the mock provider
  "supported_models": ["from-file-a", "from-file-b"],
}`,
  );
  const plugin = startPlugin({ args: ["--config", file], env: mock.env });
  try {
    const init = await plugin.request("initialize", {
      protocol_version: 1,
      config: { supported_models: ["codex"] },
    });
    assert.deepEqual(init.result.models, ["codex"]);
    assert.deepEqual((await plugin.request("models")).result.models, ["codex"]);
    const r = await chat(plugin, ws, "hi");
    assert.equal(r.response.result.stop_reason, "end_turn", plugin.stderr());
    assert.deepEqual(r.events.filter((e) => e.type === "text_delta"), [
      { type: "text_delta", text: "through the mock" },
    ]);
    assert.equal(api.requests.length, 1);
  } finally {
    await plugin.close();
    await api.close();
    await Deno.remove(codexHome, { recursive: true });
    await Deno.remove(ws, { recursive: true });
  }
});
