/**
 * The config keys `sandbox` and `network_access` as each backend tells Codex.
 * Whatever the mode, approvals are `never`: a turn never waits for a person,
 * and a command the sandbox refuses fails (its output and exit code go back
 * to the model, and into `activity` when Codex reports the command: it may
 * not for one it takes for a sandbox denial, README "Sandbox") instead of
 * asking to run unconfined.
 *
 * - exec: `danger-full-access` keeps the seed's flag
 *   `--dangerously-bypass-approvals-and-sandbox` (Codex's own spelling of
 *   that mode with approvals `never`), so the default argv is unchanged; a
 *   confining mode is `--sandbox MODE -c approval_policy="never"`, plus
 *   `-c sandbox_workspace_write.network_access=true`. These are `exec` flags,
 *   placed before `resume`: `exec resume` has no `--sandbox` of its own, yet
 *   0.135.0, 0.169.0 and 0.171.0 all run a resumed thread under them (a thread
 *   started read-only and resumed with `--sandbox workspace-write` writes, and
 *   the reverse is refused; measured).
 * - app-server: `thread/start` and `thread/resume` take the mode as a string
 *   (`sandbox`, with the network in the thread's `config`); `turn/start` takes
 *   it as an object (`sandboxPolicy`). Both are sent: `thread/resume` of a
 *   thread the app-server already holds keeps the thread's old mode (seen on
 *   0.171.0), while the turn's policy wins and sticks to the thread. (On a
 *   fresh app-server either one alone was enough, on 0.135.0 and 0.171.0.)
 *
 * @example
 * ```ts
 * import { execSandboxArgs, threadSandbox, turnSandbox } from "./sandbox.ts";
 * const c = { sandbox: "workspace-write", network_access: true } as const;
 * execSandboxArgs(c);
 * // ["--sandbox", "workspace-write", "-c", 'approval_policy="never"',
 * //  "-c", "sandbox_workspace_write.network_access=true"]
 * threadSandbox(c);
 * // { approvalPolicy: "never", sandbox: "workspace-write",
 * //   config: { "sandbox_workspace_write.network_access": true } }
 * turnSandbox(c);
 * // { approvalPolicy: "never", sandboxPolicy: { type: "workspaceWrite", networkAccess: true } }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";

/** The two keys this module reads. */
export type SandboxConfig = Pick<Config, "sandbox" | "network_access">;

/** The seed's exec flag: no sandbox, no approvals. */
export const BYPASS_FLAG = "--dangerously-bypass-approvals-and-sandbox";

/** `codex exec` arguments for the mode (before `resume`). */
export function execSandboxArgs(c: SandboxConfig): string[] {
  if (c.sandbox === "danger-full-access") return [BYPASS_FLAG];
  return [
    "--sandbox",
    c.sandbox,
    "-c",
    'approval_policy="never"',
    ...(networkOn(c) ? ["-c", "sandbox_workspace_write.network_access=true"] : []),
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

const networkOn = (c: SandboxConfig) => c.sandbox === "workspace-write" && c.network_access;
