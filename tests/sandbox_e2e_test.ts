/**
 * Config `sandbox` and `network_access` end to end: the real Codex of the
 * oldest and the newest release (EDGE_VERSIONS: the release decides how a
 * command is sandboxed) on both backends, against the mock, whose model asks
 * for one command that writes the workspace, tries the network (sends its
 * workspace's name to a listener of the test on 127.0.0.1: inside Codex's
 * sandbox without network even loopback is cut off) and writes a directory
 * outside the workspace. The
 * workspaces and that directory live under /var/tmp: outside /tmp and TMPDIR,
 * which `workspace-write` may write.
 *
 * On each version and backend, one workspace goes through three plugins:
 * `workspace-write` (a new thread), `read-only` (resuming it), the default
 * (resuming it again), so each resume runs under another mode than the
 * thread had; a second workspace gets `workspace-write` with
 * `network_access`. The refused writes show in `activity` (the sandbox's
 * words and the write's exit code), and each turn ends normally.
 *
 * Also: an unknown mode (or network_access without workspace-write) is
 * -32602 at `initialize`; where the sandbox cannot start (user namespaces
 * exhausted: `unshare` with max_user_namespaces 0 around the plugin), a turn
 * fails with one error naming what is missing and Codex never gets the turn,
 * and doctor's probe says the same.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { pluginArgs, startPlugin } from "../dev/plugin.ts";
import { hermetic } from "../dev/hermetic.ts";
import { DEFAULTS } from "../lib/config.ts";
import { sandboxCheck } from "../lib/cli/codex_probe.ts";
import { chat, closePlugin, type Rig, startRig } from "./support/rig.ts";
import { SESSION_FILE } from "../lib/codex/session.ts";
import { BACKENDS, EDGE_VERSIONS, type TestBackendName } from "./support/backends.ts";

/** Runs its arguments where no user namespace can be created (what bubblewrap needs). */
const NO_USERNS = [
  "unshare",
  "--user",
  "--map-root-user",
  "sh",
  "-c",
  'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
  "sh",
];

/**
 * The command the mock's model runs; `$PWD` names the workspace, its file
 * outside it and its line to the network listener. It prints the outside
 * write's exit code and exits 0 itself: a command that exits non-zero with a
 * sandbox's words in its output is one Codex (0.135.0 to 0.171.0, both
 * backends) takes for a sandbox denial, and then it often reports no item for
 * it at all (measured), so activity could not show it. The trailing sleep
 * lets Codex collect all the output of so short a command (0.135.0's
 * app-server once reported only its last line).
 */
function command(outside: string, port: number): string {
  return [
    "echo in > in.txt",
    `(exec 3<>/dev/tcp/127.0.0.1/${port}; basename "$PWD" >&3) && echo NET_OK || echo NET_BLOCKED`,
    `echo out > ${outside}/"$(basename "$PWD")"`,
    'echo "outside_exit=$?"',
    "sleep 0.3",
  ].join("; ");
}

/** A TCP listener on 127.0.0.1 that notes the workspace name each connection sends. */
function netListener(): AsyncDisposable & { port: number; reached: Set<string> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const reached = new Set<string>();
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const text = await new Response(conn.readable).text().catch(() => "");
        for (const name of text.split("\n").filter(Boolean)) reached.add(name);
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    reached,
    [Symbol.asyncDispose]: () => Promise.resolve(listener.close()),
  };
}

/** A rig whose model runs {@linkcode command} once per turn, then says "done". */
function sandboxRig(root: string, port: number): Promise<Rig> {
  return startRig([{ text: "done" }], {
    reply: (body) => {
      const last = (body.input as { type?: string }[] | undefined)?.at(-1);
      if (last?.type === "function_call_output") return { text: "done" };
      return { shell: command(`${root}/outside`, port), via: "function" };
    },
  });
}

/** What one turn did. */
interface Seen {
  workspace: boolean;
  outside: boolean;
  network: boolean;
  /** The command's completed activity item; undefined where Codex sent none (see below). */
  exit?: number | null;
  output?: string;
}

