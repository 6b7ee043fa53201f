/**
 * `doctor` as an operator runs it: a subprocess with the compile task's
 * permissions, one line per check, exit 0 only when a turn can run.
 */
import assert from "node:assert/strict";
import { ensureCodex, loginWithApiKey } from "../dev/codex.ts";
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { pluginArgs, testBackend } from "../dev/plugin.ts";
import { hermetic } from "../dev/hermetic.ts";

const dec = new TextDecoder();

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run the plugin CLI in a hermetic environment (dev/hermetic.ts) plus `env`;
 * `dropDacOverride` makes root obey file modes (setpriv).
 */
async function cli(
  args: string[],
  env: Record<string, string> = {},
  dropDacOverride = false,
): Promise<Out> {
  const argv = [Deno.execPath(), ...pluginArgs(args)];
  if (dropDacOverride && Deno.uid() === 0) {
    argv.unshift("setpriv", "--bounding-set=-dac_override,-dac_read_search");
  }
  await using h = hermetic();
  const o = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    clearEnv: true,
    env: h.env(env),
    stdin: "null",
  }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** The doctor line of one check. */
function line(out: Out, name: string): string {
  const l = out.stdout.split("\n").find((l) => l.slice(5).startsWith(`${name}:`));
  assert.ok(l, `no "${name}" line in:\n${out.stdout}${out.stderr}`);
  return l;
}

/** A temp dir, removed (after making it writable again) when the test ends. */
async function tempDir(cleanup: (() => Promise<void>)[]): Promise<string> {
  const d = await Deno.makeTempDir();
  cleanup.push(async () => {
    await Deno.chmod(d, 0o755).catch(() => {});
    await Deno.remove(d, { recursive: true });
  });
  return d;
}

async function withCleanup(fn: (cleanup: (() => Promise<void>)[]) => Promise<void>) {
  const cleanup: (() => Promise<void>)[] = [];
  try {
    await fn(cleanup);
  } finally {
    for (const c of cleanup.reverse()) await c();
  }
}

async function writeConfig(dir: string, config: Record<string, unknown>): Promise<string> {
  const path = `${dir}/plugin.jsonc`;
  await Deno.writeTextFile(
    path,
    `// doctor test\n${JSON.stringify({ ...testBackend(), ...config }, null, 2)}\n`,
  );
  return path;
}

Deno.test("doctor: no codex binary anywhere fails, naming the places searched and the remedy", async () => {
  await withCleanup(async (cleanup) => {
    const home = await tempDir(cleanup);
    const out = await cli(["doctor"], { PATH: "/usr/bin:/bin", HOME: home });
    assert.equal(out.code, 1);
    const l = line(out, "codex binary");
    assert.match(l, /^FAIL codex binary: codex binary "codex" not found/);
    assert.ok(l.includes(`${home}/.local/bin/codex`) && l.includes("/usr/local/bin/codex"), l);
    assert.match(l, /set "binary" in the plugin config to its absolute path/);
    assert.doesNotMatch(out.stdout, /^ok {3}codex version/m);
  });
});

Deno.test("doctor: codex older than 0.135.0 fails with an upgrade remedy", async () => {
  await withCleanup(async (cleanup) => {
    const dir = await tempDir(cleanup);
    const fake = `${dir}/codex`;
    await Deno.writeTextFile(
      fake,
      '#!/bin/sh\ncase "$1" in\n  --version) echo "codex-cli 0.100.0" ;;\n' +
        '  login) echo "Logged in using an API key - sk-***" ;;\nesac\n',
      { mode: 0o755 },
    );
    const out = await cli(["doctor", "--config", await writeConfig(dir, { binary: fake })]);
    assert.equal(out.code, 1, out.stdout);
    assert.equal(line(out, "codex binary"), `ok   codex binary: ${fake} (the "binary" setting)`);
    assert.match(
      line(out, "codex version"),
      /^FAIL codex version: 0\.100\.0 is older than 0\.135\.0.*Upgrade: npm install -g @openai\/codex@latest/,
    );
  });
});

