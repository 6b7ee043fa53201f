/**
 * The command line and the backend (issue 11, point 11): `doctor` says which
 * backend a turn will use and whether the app-server starts (spawned,
 * initialized, stopped again, nothing left running); the `chat` one-shot runs
 * its turn on the configured backend. Real codex 0.135.0 and 0.169.0; a
 * wrapper whose `app-server` exits 1 stands in for a codex without one.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { hermetic } from "../dev/hermetic.ts";
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";
import { pluginArgs } from "../dev/plugin.ts";
import { backendCheck } from "../lib/cli/codex_probe.ts";
import { DEFAULTS } from "../lib/config.ts";
import { installFakeAppServer } from "./support/fake_app_server.ts";
import { EDGE_VERSIONS } from "./support/backends.ts";
import { pidsInDir } from "./support/proc.ts";

const dec = new TextDecoder();

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the plugin CLI in `cwd`, hermetic (dev/hermetic.ts) plus `env`. */
async function cli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Out> {
  await using h = hermetic();
  const o = await new Deno.Command(Deno.execPath(), {
    args: pluginArgs(args),
    cwd,
    clearEnv: true,
    env: h.env({ CODEX_API_KEY: "sk-cli-backend-test", ...env }),
    stdin: "null",
  }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** doctor's `backend` line. */
function backendLine(out: Out): string {
  const l = out.stdout.split("\n").find((l) => l.slice(5).startsWith("backend:"));
  assert.ok(l, `no backend line in:\n${out.stdout}${out.stderr}`);
  return l;
}

/** A temp dir holding a config file with `config`; removed at the end of scope. */
async function configDir(config: Record<string, unknown>) {
  const dir = await Deno.makeTempDir({ prefix: "cli-backend-" });
  const path = `${dir}/plugin.json`;
  await Deno.writeTextFile(path, JSON.stringify(config));
  return {
    dir,
    path,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A codex wrapper whose `app-server` fails at once (an install without a working one). */
async function withoutAppServer(dir: string, real: string): Promise<string> {
  const path = `${dir}/codex`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nfor a in "$@"; do\n  if [ "$a" = app-server ]; then\n` +
      `    echo "error: unrecognized subcommand 'app-server'" >&2\n    exit 1\n  fi\ndone\n` +
      `exec '${real}' "$@"\n`,
    { mode: 0o755 },
  );
  return path;
}

// How a release's app-server starts and stops can change: the oldest and the newest.
for (const v of EDGE_VERSIONS) {
  Deno.test(`doctor, codex ${v}: the backend line says app-server, after starting and stopping one`, async () => {
    const binary = await ensureCodex(v);
    for (const backend of ["auto", "app-server"]) {
      await using c = await configDir({ binary, backend });
      const out = await cli(["doctor", "--config", c.path], c.dir);
      assert.equal(out.code, 0, out.stdout + out.stderr);
      assert.match(
        backendLine(out),
        new RegExp(
          `^ok {3}backend: app-server \\(backend "${backend}"\\): codex app-server ${v} started ` +
            `and answered initialize in \\d+ ms, then was stopped`,
        ),
      );
      // Started in doctor's cwd (a fresh dir): nothing of it runs there now.
      assert.deepEqual(pidsInDir(c.dir), [], "no app-server left running");
    }
  });
}

Deno.test("doctor: backend exec, auto with a codex whose app-server fails, and exec-only extra_args", async () => {
  const real = await ensureCodex();
  await using c = await configDir({});
  const binary = await withoutAppServer(c.dir, real);
  const doctor = async (config: Record<string, unknown>) => {
    await Deno.writeTextFile(c.path, JSON.stringify(config));
    return await cli(["doctor", "--config", c.path], c.dir);
  };

  let out = await doctor({ binary: real, backend: "exec" });
  assert.equal(out.code, 0, out.stdout);
  assert.match(backendLine(out), /^ok {3}backend: exec \(the "backend" setting\): one codex exec/);

  out = await doctor({ binary, backend: "auto" });
  assert.equal(out.code, 0, out.stdout);
  assert.match(
    backendLine(out),
    /^ok {3}backend: exec \(backend "auto"\): codex app-server did not start: .*code 1.*unrecognized subcommand.*turns fall back to one codex exec per turn/,
  );
  out = await doctor({ binary, backend: "app-server" });
  assert.equal(out.code, 1, out.stdout);
  assert.match(
    backendLine(out),
    /^FAIL backend: "backend": "app-server", but codex app-server did not start: .*set "backend": "exec"/,
  );
  assert.match(out.stdout, /1 check\(s\) failed/);

  const extra_args = ["--color", "never"];
  out = await doctor({ binary: real, extra_args });
  assert.equal(out.code, 0, out.stdout);
  assert.match(
    backendLine(out),
    /^ok {3}backend: exec \(backend "auto"\): extra_args has "--color", which only codex exec takes/,
  );
  out = await doctor({ binary: real, backend: "app-server", extra_args });
  assert.equal(out.code, 1, out.stdout);
  assert.match(backendLine(out), /^FAIL backend: .*"--color".*Remove it from extra_args/);
});

Deno.test("doctor starts the app-server as a turn does: an API key in the environment gives the in-memory login arguments and the login", async () => {
  await using fake = await installFakeAppServer({});
  const env = (k: string) => k === "CODEX_API_KEY" ? "sk-doctor-4321" : Deno.env.get(k);
  const check = await backendCheck(
    { ...DEFAULTS, binary: fake.binary, backend: "app-server", extra_args: ["--enable", "x"] },
    env,
  );
  assert.ok(check.ok, check.detail);
  assert.deepEqual((await fake.starts()).map((s) => s.argv), [[
    "app-server",
    "-c",
    'cli_auth_credentials_store="ephemeral"',
    "--enable",
    "x",
  ]]);
  const login = (await fake.received()).find((m) => m.msg.method === "account/login/start");
  assert.deepEqual(login?.msg.params, { type: "apiKey", apiKey: "sk-doctor-4321" });
});

Deno.test("chat one-shot runs its turn on the configured backend", async () => {
  const api = startMockApi([{ text: "one-shot answer", chunks: 4 }]);
  try {
    for (const backend of ["exec", "app-server", "auto"]) {
      await using c = await configDir({});
      const ws = `${c.dir}/ws`;
      await Deno.mkdir(ws);
      const mock = mockCodexSetup(api.baseUrl, `${c.dir}/codex-home`);
      await Deno.mkdir(`${c.dir}/codex-home`);
      await Deno.writeTextFile(
        c.path,
        JSON.stringify({ binary: await ensureCodex(), backend, extra_args: mock.args }),
      );
      const out = await cli(
        ["chat", "--config", c.path, "--workspace", ws, "hi"],
        c.dir,
        mock.env,
      );
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, "one-shot answer\n");
      const started = out.stderr.split("\n").filter((l) => /codex app-server started/.test(l));
      assert.equal(started.length, backend === "exec" ? 0 : 1, `${backend}:\n${out.stderr}`);
      assert.deepEqual(pidsInDir(c.dir), [], "nothing of the one-shot left running");
    }
  } finally {
    await api.close();
  }
});