async function turn(
  t: Setup,
  ws: string,
  config: Record<string, unknown>,
): Promise<Seen> {
  const { rig, root } = t;
  const name = ws.slice(ws.lastIndexOf("/") + 1);
  t.net.reached.delete(name);
  await Deno.remove(`${ws}/in.txt`).catch(() => {});
  await Deno.remove(`${root}/outside/${name}`).catch(() => {});
  const p = await rig.plugin({ emit_activity: true, ...config });
  const r = await chat(p, ws, "Run the command.");
  // Gone before the next plugin resumes the thread (0.169+ let one process write a thread).
  await closePlugin(p);
  const where = `${JSON.stringify(config)}: ${JSON.stringify(r.events)}\n${p.stderr()}`;
  assert.equal(r.response.result?.stop_reason, "end_turn", where);
  assert.deepEqual(r.errors, [], where);
  assert.equal(r.text, "done", where);
  const done = r.events.filter((e) =>
    e.type === "activity" && e.phase === "completed" && e.item.type === "command_execution"
  );
  // codex 0.135.0 reports a command's completion only some of the time, on either backend
  // (PROTOCOL.md tells hosts not to wait for it; tests/compat_test.ts pins both outcomes on exec):
  // there a missing one is allowed (the files still say what the sandbox let through); on the
  // newer releases it must come.
  const flaky = String(config.binary).includes("0.135.0");
  if (!(done.length === 0 && flaky)) assert.equal(done.length, 1, where);
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  return {
    workspace: await exists(`${ws}/in.txt`),
    outside: await exists(`${root}/outside/${name}`),
    network: await reachedSoon(t.net.reached, name),
    exit: done[0]?.item.exit_code,
    output: done[0]?.item.aggregated_output,
  };
}

/** Whether `name` reached the listener (its connection may still be read when the turn ends). */
async function reachedSoon(reached: Set<string>, name: string): Promise<boolean> {
  for (let i = 0; i < 20 && !reached.has(name); i++) await new Promise((r) => setTimeout(r, 25));
  return reached.has(name);
}

/** What the tests of one version share. */
interface Setup {
  rig: Rig;
  root: string;
  net: { reached: Set<string> };
}

/** One version and backend: the modes, a resumed thread under each, the network. */
async function modes(t: Setup, version: string, backend: TestBackendName) {
  const { root } = t;
  const base = { binary: await ensureCodex(version), backend };
  const ws = `${root}/${backend}-${version}`;
  const netWs = `${ws}-net`;
  await Deno.mkdir(ws);
  await Deno.mkdir(netWs);
  const at = `codex ${version} ${backend}`;
  // The refused write in activity: the sandbox's words and its exit code; the command went on.
  const refused = (s: Seen) => {
    if (s.output === undefined) return; // no completed item from codex 0.135.0 (see turn)
    assert.equal(s.exit, 0, at);
    // codex 0.135.0 reports a command's output unreliably (exec: often empty; app-server: at times
    // only its last line), whatever the sandbox: there the files alone judge what was refused.
    if (version === "0.135.0") return;
    assert.match(s.output, /outside\/[^:]*: Read-only file system/, at);
    assert.match(s.output, /outside_exit=1/, `${at}: ${JSON.stringify(s)}`);
  };

  const confined = await turn(t, ws, { ...base, sandbox: "workspace-write" });
  assert.deepEqual(
    [confined.workspace, confined.outside, confined.network],
    [true, false, false],
    `${at} workspace-write: ${JSON.stringify(confined)}`,
  );
  refused(confined);

  const readOnly = await turn(t, ws, { ...base, sandbox: "read-only" });
  assert.deepEqual(
    [readOnly.workspace, readOnly.outside, readOnly.network],
    [false, false, false],
    `${at} read-only, resumed: ${JSON.stringify(readOnly)}`,
  );
  refused(readOnly);

  const open = await turn(t, ws, base);
  assert.deepEqual(
    [open.workspace, open.outside, open.network],
    [true, true, true],
    `${at} default, resumed: ${JSON.stringify(open)}`,
  );

  const net = await turn(t, netWs, {
    ...base,
    sandbox: "workspace-write",
    network_access: true,
  });
  assert.deepEqual(
    [net.workspace, net.outside, net.network],
    [true, false, true],
    `${at} workspace-write + network_access: ${JSON.stringify(net)}`,
  );
  refused(net);
}

/** A temp dir under /var/tmp (outside /tmp), removed by disposal. */
async function varTmp(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "plexum-sandbox-" });
  await Deno.mkdir(`${path}/outside`);
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