Deno.test("doctor: a healthy setup with the real codex 0.169.0 passes every check, exit 0", async () => {
  await withCleanup(async (cleanup) => {
    const bin = await ensureCodex("0.169.0");
    const codexHome = await tempDir(cleanup);
    const ws = await tempDir(cleanup);
    await loginWithApiKey(bin, codexHome, "sk-doctor-test-key");
    const config = await writeConfig(codexHome, { binary: bin });
    const out = await cli(["doctor", "--config", config, "--workspace", ws], {
      CODEX_HOME: codexHome,
    });
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(line(out, "codex binary"), new RegExp(`^ok {3}codex binary: ${bin} `));
    assert.equal(line(out, "codex version"), "ok   codex version: 0.169.0 (>= 0.135.0)");
    assert.match(line(out, "codex auth"), /^ok {3}codex auth: .*API key/);
    assert.equal(line(out, "workspace"), `ok   workspace: ${ws} is a writable directory`);
    assert.match(line(out, "session"), /^ok {3}session: no \.plexum-codex-session/);
    assert.match(line(out, "codex auth"), /not tried: doctor does not call the API/);
    assert.match(
      out.stdout,
      /^ready as far as checked; credentials not tried: `chat` runs one real turn$/m,
    );
    // One line per check plus the verdict, nothing else on stdout.
    // binary, version, auth, backend, workspace, session, and the verdict
    assert.equal(out.stdout.trim().split("\n").length, 7, out.stdout);
  });
});

