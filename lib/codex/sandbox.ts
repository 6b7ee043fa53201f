/**
 * The config keys `sandbox` and `network_access`: how each backend tells
 * Codex, and the guard that never lets a turn run under less confinement
 * than asked. Whatever the mode, approvals are `never`: a turn never waits
 * for a person, and a command the sandbox refuses fails (its output goes back
 * to the model) instead of asking to run unconfined.
 *
 * - exec: `danger-full-access` is the seed's flag
 *   `--dangerously-bypass-approvals-and-sandbox`; a confining mode is
 *   `--sandbox MODE -c approval_policy="never"` (+ `-c
 *   sandbox_workspace_write.network_access=true`), before `resume`: `exec
 *   resume` has no `--sandbox` of its own, yet 0.135.0, 0.169.0 and 0.171.0
 *   run a resumed thread under them (measured both ways).
 * - app-server: `thread/start`/`thread/resume` take the mode as a string
 *   (network in the thread's `config`), `turn/start` as `sandboxPolicy`. Both
 *   are sent: `thread/resume` of a thread the app-server holds keeps its old
 *   mode (0.171.0), while the turn's policy wins and sticks to the thread.
 *
 * Where Codex's sandbox (bubblewrap: it needs unprivileged user namespaces)
 * cannot start, every command fails with `bwrap: ...` and the turn goes on
 * without effect. So before the first turn of a confining config,
 * {@linkcode probeSandbox} runs `codex sandbox -- sh -c 'echo MARKER'`
 * (offline); while it fails, each turn fails with ONE `turn_failed` error
 * saying what is missing, and probes again. `doctor` shows the same probe.
 *
 * @example
 * ```ts
 * import { execSandboxArgs, turnSandbox } from "./sandbox.ts";
 * const c = { sandbox: "workspace-write", network_access: true } as const;
 * execSandboxArgs(c);
 * // ["--sandbox", "workspace-write", "-c", 'approval_policy="never"',
 * //  "-c", "sandbox_workspace_write.network_access=true"]
 * turnSandbox(c);
 * // { approvalPolicy: "never", sandboxPolicy: { type: "workspaceWrite", networkAccess: true } }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Backend, TurnRequest, TurnResult } from "../turns/backend.ts";
import { cancelledTurn, failTurn, TurnFailure } from "../turns/outcome.ts";
import { launchEnv, locateBinary } from "./launch_env.ts";

/** The two keys this module reads. */
export type SandboxConfig = Pick<Config, "sandbox" | "network_access">;

const networkOn = (c: SandboxConfig) => c.sandbox === "workspace-write" && c.network_access;
const NETWORK_ARGS = ["-c", "sandbox_workspace_write.network_access=true"];

/** `codex exec` arguments for the mode (before `resume`). */
export function execSandboxArgs(c: SandboxConfig): string[] {
  if (c.sandbox === "danger-full-access") return ["--dangerously-bypass-approvals-and-sandbox"];
  return [
    "--sandbox",
    c.sandbox,
    "-c",
    'approval_policy="never"',
    ...(networkOn(c) ? NETWORK_ARGS : []),
  ];
}

/** Params of `thread/start` and `thread/resume` for the mode. */
export function threadSandbox(c: SandboxConfig): Record<string, unknown> {
  return {
    approvalPolicy: "never",
    sandbox: c.sandbox,
    ...(networkOn(c) && { config: { "sandbox_workspace_write.network_access": true } }),
  };
}

/** Params of `turn/start` for the mode. */
export function turnSandbox(c: SandboxConfig): Record<string, unknown> {
  const sandboxPolicy = c.sandbox === "workspace-write"
    ? { type: "workspaceWrite", networkAccess: networkOn(c) }
    : { type: c.sandbox === "read-only" ? "readOnly" : "dangerFullAccess" };
  return { approvalPolicy: "never", sandboxPolicy };
}

/** What the probe's command prints when it ran. */
export const PROBE_MARKER = "plexum-sandbox-ok";

/** Options of {@linkcode probeSandbox}: the codex binary's absolute path, its `launchEnv`. */
export interface ProbeOptions {
  binary: string;
  config: SandboxConfig;
  env?: Record<string, string>;
  signal?: AbortSignal;
}

/** The probe's answer. */
export type ProbeResult = { ok: true } | { ok: false; why: string };

/** The probe's argv (after the binary). */
export function probeArgs(c: SandboxConfig): string[] {
  return [
    "sandbox",
    "-c",
    `sandbox_mode="${c.sandbox}"`,
    ...(networkOn(c) ? NETWORK_ARGS : []),
    "--",
    "sh",
    "-c",
    `echo ${PROBE_MARKER}`,
  ];
}