// How Codex sandboxes a command is its release's: the oldest and the newest (EDGE_VERSIONS).
for (const version of EDGE_VERSIONS) {
  Deno.test(`sandbox e2e (codex ${version}, exec and app-server): workspace-write, read-only and the default write what they allow, on new and resumed threads; network_access opens the network`, async () => {
    await using dir = await varTmp();
    await using net = netListener();
    await using rig = await sandboxRig(dir.path, net.port);
    const t = { rig, root: dir.path, net };
    // The two backends at once: each turn spends most of its time waiting for Codex.
    // One after the other: two Codex processes first opening one CODEX_HOME race on its state
    // database (0.135.0: "table logs already exists", and the app-server does not start).
    for (const b of BACKENDS) await modes(t, version, b);
  });
}

Deno.test("sandbox e2e: an unknown mode, or network_access without workspace-write, is -32602 at initialize", async () => {
  const init = async (config: Record<string, unknown>) => {
    const p = startPlugin();
    try {
      return await p.request("initialize", { protocol_version: 1, config });
    } finally {
      await p.close();
    }
  };
  for (const backend of BACKENDS) {
    for (
      const [config, field, message] of [
        [
          { sandbox: "sandboxed" },
          "config.sandbox",
          /must be one of danger-full-access, workspace-write, read-only/,
        ],
        [
          { sandbox: "read-only", network_access: true },
          "config.network_access",
          /only for sandbox "workspace-write"/,
        ],
      ] as const
    ) {
      const r = await init({ backend, ...config });
      assert.equal(r.error?.code, -32602, JSON.stringify(r));
      assert.deepEqual(r.error.data.errors.map((e: { field: string }) => e.field), [field]);
      assert.match(r.error.data.errors[0].message, message);
    }
    const ok = await init({ backend, sandbox: "workspace-write", network_access: true });
    assert.ok(ok.result, JSON.stringify(ok));
  }
});

for (const version of EDGE_VERSIONS) {
  Deno.test(`sandbox e2e (codex ${version}): without user namespaces a turn fails with one error saying so, on either backend, and Codex never gets it`, async () => {
    await using dir = await varTmp();
    await using rig = await sandboxRig(dir.path, 9); // never reached: Codex gets no turn
    const binary = await ensureCodex(version);
    for (const backend of BACKENDS) {
      const p = await rig.plugin({ binary, backend, sandbox: "workspace-write" }, {
        wrap: NO_USERNS,
      });
      const ws = await rig.workspace();
      const r = await chat(p, ws, "Run the command.");
      assert.equal(r.response.result?.stop_reason, "error", JSON.stringify(r));
      assert.equal(r.errors.length, 1, JSON.stringify(r.events));
      assert.equal(r.errors[0].code, "turn_failed");
      assert.match(
        r.errors[0].message,
        /^sandbox "workspace-write" cannot run on this host.*user namespaces are not available.*bwrap: /,
      );
      assert.equal(rig.api.requests.length, 0, "the model was never asked");
      // No thread was started for it.
      await assert.rejects(Deno.stat(`${ws}/${SESSION_FILE}`), Deno.errors.NotFound);
    }
  });
}

Deno.test("sandbox e2e: doctor probes the configured sandbox and says what is missing", async () => {
  for (const version of EDGE_VERSIONS) {
    const bin = await ensureCodex(version);
    const ok = await sandboxCheck({ ...DEFAULTS, sandbox: "read-only" }, bin);
    assert.ok(ok?.ok, `${version}: ${ok?.detail}`);
    assert.match(ok.detail, /^read-only: .*write nowhere.*probed/);
  }
  assert.equal(await sandboxCheck({ ...DEFAULTS }, await ensureCodex()), undefined);
  // The doctor command as an operator runs it, on a host without user namespaces.
  await using h = hermetic();
  const config = `${h.root}/plugin.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ binary: await ensureCodex(), backend: "exec", sandbox: "workspace-write" }),
  );
  const out = await new Deno.Command(NO_USERNS[0], {
    args: [...NO_USERNS.slice(1), Deno.execPath(), ...pluginArgs(["doctor", "--config", config])],
    clearEnv: true,
    env: h.env({ CODEX_API_KEY: "sk-test" }),
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const line = stdout.split("\n").find((l) => l.startsWith("FAIL sandbox:"));
  assert.ok(line, stdout + new TextDecoder().decode(out.stderr));
  assert.match(line, /workspace-write cannot run here.*user namespaces are not available/);
  assert.equal(out.code, 1);
});
