/**
 * Whether Codex's sandbox can run on this host, tried the way Codex runs a
 * command: `codex sandbox -c sandbox_mode="MODE" -- sh -c 'echo MARKER'` in a
 * fresh private temp dir (offline; no model, no login). On Linux Codex
 * confines commands with bubblewrap (the one on PATH, else the one it ships),
 * which needs unprivileged user namespaces; where the kernel, a sysctl, an
 * AppArmor policy or a container forbids them, every sandboxed command fails
 * with `bwrap: ...` and Codex hands that to the model as the command's output:
 * the turn would go on without ever running anything. So a turn under a
 * confining mode first makes sure the probe passes (sandbox_guard.ts), and
 * `doctor` shows its answer.
 *
 * {@linkcode explainSandboxFailure} turns bubblewrap's words into what is
 * missing and what to do.
 *
 * @example
 * ```ts
 * import { probeSandbox } from "./sandbox_probe.ts";
 * const r = await probeSandbox({
 *   binary: "/usr/local/bin/codex",
 *   config: { sandbox: "workspace-write", network_access: false },
 * });
 * if (!r.ok) console.error(r.why); // "user namespaces are not available ... (bwrap: ...)"
 * ```
 *
 * @module
 */
import type { SandboxConfig } from "./sandbox.ts";

/** What the probe's command prints when it ran. */
export const PROBE_MARKER = "plexum-sandbox-ok";
const TIMEOUT_MS = 30_000;

/** Options of {@linkcode probeSandbox}. */
export interface ProbeOptions {
  /** Absolute path of the codex binary. */
  binary: string;
  config: SandboxConfig;
  /** Variables added to this process's environment (lib/codex/locate.ts `launchEnv`). */
  env?: Record<string, string>;
  signal?: AbortSignal;
}

/** The probe's answer. */
export type ProbeResult = { ok: true } | { ok: false; why: string };

/** argv (after the binary) of the probe for a confining mode. */
export function probeArgs(c: SandboxConfig): string[] {
  return [
    "sandbox",
    "-c",
    `sandbox_mode="${c.sandbox}"`,
    ...(c.sandbox === "workspace-write" && c.network_access
      ? ["-c", "sandbox_workspace_write.network_access=true"]
      : []),
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
    const signal = AbortSignal.any([AbortSignal.timeout(TIMEOUT_MS), o.signal ?? neverAborted]);
    const out = await new Deno.Command(o.binary, {
      args: probeArgs(o.config),
      cwd: dir,
      env: o.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
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

const neverAborted = new AbortController().signal;

/** bubblewrap's complaints about namespaces (its own wording, and the kernel's). */
const NO_USERNS =
  /creating new namespace|new namespace failed|no permissions to creat|user namespace|uid map|max_\S*namespaces/i;

/**
 * What is missing, from the output of a failed `codex sandbox` (or of a
 * command Codex could not confine): Codex's `WARNING:` lines dropped, the
 * first `bwrap:` line quoted, at most 300 characters of it.
 *
 * @example
 * ```ts
 * import { explainSandboxFailure } from "./sandbox_probe.ts";
 * explainSandboxFailure("bwrap: Creating new namespace failed: Operation not permitted\n", 1);
 * // "user namespaces are not available to this user, and Codex's sandbox (bubblewrap) needs them ..."
 * ```
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
