/**
 * Finding codex the way a systemd service must: PATH=/usr/bin:/bin, so a bare
 * `codex` is looked for in nvm's, npm's and the other usual install places.
 */
import assert from "node:assert/strict";
import { relative } from "node:path";
import { turnLog } from "./support/logs.ts";
import { ensureCodex } from "../dev/codex.ts";
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { pluginArgs, startPlugin } from "../dev/plugin.ts";
import { hermetic } from "../dev/hermetic.ts";
import { chat } from "./support/rig.ts";
import { fallbackDirs, launchEnv, locateBinary, npmPrefix } from "../lib/codex/launch_env.ts";

const SYSTEMD_PATH = "/usr/bin:/bin";

function existsSync(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

const envOf = (vars: Record<string, string>) => (k: string) => vars[k];

async function makeExecutable(path: string, text = "#!/bin/sh\nexit 0\n"): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text, { mode: 0o755 });
}

/** Absolute path of node, for a codex launcher that must not depend on PATH. */
async function nodePath(): Promise<string> {
  const o = await new Deno.Command("sh", { args: ["-c", "command -v node"] }).output();
  const p = new TextDecoder().decode(o.stdout).trim();
  assert.ok(p.startsWith("/"), "node must be installed for the codex CLI");
  return p;
}