/** Run the probe; `danger-full-access` has nothing to probe. */
export async function probeSandbox(o: ProbeOptions): Promise<ProbeResult> {
  if (o.config.sandbox === "danger-full-access") return { ok: true };
  const dir = await Deno.makeTempDir({ prefix: "plexum-sandbox-probe-" });
  try {
    const timeout = AbortSignal.timeout(30_000);
    const out = await new Deno.Command(o.binary, {
      args: probeArgs(o.config),
      cwd: dir,
      env: o.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: o.signal ? AbortSignal.any([timeout, o.signal]) : timeout,
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(out.stdout);
    if (out.success && stdout.includes(PROBE_MARKER)) return { ok: true };
    const text = `${stdout}\n${dec.decode(out.stderr)}`;
    if (out.signal) return { ok: false, why: `\`codex sandbox\` was killed by ${out.signal}` };
    return { ok: false, why: explainSandboxFailure(text, out.code) };
  } catch (e) {
    return { ok: false, why: `\`codex sandbox\` could not run: ${(e as Error).message}` };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** bubblewrap's complaints about namespaces (its own wording, and the kernel's). */
const NO_USERNS =
  /creating new namespace|new namespace failed|no permissions to creat|user namespace|uid map|max_\S*namespaces/i;

/**
 * What is missing, from the output of a failed `codex sandbox` (or of a
 * command Codex could not confine): the first `bwrap:` line quoted (300
 * characters at most), Codex's `WARNING:` lines dropped.
 */
export function explainSandboxFailure(output: string, code: number | null): string {
  const lines = output.split("\n").map((l) => l.trim())
    .filter((l) => l && !l.startsWith("WARNING:") && !/^\S*\d{4}-\d\d-\d\dT/.test(l));
  const bwrap = lines.find((l) => /^bwrap:/.test(l));
  const quote = (bwrap ?? lines.join(" ")).slice(0, 300);
  if (bwrap && NO_USERNS.test(bwrap)) {
    return "user namespaces are not available to this user, and Codex's sandbox (bubblewrap) " +
      "needs them: allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0 and " +
      "kernel.unprivileged_userns_clone=1 where it exists; on Ubuntu 23.10+ install bubblewrap " +
      "from the OS packages, whose AppArmor profile permits them, or set " +
      "kernel.apparmor_restrict_unprivileged_userns=0; in a container, allow them in its " +
      `seccomp/AppArmor profile) (${quote})`;
  }
  if (bwrap) return `Codex's sandbox (bubblewrap) cannot run here: ${quote}`;
  return `\`codex sandbox\` failed (exit ${code ?? "?"})${quote ? `: ${quote}` : ""}`;
}

type BackendFactory = (config: Config, log: Logger) => Backend;

/** `factory`, its backends guarded when the config confines commands. */
export function sandboxGuarded(factory: BackendFactory): BackendFactory {
  return (config, log) => {
    const backend = factory(config, log);
    return config.sandbox === "danger-full-access"
      ? backend
      : new SandboxGuard(backend, config, log);
  };
}

/** The guard; see the module doc. */
export class SandboxGuard implements Backend {
  #verified = false;
  #probing: Promise<ProbeResult> | undefined;

  constructor(
    private inner: Backend,
    private config: Config,
    private log: Logger,
    private probe: (o: ProbeOptions) => Promise<ProbeResult> = probeSandbox,
  ) {}

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    if (!this.#verified) {
      // A missing binary is the backend's to report (codex_not_found).
      const bin = locateBinary(this.config.binary);
      if (!bin.ok) return this.inner.runTurn(req);
      // Turns that start together share one probe.
      this.#probing ??= this.probe({
        binary: bin.value.path,
        config: this.config,
        env: launchEnv(bin.value.path),
      }).finally(() => (this.#probing = undefined));
      const r = await this.#probing;
      if (req.signal.aborted) return cancelledTurn();
      if (!r.ok) {
        const { sandbox } = this.config;
        this.log.error("codex sandbox unavailable; turn refused", { sandbox, why: r.why });
        const message = `sandbox "${sandbox}" cannot run on this host, so the turn was not ` +
          `started: ${r.why}. \`plexum-openai-provider-plugin doctor\` checks it`;
        return failTurn(req, new TurnFailure("turn_failed", message));
      }
      if (!this.#verified) this.log.info("codex sandbox works", { sandbox: this.config.sandbox });
      this.#verified = true;
    }
    return this.inner.runTurn(req);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
