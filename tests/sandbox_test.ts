/**
 * Config `sandbox` and `network_access` (lib/config.ts), and
 * lib/codex/sandbox.ts: what each backend tells Codex for them (exec argv,
 * app-server params), the probe's argv and its reading of bubblewrap's
 * errors, and the guard that fails a turn with one error while the sandbox
 * cannot run. The real Codex runs in tests/sandbox_e2e_test.ts.
 */
import assert from "node:assert/strict";
import { type Config, DEFAULTS, validateConfig } from "../lib/config.ts";
import { execArgs } from "../lib/codex/exec/argv.ts";
import {
  execSandboxArgs,
  explainSandboxFailure,
  PROBE_MARKER,
  probeArgs,
  type ProbeResult,
  probeSandbox,
  type SandboxConfig,
  SandboxGuard,
  sandboxGuarded,
  threadSandbox,
  turnSandbox,
} from "../lib/codex/sandbox.ts";
import { createLogger } from "../lib/log.ts";
import type { Backend, PlexumEvent, TurnRequest, TurnResult } from "../lib/turns/backend.ts";
import { AppServerBackend } from "../lib/codex/app_server/backend.ts";
import { installFakeAppServer } from "./support/fake_app_server.ts";

const errors = (raw: unknown, base?: Config) => {
  const r = validateConfig(raw, base);
  return r.ok ? [] : r.error;
};

Deno.test("config: sandbox defaults to danger-full-access without network_access", () => {
  assert.equal(DEFAULTS.sandbox, "danger-full-access");
  assert.equal(DEFAULTS.network_access, false);
});

Deno.test("config: each sandbox mode is taken; an unknown one is one error naming the modes", () => {
  for (const sandbox of ["danger-full-access", "workspace-write", "read-only"]) {
    const r = validateConfig({ sandbox });
    assert.ok(r.ok && r.value.sandbox === sandbox, sandbox);
  }
  for (const bad of ["workspace_write", "none", "", 1, null]) {
    assert.deepEqual(errors({ sandbox: bad }), [{
      field: "sandbox",
      message: "must be one of danger-full-access, workspace-write, read-only",
    }]);
  }
});

Deno.test("config: network_access only with workspace-write, refused with the reason otherwise", () => {
  const ok = validateConfig({ sandbox: "workspace-write", network_access: true });
  assert.ok(ok.ok && ok.value.network_access);
  const [ro, ...rest] = errors({ sandbox: "read-only", network_access: true });
  assert.equal(rest.length, 0);
  assert.equal(ro.field, "network_access");
  assert.match(ro.message, /only for sandbox "workspace-write".*read-only has no network/);
  const [dfa] = errors({ network_access: true });
  assert.match(dfa.message, /sandbox is "danger-full-access".*network anyway/);
  assert.deepEqual(errors({ sandbox: "read-only", network_access: false }), []);
  assert.deepEqual(errors({ network_access: "yes" }).map((e) => e.field), ["network_access"]);
  // A bad mode is the one error: network_access is not judged against a mode that is not there.
  assert.deepEqual(errors({ sandbox: "x", network_access: true }).map((e) => e.field), [
    "sandbox",
  ]);
  // The file's mode, the initialize config's network_access: judged together.
  const file = validateConfig({ sandbox: "workspace-write" });
  assert.ok(file.ok);
  assert.deepEqual(errors({ network_access: true }, file.value), []);
});

const WS = { sandbox: "workspace-write", network_access: false } as const;
const WS_NET = { sandbox: "workspace-write", network_access: true } as const;
const RO = { sandbox: "read-only", network_access: false } as const;
const DFA = { sandbox: "danger-full-access", network_access: false } as const;
const NEVER = ["-c", 'approval_policy="never"'];
const NET = ["-c", "sandbox_workspace_write.network_access=true"];
const ID = "019a5c1e-7d2f-7a31-9e4b-2c8d0f6a1b3c";

Deno.test("exec: the default keeps the bypass flag; a confining mode is --sandbox and approvals never", () => {
  assert.deepEqual(execSandboxArgs(DFA), ["--dangerously-bypass-approvals-and-sandbox"]);
  assert.deepEqual(execSandboxArgs(WS), ["--sandbox", "workspace-write", ...NEVER]);
  assert.deepEqual(execSandboxArgs(WS_NET), ["--sandbox", "workspace-write", ...NEVER, ...NET]);
  assert.deepEqual(execSandboxArgs(RO), ["--sandbox", "read-only", ...NEVER]);
  assert.deepEqual(execArgs({ extraArgs: [] }), execArgs({ extraArgs: [], sandbox: DFA }));
});

Deno.test("exec: the sandbox flags are exec's, before resume (which has no --sandbox)", () => {
  const args = execArgs({ extraArgs: ["-c", "x=1"], threadId: ID, sandbox: WS_NET });
  assert.deepEqual(args, [
    "exec",
    "--skip-git-repo-check",
    "--sandbox",
    "workspace-write",
    ...NEVER,
    ...NET,
    "--json",
    "-c",
    "x=1",
    "resume",
    ID,
    "-",
  ]);
  assert.ok(!args.includes("--dangerously-bypass-approvals-and-sandbox"));
});