Deno.test("fallbackDirs: the usual install places in order, newest nvm node first", async () => {
  const home = await Deno.makeTempDir();
  try {
    for (const v of ["v18.20.0", "v22.1.0", "v9.11.2"]) {
      await Deno.mkdir(`${home}/.nvm/versions/node/${v}/bin`, { recursive: true });
    }
    const dirs = fallbackDirs(envOf({ HOME: home, NPM_CONFIG_PREFIX: "/opt/npm" }));
    assert.deepEqual(dirs, [
      `${home}/.local/bin`,
      `${home}/.npm-global/bin`,
      "/opt/npm/bin",
      `${home}/.nvm/versions/node/v22.1.0/bin`,
      `${home}/.nvm/versions/node/v18.20.0/bin`,
      `${home}/.nvm/versions/node/v9.11.2/bin`,
      `${home}/.bun/bin`,
      `${home}/.volta/bin`,
      "/usr/local/bin",
      "/opt/homebrew/bin",
      "/usr/bin",
    ]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("npmPrefix: NPM_CONFIG_PREFIX, else the last prefix= line of ~/.npmrc, ~ expanded", async () => {
  const home = await Deno.makeTempDir();
  try {
    assert.equal(npmPrefix(envOf({ HOME: home })), undefined);
    await Deno.writeTextFile(
      `${home}/.npmrc`,
      'fund=false\nprefix=/first\n; comment\n  prefix = "~/.npm-packages"\n',
    );
    assert.equal(npmPrefix(envOf({ HOME: home })), `${home}/.npm-packages`);
    assert.equal(npmPrefix(envOf({ HOME: home, NPM_CONFIG_PREFIX: "/env" })), "/env");
    assert.equal(npmPrefix(envOf({ HOME: home, npm_config_prefix: "${HOME}/p" })), `${home}/p`);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("locateBinary: a bare name off PATH is found under ~/.npmrc's prefix", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${home}/.npmrc`, "prefix=~/npm-prefix\n");
    await makeExecutable(`${home}/npm-prefix/bin/codex`);
    // Not executable: skipped even though it comes first.
    await Deno.mkdir(`${home}/.local/bin`, { recursive: true });
    await Deno.writeTextFile(`${home}/.local/bin/codex`, "not a program", { mode: 0o644 });
    const found = locateBinary("codex", envOf({ HOME: home, PATH: SYSTEMD_PATH }));
    assert.ok(found.ok);
    const r = found.value;
    assert.equal(r.path, `${home}/npm-prefix/bin/codex`);
    assert.equal(r.via, "fallback");
    assert.deepEqual(r.searched.slice(0, 3), [
      "/usr/bin/codex",
      "/bin/codex",
      `${home}/.local/bin/codex`,
    ]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("locateBinary: relative PATH entries and ~/ in binary give absolute paths", async () => {
  const home = await Deno.makeTempDir();
  try {
    await makeExecutable(`${home}/tools/codex`);
    // Relative to the cwd, which test files share (they run in parallel): no chdir.
    const tools = relative(Deno.cwd(), `${home}/tools`);
    assert.ok(!tools.startsWith("/"));
    const found = locateBinary("codex", envOf({ HOME: "/nonexistent", PATH: tools }));
    assert.ok(found.ok);
    const r = found.value;
    assert.equal(Deno.realPathSync(r.path), `${Deno.realPathSync(home)}/tools/codex`);
    assert.ok(r.path.startsWith("/"), r.path);
    assert.equal(r.via, "path");
    const explicit = locateBinary("~/tools/codex", envOf({ HOME: home }));
    assert.ok(explicit.ok);
    const t = explicit.value;
    assert.equal(t.path, `${home}/tools/codex`);
    assert.equal(t.via, "explicit");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("locateBinary: nothing found names every place searched and asks for an absolute path", async () => {
  const home = await Deno.makeTempDir();
  try {
    const found = locateBinary("codex-absent", envOf({ HOME: home, PATH: SYSTEMD_PATH }));
    assert.ok(!found.ok);
    const r = { searched: found.error.searched, error: found.error.message };
    for (const p of r.searched) assert.ok(r.error.includes(p), `message lists ${p}`);
    assert.ok(r.searched.includes(`${home}/.nvm/versions/node/*/bin/codex-absent`));
    assert.ok(r.searched.includes("/usr/local/bin/codex-absent"));
    assert.match(r.error, /set "binary" in the plugin config to its absolute path/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/** nvm's layout under `home`: bin/node and bin/codex (npm's `#!/usr/bin/env node` script). */
async function nvmInstall(home: string): Promise<string> {
  const bin = `${home}/.nvm/versions/node/v22.1.0/bin`;
  await Deno.mkdir(bin, { recursive: true });
  await Deno.symlink(await nodePath(), `${bin}/node`);
  await Deno.symlink(await Deno.realPath(await ensureCodex()), `${bin}/codex`);
  return `${bin}/codex`;
}

/** Run one turn through the plugin with `env`; resolves the plugin's stderr. */
async function turnWith(env: Record<string, string>, home: string): Promise<string> {
  const ws = await Deno.makeTempDir();
  const api = startMockApi([{ text: "found you" }]);
  const mock = mockCodexSetup(api.baseUrl, `${home}/.codex`);
  await Deno.mkdir(`${home}/.codex`, { recursive: true });
  const plugin = startPlugin({
    env: { ...env, HOME: home, ...mock.env },
  });
  try {
    const init = await plugin.request("initialize", {
      protocol_version: 1,
      config: { extra_args: mock.args },
    });
    assert.equal(init.error, undefined);
    const r = await chat(plugin, ws, "hi");
    assert.equal(r.response.result.stop_reason, "end_turn", plugin.stderr());
    assert.deepEqual(r.events.filter((e) => e.type === "text_delta"), [
      { type: "text_delta", text: "found you" },
    ]);
    return await turnLog(plugin, r.turnId);
  } finally {
    await plugin.close();
    await api.close();
    await Deno.remove(ws, { recursive: true });
  }
}

Deno.test("launchEnv: the binary's directory goes first on PATH unless it is there", () => {
  const env = envOf({ PATH: "/usr/bin:/bin" });
  assert.deepEqual(launchEnv("/h/.nvm/versions/node/v22.1.0/bin/codex", env), {
    PATH: "/h/.nvm/versions/node/v22.1.0/bin:/usr/bin:/bin",
  });
  assert.equal(launchEnv("/usr/bin/codex", env), undefined);
  assert.deepEqual(launchEnv("/opt/codex", envOf({})), { PATH: "/opt" });
});

Deno.test("plugin under a systemd PATH finds codex in nvm's node bin, logs it, and runs the turn", async () => {
  const home = await Deno.makeTempDir();
  try {
    const codex = await nvmInstall(home);
    const stderr = await turnWith({ PATH: SYSTEMD_PATH }, home);
    assert.match(stderr, new RegExp(`using codex binary path=${codex} found_via=fallback`));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("an nvm codex runs with nvm's node even when PATH has no node at all", async () => {
  const home = await Deno.makeTempDir();
  try {
    const noNode = "/usr/sbin:/sbin";
    for (const d of noNode.split(":")) {
      assert.ok(!existsSync(`${d}/node`), `precondition: ${d}/node must not exist`);
    }
    const codex = await nvmInstall(home);
    const stderr = await turnWith({ PATH: noNode }, home);
    assert.match(stderr, new RegExp(`using codex binary path=${codex} found_via=fallback`));
    // doctor runs codex the same way.
    using h = hermetic();
    const o = await new Deno.Command(Deno.execPath(), {
      args: pluginArgs(["doctor"]),
      clearEnv: true,
      env: h.env({ PATH: noNode, HOME: home, CODEX_API_KEY: "sk-x-123456" }),
    }).output();
    const out = new TextDecoder().decode(o.stdout);
    assert.equal(o.code, 0, out);
    assert.match(out, /^ok {3}codex version: 0\.169\.0/m);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("plugin with no codex anywhere: one codex_not_found event listing the places searched", async () => {
  const home = await Deno.makeTempDir();
  const ws = await Deno.makeTempDir();
  const plugin = startPlugin({
    env: { PATH: SYSTEMD_PATH, HOME: home },
  });
  try {
    // A name no machine has, so the test does not depend on what is installed.
    const binary = "codex-not-installed-anywhere";
    await plugin.request("initialize", { protocol_version: 1, config: { binary } });
    const r = await plugin.request("chat", {
      turn_id: "t1",
      agent: { id: "a", workspace: ws },
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(r.result.stop_reason, "error");
    const events = plugin.eventsOf("t1");
    assert.equal(events.length, 1, JSON.stringify(events));
    const [ev] = events;
    assert.equal(ev.type, "error");
    assert.equal(ev.code, "codex_not_found");
    for (
      const place of [
        `/usr/bin/${binary}`,
        `/bin/${binary}`,
        `${home}/.local/bin/${binary}`,
        `${home}/.npm-global/bin/${binary}`,
        `${home}/.nvm/versions/node/*/bin/${binary}`,
        `${home}/.bun/bin/${binary}`,
        `/usr/local/bin/${binary}`,
        `/opt/homebrew/bin/${binary}`,
      ]
    ) assert.ok(ev.message.includes(place), `message lists ${place}: ${ev.message}`);
    assert.match(ev.message, /set "binary" in the plugin config to its absolute path/);
  } finally {
    await plugin.close();
    await Deno.remove(home, { recursive: true });
    await Deno.remove(ws, { recursive: true });
  }
});
