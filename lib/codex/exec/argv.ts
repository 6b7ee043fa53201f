/**
 * Builds the argv of one `codex exec` turn. The prompt is never in argv: it
 * goes to stdin and argv ends with `-`, so no message text can become a flag.
 *
 * @example
 * ```ts
 * import { execArgs } from "./argv.ts";
 * execArgs({ extraArgs: [], threadId: "0199...", model: undefined });
 * // ["exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
 * //  "--json", "resume", "0199...", "-"]
 * ```
 *
 * The sandbox flags come from lib/codex/sandbox.ts (`--sandbox MODE` and
 * approvals `never`, or the bypass flag above for the default mode).
 *
 * @module
 */
import { execSandboxArgs, type SandboxConfig } from "../sandbox.ts";

/** What varies between turns. */
export interface ExecArgsInput {
  /** `--model` value, or undefined for Codex's default. */
  model?: string;
  /** `-c model_reasoning_effort=...`, for this run only; undefined: Codex's own. */
  reasoningEffort?: string;
  /** `--output-schema` file (../output_schema.ts), for this run only. */
  outputSchema?: string;
  /** System text for a new thread (`-c developer_instructions=...`). */
  developerInstructions?: string;
  extraArgs: string[];
  /**
   * Image files sent with the prompt. Each is one `--image=PATH` element:
   * `--image` takes several values, so `--image PATH -` would take the `-`
   * that ends argv for an image (seen on 0.135.0 and 0.169.0).
   */
  images?: string[];
  /** Resume this thread; undefined starts a new one. */
  threadId?: string;
  /** Config `sandbox` and `network_access`; undefined: `danger-full-access`. */
  sandbox?: SandboxConfig;
}

/** argv for `codex` (without the binary itself). */
export function execArgs(i: ExecArgsInput): string[] {
  const args = [
    "exec",
    "--skip-git-repo-check",
    ...execSandboxArgs(i.sandbox ?? { sandbox: "danger-full-access", network_access: false }),
    "--json",
  ];
  if (i.model) args.push("--model", i.model);
  if (i.developerInstructions) {
    // A TOML basic string; JSON string escaping is a valid subset of it.
    args.push("-c", `developer_instructions=${JSON.stringify(i.developerInstructions)}`);
  }
  if (i.reasoningEffort) {
    args.push("-c", `model_reasoning_effort=${JSON.stringify(i.reasoningEffort)}`);
  }
  if (i.outputSchema) args.push(`--output-schema=${i.outputSchema}`);
  for (const path of i.images ?? []) args.push(`--image=${path}`);
  args.push(...i.extraArgs);
  if (i.threadId) args.push("resume", i.threadId);
  args.push("-");
  return args;
}
