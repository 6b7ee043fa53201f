/**
 * doctor's `sandbox` line, for a confining `sandbox`: what the model's
 * commands may do under it, and whether Codex's sandbox actually starts on
 * this host (lib/codex/sandbox.ts: the very probe a
 * turn makes before it runs). A host without user namespaces fails here with
 * what is missing, instead of every turn failing in production.
 *
 * @example
 * ```ts
 * import { sandboxCheck } from "./sandbox_check.ts";
 * import { DEFAULTS } from "../config.ts";
 * const check = await sandboxCheck({ ...DEFAULTS, sandbox: "read-only" }, "/usr/local/bin/codex");
 * // { ok: true, name: "sandbox", detail: "read-only: commands can read ..., write nowhere ... (probed: ...)" }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { type Env, launchEnv } from "../codex/launch_env.ts";
import { probeSandbox } from "../codex/sandbox.ts";
import type { Check } from "./check.ts";

const NAME = "sandbox";

/** What each mode lets a command do, in one phrase. */
function allows(config: Config): string {
  switch (config.sandbox) {
    case "danger-full-access":
      return "unconfined";
    case "read-only":
      return "commands can read what this user can, write nowhere, and have no network";
    case "workspace-write":
      return "commands can read what this user can, write only the workspace, /tmp and TMPDIR, " +
        (config.network_access ? "and use the network" : "and have no network");
  }
}

/**
 * The `sandbox` check for `config`, codex being at `bin`; none for the
 * default, `danger-full-access` (nothing to probe; doctor's output as before).
 */
export async function sandboxCheck(
  config: Config,
  bin: string,
  env: Env = (k) => Deno.env.get(k),
): Promise<Check | undefined> {
  if (config.sandbox === "danger-full-access") return undefined;
  const what = `${config.sandbox}: ${allows(config)}`;
  const r = await probeSandbox({ binary: bin, config, env: launchEnv(bin, env) });
  if (r.ok) return { ok: true, name: NAME, detail: `${what} (probed: \`codex sandbox\` works)` };
  return {
    ok: false,
    name: NAME,
    detail: `${config.sandbox} cannot run here, so every turn would fail: ${r.why}`,
  };
}