Deno.test("app-server: the thread gets the mode as a string, the network in its config", () => {
  assert.deepEqual(threadSandbox(DFA), { approvalPolicy: "never", sandbox: "danger-full-access" });
  assert.deepEqual(threadSandbox(RO), { approvalPolicy: "never", sandbox: "read-only" });
  assert.deepEqual(threadSandbox(WS), { approvalPolicy: "never", sandbox: "workspace-write" });
  assert.deepEqual(threadSandbox(WS_NET), {
    approvalPolicy: "never",
    sandbox: "workspace-write",
    config: { "sandbox_workspace_write.network_access": true },
  });
});

Deno.test("app-server: every turn carries the mode as a sandboxPolicy object", () => {
  const policy = (c: SandboxConfig) => turnSandbox(c).sandboxPolicy;
  assert.deepEqual(policy(DFA), { type: "dangerFullAccess" });
  assert.deepEqual(policy(RO), { type: "readOnly" });
  assert.deepEqual(policy(WS), { type: "workspaceWrite", networkAccess: false });
  assert.deepEqual(policy(WS_NET), { type: "workspaceWrite", networkAccess: true });
  assert.equal(turnSandbox(RO).approvalPolicy, "never");
});

Deno.test("probe: codex sandbox under the configured mode and network, running sh", () => {
  assert.deepEqual(probeArgs(WS_NET), [
    "sandbox",
    "-c",
    'sandbox_mode="workspace-write"',
    ...NET,
    "--",
    "sh",
    "-c",
    `echo ${PROBE_MARKER}`,
  ]);
  assert.deepEqual(probeArgs(RO).slice(0, 4), ["sandbox", "-c", 'sandbox_mode="read-only"', "--"]);
});

Deno.test("probe: bubblewrap without user namespaces is named, with what to allow", () => {
  for (
    const line of [
      // What 0.135.0 and 0.171.0 print where user namespaces are exhausted (measured).
      "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)",
      "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.",
      "bwrap: setting up uid map: Permission denied",
    ]
  ) {
    const why = explainSandboxFailure(
      `WARNING: proceeding, even though we could not update PATH: x\n${line}\n`,
      1,
    );
    assert.match(why, /^user namespaces are not available/, line);
    assert.match(why, /max_user_namespaces/);
    assert.match(why, /apparmor_restrict_unprivileged_userns/);
    assert.ok(why.includes(`(${line})`), why);
    assert.ok(!why.includes("WARNING"));
  }
});

Deno.test("probe: another bubblewrap error is quoted; anything else says how codex sandbox ended", () => {
  assert.equal(
    explainSandboxFailure("bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted\n", 1),
    "Codex's sandbox (bubblewrap) cannot run here: bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted",
  );
  assert.equal(
    explainSandboxFailure("error: unexpected argument 'x'\n", 2),
    "`codex sandbox` failed (exit 2): error: unexpected argument 'x'",
  );
  assert.equal(explainSandboxFailure("", 1), "`codex sandbox` failed (exit 1)");
  assert.ok(explainSandboxFailure(`bwrap: ${"x".repeat(5000)}`, 1).length < 400);
});

/** A shell script standing in for codex: prints `out` to stderr, `stdout`, exits `code`. */
async function fakeCodex(stdout: string, stderr: string, code: number): Promise<string> {
  const dir = await Deno.makeTempDir();
  const bin = `${dir}/codex`;
  await Deno.writeTextFile(
    bin,
    `#!/bin/sh\nprintf '%s' '${stdout}'\nprintf '%s\\n' '${stderr}' >&2\nexit ${code}\n`,
  );
  await Deno.chmod(bin, 0o755);
  return bin;
}

Deno.test("probe: works only when the command printed the marker and codex sandbox exited 0", async () => {
  const cases: [string, string, number, boolean][] = [
    [`${PROBE_MARKER}\n`, "", 0, true],
    ["", "", 0, false], // exited 0 without running the command
    [`${PROBE_MARKER}\n`, "", 1, false],
    ["", "bwrap: Creating new namespace failed: Operation not permitted", 1, false],
  ];
  for (const [out, err, code, ok] of cases) {
    const bin = await fakeCodex(out, err, code);
    try {
      const r = await probeSandbox({ binary: bin, config: WS });
      assert.equal(r.ok, ok, JSON.stringify(r));
      if (!r.ok && err) assert.match(r.why, /^user namespaces are not available/);
    } finally {
      await Deno.remove(bin.slice(0, -"/codex".length), { recursive: true });
    }
  }
  assert.deepEqual(await probeSandbox({ binary: "/nonexistent/codex", config: DFA }), {
    ok: true,
  });
  const missing = await probeSandbox({ binary: "/nonexistent/codex", config: RO });
  assert.ok(!missing.ok && /could not run/.test(missing.why));
});

