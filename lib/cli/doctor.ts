/**
 * `doctor`: checks what a turn needs and prints one line per check, with a
 * remedy where one fails. Exit code 0 only when a turn can run.
 *
 * Checks: which codex binary and where it was found; its version (at least
 * {@linkcode MIN_CODEX_VERSION}); that Codex can authenticate (`codex login
 * status`, `CODEX_API_KEY`, or `OPENAI_API_KEY`, which the plugin hands to
 * Codex as `CODEX_API_KEY`: see `launchEnv`); with a workspace, that it is a
 * writable directory and what its session file holds; which backend a turn
 * will use and whether the app-server starts (lib/cli/backend_check.ts); what
 * the `sandbox` lets commands do and whether it starts (lib/cli/sandbox_check.ts).
 *
 * doctor changes nothing it inspects: Codex runs against a scratch copy of
 * `CODEX_HOME` (lib/cli/codex_probe.ts), the workspace gets one probe file,
 * removed at once. It says only what it verified: credentials are present,
 * not tried against the API (lib/cli/doctor_auth.ts).
 *
 * @example
 * ```ts
 * import { doctor } from "./doctor.ts";
 * import { DEFAULTS } from "../config.ts";
 * Deno.exit(await doctor({ ...DEFAULTS }, { workspace: "/srv/agent" }));
 * // ok   codex binary: /usr/local/bin/codex (found on PATH)
 * // ok   codex version: 0.169.0
 * // ...
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { codexHome, compareVersions, type Env, locateBinary } from "../codex/launch_env.ts";
import { backendCheck } from "./backend_check.ts";
import type { Check } from "./check.ts";
import { oneLine, ProbeHome, runCodex } from "./codex_probe.ts";
import { authCheck } from "./doctor_auth.ts";
import { workspaceChecks } from "./doctor_workspace.ts";
import { sandboxCheck } from "./sandbox_check.ts";

/** Oldest Codex CLI this plugin supports. */
export const MIN_CODEX_VERSION = "0.135.0";

function binaryCheck(config: Config, env: Env): { check: Check; path?: string } {
  const located = locateBinary(config.binary, env);
  if (!located.ok) {
    return { check: { ok: false, name: "codex binary", detail: located.error.message } };
  }
  const found = located.value;
  const where = found.via === "path"
    ? "found on PATH"
    : found.via === "explicit"
    ? 'the "binary" setting'
    : `found outside PATH; set "binary" to ${found.path} so the service does not depend on the search`;
  return {
    check: { ok: true, name: "codex binary", detail: `${found.path} (${where})` },
    path: found.path,
  };
}

async function versionCheck(bin: string, env: Env): Promise<Check> {
  const name = "codex version";
  await using probe = await ProbeHome.create(undefined);
  const v = await runCodex(bin, ["--version"], env, probe);
  const version =
    (v.stdout.match(/codex[\w-]*\s+v?(\d+\.\d+\.\d+)/) ?? v.text.match(/(\d+\.\d+\.\d+)/))
      ?.[1];
  if (v.code !== 0 || !version) {
    return {
      ok: false,
      name,
      detail: `\`${bin} --version\` failed (${oneLine(v.text) || `exit ${v.code}`}). ` +
        `Reinstall: npm install -g @openai/codex`,
    };
  }
  if (compareVersions(version, MIN_CODEX_VERSION) < 0) {
    return {
      ok: false,
      name,
      detail: `${version} is older than ${MIN_CODEX_VERSION}, the oldest this plugin supports. ` +
        `Upgrade: npm install -g @openai/codex@latest`,
    };
  }
  return { ok: true, name, detail: `${version} (>= ${MIN_CODEX_VERSION})` };
}

/**
 * Run every check; `workspace` adds the workspace and session checks.
 *
 * @example
 * ```ts
 * import { checks } from "./doctor.ts";
 * import { DEFAULTS } from "../config.ts";
 * const failed = (await checks({ ...DEFAULTS }, {})).filter((c) => !c.ok);
 * ```
 */
export async function checks(
  config: Config,
  opts: { workspace?: string; env?: Env },
): Promise<Check[]> {
  // The real environment, read once: the app-server probe below runs with CODEX_HOME
  // pointing at a scratch copy (lib/cli/codex_probe.ts), never at the one inspected.
  const real = Deno.env.toObject();
  const env = opts.env ?? ((k: string) => real[k]);
  const bin = binaryCheck(config, env);
  const out = [bin.check];
  if (bin.path) {
    const path = bin.path;
    out.push(await versionCheck(path, env), await authCheck(path, config, env));
    await using probe = await ProbeHome.create(codexHome(env));
    out.push(await probe.with(() => backendCheck(config, env)));
    const sandbox = await probe.with(() => sandboxCheck(config, path, env));
    if (sandbox) out.push(sandbox);
  }
  if (opts.workspace !== undefined) out.push(...await workspaceChecks(opts.workspace, env));
  return out;
}

/**
 * Print the checks to stdout, one line each; resolves the exit code.
 *
 * @example
 * ```ts
 * import { doctor } from "./doctor.ts";
 * import { DEFAULTS } from "../config.ts";
 * Deno.exit(await doctor({ ...DEFAULTS }, { workspace: "/srv/agent" }));
 * ```
 */
export async function doctor(config: Config, opts: { workspace?: string }): Promise<number> {
  const results = await checks(config, opts);
  for (const c of results) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  const failed = results.filter((c) => !c.ok).length;
  if (failed) console.log(`${failed} check(s) failed: a turn cannot run yet`);
  else {
    // Only what was verified: the credentials are present, not tried (lib/cli/doctor_auth.ts).
    console.log(
      opts.workspace === undefined
        ? "ready as far as checked (add --workspace DIR to check an agent's workspace too); " +
          "credentials not tried"
        : "ready as far as checked; credentials not tried: `chat` runs one real turn",
    );
  }
  return failed ? 1 : 0;
}
