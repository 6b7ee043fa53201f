/**
 * AppServerBackend in process, against the fake app-server: an API key from
 * the environment logs the app-server in, in memory only. Apart from
 * tests/app_server_backend_test.ts because it sets `CODEX_API_KEY` in this
 * process's environment, which every in-process backend reads: dev/suite.ts
 * runs this file alone, after the files that run in parallel.
 */
import assert from "node:assert/strict";
import { DEFAULTS } from "../lib/config.ts";
import { AppServerBackend } from "../lib/codex/app_server/backend.ts";
import { createLogger } from "../lib/log.ts";
import { installFakeAppServer } from "./support/fake_app_server.ts";

Deno.test("app-server backend: an API key from the environment logs the app-server in, in memory only", async () => {
  const saved = Deno.env.get("CODEX_API_KEY");
  Deno.env.set("CODEX_API_KEY", "sk-from-env-987654");
  try {
    await using fake = await installFakeAppServer({});
    const logs: string[] = [];
    const backend = new AppServerBackend({
      config: { ...DEFAULTS, binary: fake.binary, backend: "app-server" },
      log: createLogger({ level: "debug", write: (l) => logs.push(l) }),
      clientVersion: "test",
      initializeTimeoutMs: 20_000,
    });
    const ws = await Deno.makeTempDir({ prefix: "app-server-env-key-" });
    try {
      const result = await backend.runTurn({
        workspace: ws,
        prompt: "hi",
        model: "codex",
        reset: false,
        signal: new AbortController().signal,
        emit() {},
      });
      assert.equal(result.stop_reason, "end_turn", logs.join(""));
    } finally {
      await backend.close();
      await Deno.remove(ws, { recursive: true }).catch(() => {});
    }
    const argv = (await fake.starts())[0].argv;
    assert.deepEqual(argv.slice(0, 3), [
      "app-server",
      "-c",
      'cli_auth_credentials_store="ephemeral"',
    ]);
    const login = (await fake.received()).find((m) => m.msg.method === "account/login/start");
    assert.deepEqual(login?.msg.params, { type: "apiKey", apiKey: "sk-from-env-987654" });
    assert.ok(!logs.some((l) => l.includes("sk-from-env-987654")), "the key is never logged");
  } finally {
    if (saved === undefined) Deno.env.delete("CODEX_API_KEY");
    else Deno.env.set("CODEX_API_KEY", saved);
  }
});