/** A backend that records its turns. */
function innerBackend(): Backend & { turns: number } {
  const b = {
    turns: 0,
    runTurn(): Promise<TurnResult> {
      b.turns++;
      return Promise.resolve({ stop_reason: "end_turn", thread_id: "T", usage: null });
    },
    close: () => Promise.resolve(),
  };
  return b;
}

function request(events: PlexumEvent[]): TurnRequest {
  return {
    workspace: "/tmp",
    prompt: "hi",
    model: "codex",
    reset: false,
    signal: new AbortController().signal,
    emit: (e) => events.push(e),
  };
}

const quiet = createLogger({ write: () => {} });
const guardConfig = (c: Partial<Config> = {}): Config => ({
  ...DEFAULTS,
  binary: Deno.execPath(), // an existing file: the guard probes instead of deferring
  sandbox: "read-only",
  ...c,
});

Deno.test("guard: a sandbox that cannot run fails each turn with one turn_failed error, and is probed again", async () => {
  const inner = innerBackend();
  let probes = 0;
  const probe = (): Promise<ProbeResult> => {
    probes++;
    return Promise.resolve({ ok: false, why: "user namespaces are not available (bwrap: x)" });
  };
  const guard = new SandboxGuard(inner, guardConfig(), quiet, probe);
  for (const n of [1, 2]) {
    const events: PlexumEvent[] = [];
    const r = await guard.runTurn(request(events));
    assert.deepEqual(r, { stop_reason: "error", thread_id: null, usage: null });
    assert.equal(events.length, 1);
    const e = events[0] as Extract<PlexumEvent, { type: "error" }>;
    assert.equal(e.code, "turn_failed");
    assert.match(e.message, /^sandbox "read-only" cannot run on this host/);
    assert.match(e.message, /user namespaces are not available \(bwrap: x\)/);
    assert.match(e.message, /doctor/);
    assert.equal(probes, n);
  }
  assert.equal(inner.turns, 0, "no turn ran");
});

Deno.test("guard: once the sandbox worked, turns run without probing again; concurrent turns share a probe", async () => {
  const inner = innerBackend();
  let probes = 0;
  const probe = async (): Promise<ProbeResult> => {
    probes++;
    await new Promise((r) => setTimeout(r, 10));
    return { ok: true };
  };
  const guard = new SandboxGuard(inner, guardConfig(), quiet, probe);
  const events: PlexumEvent[] = [];
  const rs = await Promise.all([guard.runTurn(request(events)), guard.runTurn(request(events))]);
  assert.ok(rs.every((r) => r.stop_reason === "end_turn"));
  await guard.runTurn(request(events));
  assert.equal(probes, 1);
  assert.equal(inner.turns, 3);
  assert.deepEqual(events, []);
});

Deno.test("guard: the default mode is not wrapped; a missing binary is the backend's to report", async () => {
  const inner = innerBackend();
  assert.equal(sandboxGuarded(() => inner)({ ...DEFAULTS }, quiet), inner);
  const guarded = sandboxGuarded(() => inner)(guardConfig({ binary: "/nonexistent/codex" }), quiet);
  assert.ok(guarded instanceof SandboxGuard);
  const r = await guarded.runTurn(request([]));
  assert.equal(r.stop_reason, "end_turn");
  assert.equal(inner.turns, 1);
});

Deno.test("app-server backend: thread/start and every turn/start carry the configured sandbox (scripted app-server)", async () => {
  await using fake = await installFakeAppServer({});
  const backend = new AppServerBackend({
    config: { ...DEFAULTS, binary: fake.binary, backend: "app-server", ...WS_NET },
    log: quiet,
    clientVersion: "test",
    initializeTimeoutMs: 20_000,
  });
  const ws = await Deno.makeTempDir({ prefix: "sandbox-test-" });
  try {
    for (let i = 0; i < 2; i++) {
      const r = await backend.runTurn({ ...request([]), workspace: ws });
      assert.equal(r.stop_reason, "end_turn");
    }
  } finally {
    await backend.close();
    await Deno.remove(ws, { recursive: true });
  }
  const sent = (await fake.received()).map((r) => r.msg);
  const starts = sent.filter((m) => m.method === "thread/start");
  assert.equal(starts.length, 1);
  assert.deepEqual(
    { ...starts[0].params as Record<string, unknown>, cwd: undefined },
    { ...threadSandbox(WS_NET), cwd: undefined },
  );
  const turns = sent.filter((m) => m.method === "turn/start");
  assert.equal(turns.length, 2, "the loaded thread's second turn too");
  for (const t of turns) {
    const p = t.params as Record<string, unknown>;
    assert.equal(p.approvalPolicy, "never");
    assert.deepEqual(p.sandboxPolicy, { type: "workspaceWrite", networkAccess: true });
  }
});
