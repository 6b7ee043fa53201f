/**
 * How Codex gets its credentials through the plugin. `codex exec` ignores
 * OPENAI_API_KEY (openai/codex#7323), so the plugin hands it over as
 * CODEX_API_KEY when Codex has no stored login; a stored login always wins.
 * Proven with the real CLI against the mock, which records the Authorization
 * header Codex sends.
 */
import assert from "node:assert/strict";
import { hasStoredLogin, launchEnv } from "../lib/codex/launch_env.ts";
import { CODEX_VERSIONS, ensureCodex, loginWithApiKey } from "../dev/codex.ts";
import { EDGE_VERSIONS } from "./support/backends.ts";
import { startMockApi } from "../dev/mock_api.ts";
import { startPlugin } from "../dev/plugin.ts";

/** One turn with the built-in `openai` provider pointed at the mock; returns the header Codex sent. */
async function authorizationOfOneTurn(
  version: string,
  env: Record<string, string>,
): Promise<string | null> {
  const api = startMockApi([{ text: "authed" }]);
  const ws = await Deno.makeTempDir();
  const p = startPlugin({ env });
  try {
    const bin = await ensureCodex(version);
    await p.request("initialize", {
      protocol_version: 1,
      config: { binary: bin, extra_args: ["-c", `openai_base_url="${api.baseUrl}"`] },
    });
    const r = await p.request("chat", {
      turn_id: "t",
      agent: { id: "a", workspace: ws },
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(r.result.stop_reason, "end_turn", JSON.stringify(p.eventsOf("t")) + p.stderr());
    assert.equal(api.authorizations.length, 1);
    return api.authorizations[0];
  } finally {
    await p.close();
    await api.close();
    await Deno.remove(ws, { recursive: true });
  }
}

// How a release reads its key can change (openai/codex#7323): the oldest and the newest.
for (const version of EDGE_VERSIONS) {
  Deno.test(`auth ${version}: OPENAI_API_KEY alone reaches the API (passed as CODEX_API_KEY)`, async () => {
    const home = await Deno.makeTempDir();
    try {
      const auth = await authorizationOfOneTurn(version, {
        CODEX_HOME: home,
        OPENAI_API_KEY: "sk-env-123456",
      });
      assert.equal(auth, "Bearer sk-env-123456");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });
}

Deno.test("auth: a stored codex login is never overridden by OPENAI_API_KEY", async () => {
  const home = await Deno.makeTempDir();
  try {
    await loginWithApiKey(await ensureCodex(), home, "sk-stored-789012");
    assert.ok(hasStoredLogin((k) => ({ CODEX_HOME: home })[k]));
    const auth = await authorizationOfOneTurn(CODEX_VERSIONS[0], {
      CODEX_HOME: home,
      OPENAI_API_KEY: "sk-env-123456",
    });
    assert.equal(auth, "Bearer sk-stored-789012");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("auth: CODEX_API_KEY set by the operator wins over OPENAI_API_KEY", async () => {
  const home = await Deno.makeTempDir();
  try {
    const auth = await authorizationOfOneTurn(CODEX_VERSIONS[0], {
      CODEX_HOME: home,
      OPENAI_API_KEY: "sk-env-123456",
      CODEX_API_KEY: "sk-codex-345678",
    });
    assert.equal(auth, "Bearer sk-codex-345678");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("launchEnv: adds CODEX_API_KEY only without a login and without CODEX_API_KEY", () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  const base = { PATH: "/opt/codex/bin", CODEX_HOME: "/nonexistent-codex-home" };
  assert.deepEqual(launchEnv("/opt/codex/bin/codex", env({ ...base, OPENAI_API_KEY: "sk-a" })), {
    CODEX_API_KEY: "sk-a",
  });
  assert.equal(launchEnv("/opt/codex/bin/codex", env(base)), undefined);
  assert.equal(
    launchEnv(
      "/opt/codex/bin/codex",
      env({ ...base, OPENAI_API_KEY: "sk-a", CODEX_API_KEY: "sk-b" }),
    ),
    undefined,
  );
});