Deno.test("doctor: auth passes with OPENAI_API_KEY (handed to codex) or CODEX_API_KEY, fails with neither", async () => {
  await withCleanup(async (cleanup) => {
    const bin = await ensureCodex("0.169.0");
    const codexHome = await tempDir(cleanup);
    const config = await writeConfig(codexHome, { binary: bin });
    const env = { CODEX_HOME: codexHome, OPENAI_API_KEY: "", CODEX_API_KEY: "" };
    const none = await cli(["doctor", "--config", config], env);
    assert.equal(none.code, 1, none.stdout);
    assert.match(line(none, "codex auth"), /^FAIL codex auth: not logged in/);
    assert.match(line(none, "codex auth"), /codex login/);
    const openai = await cli(["doctor", "--config", config], {
      ...env,
      OPENAI_API_KEY: "sk-only-in-env-123",
    });
    assert.equal(openai.code, 0, openai.stdout);
    assert.match(
      line(openai, "codex auth"),
      /^ok {3}codex auth: a key is present in OPENAI_API_KEY \(the plugin passes it to codex as CODEX_API_KEY.*; not tried: doctor does not call the API/,
    );
    // A made-up key is not "ready: a turn can run": doctor says what it did not verify.
    assert.doesNotMatch(openai.stdout, /a turn can run/);
    assert.match(openai.stdout, /^ready as far as checked .*credentials not tried$/m);
    assert.ok(!openai.stdout.includes("sk-only-in-env-123"), "the key is never printed");
    const withCodexKey = await cli(["doctor", "--config", config], {
      ...env,
      CODEX_API_KEY: "sk-codex-env-456",
    });
    assert.equal(withCodexKey.code, 0, withCodexKey.stdout);
    assert.match(
      line(withCodexKey, "codex auth"),
      /^ok {3}codex auth: a key is present in CODEX_API_KEY; not tried/,
    );
  });
});

Deno.test("doctor: a workspace the user cannot write fails with an ownership remedy", async () => {
  await withCleanup(async (cleanup) => {
    const bin = await ensureCodex("0.169.0");
    const codexHome = await tempDir(cleanup);
    const ws = await tempDir(cleanup);
    await loginWithApiKey(bin, codexHome, "sk-doctor-test-key");
    await Deno.chmod(ws, 0o555);
    const config = await writeConfig(codexHome, { binary: bin });
    const out = await cli(
      ["doctor", "--config", config, "--workspace", ws],
      { CODEX_HOME: codexHome },
      true,
    );
    assert.equal(out.code, 1, out.stdout + out.stderr);
    assert.match(
      line(out, "workspace"),
      new RegExp(`^FAIL workspace: ${ws} is not writable by this user .*Fix its owner or mode`),
    );
    const missing = await cli(["doctor", "--config", config, "--workspace", `${ws}/nope`], {
      CODEX_HOME: codexHome,
    });
    assert.equal(missing.code, 1);
    assert.match(line(missing, "workspace"), /^FAIL workspace: .*\/nope cannot be used .*mkdir -p/);
  });
});

Deno.test("doctor: what the session file holds, after a real turn and in odd states", async () => {
  await withCleanup(async (cleanup) => {
    const bin = await ensureCodex("0.169.0");
    const codexHome = await tempDir(cleanup);
    const ws = await tempDir(cleanup);
    const api = startMockApi([{ text: "hello" }]);
    cleanup.push(() => api.close());
    await loginWithApiKey(bin, codexHome, "sk-doctor-test-key");
    const mock = mockCodexSetup(api.baseUrl, codexHome);
    const config = await writeConfig(codexHome, { binary: bin, extra_args: mock.args });
    const env = { ...mock.env };
    const doctor = () => cli(["doctor", "--config", config, "--workspace", ws], env);
    const session = `${ws}/.plexum-codex-session`;

    const turn = await cli(["chat", "--config", config, "--workspace", ws, "hi"], env);
    assert.equal(turn.code, 0, turn.stderr);
    const thread = (await Deno.readTextFile(session)).trim();
    let out = await doctor();
    assert.equal(out.code, 0, out.stdout);
    assert.match(
      line(out, "session"),
      new RegExp(
        `^ok {3}session: the next turn resumes thread ${thread} \\(${codexHome}/sessions/.*-${thread}\\.jsonl\\)`,
      ),
    );

    await Deno.writeTextFile(session, "0199aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee\n");
    out = await doctor();
    assert.equal(out.code, 0);
    assert.match(
      line(out, "session"),
      /holds thread 0199aaaa-.*has no rollout for it .*starts a new thread/,
    );

    await Deno.writeTextFile(session, "not a thread id\n");
    out = await doctor();
    assert.equal(out.code, 0);
    assert.match(
      line(out, "session"),
      /^ok {3}session: \.plexum-codex-session is no thread id and is ignored/,
    );

    await Deno.remove(session);
    await Deno.mkdir(session);
    out = await doctor();
    assert.equal(out.code, 1);
    assert.match(line(out, "session"), /^FAIL session: .* is a directory.*Remove it/);
  });
});

/** Every entry under `dir` with its type, size and modification time, sorted. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      const st = await Deno.lstat(p);
      out.push(
        `${p.slice(dir.length)} ${e.isDirectory ? "d" : "f"} ${st.size} ${st.mtime?.getTime()}`,
      );
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

Deno.test("doctor: leaves CODEX_HOME exactly as it was (listing, sizes, mtimes), the app-server probe included", async () => {
  await withCleanup(async (cleanup) => {
    const bin = await ensureCodex("0.169.0");
    // CODEX_HOME outside TMPDIR, as a service's is: Codex writes helper links only there.
    const codexHome = await tempDir(cleanup);
    const tmp = await tempDir(cleanup);
    const ws = await tempDir(cleanup);
    await loginWithApiKey(bin, codexHome, "sk-doctor-test-key");
    await Deno.writeTextFile(`${codexHome}/config.toml`, "# operator's config\n");
    const config = await writeConfig(ws, { binary: bin, backend: "app-server" });
    const before = await listing(codexHome);
    const out = await cli(["doctor", "--config", config, "--workspace", ws], {
      CODEX_HOME: codexHome,
      TMPDIR: tmp,
    });
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(line(out, "backend"), /^ok {3}backend: app-server .*started and answered/);
    assert.match(line(out, "codex auth"), /stored login \(.*API key/);
    assert.deepEqual(await listing(codexHome), before);
    // The scratch CODEX_HOME (a copy of auth.json in it) is gone too.
    assert.deepEqual(await listing(tmp), []);
  });
});
