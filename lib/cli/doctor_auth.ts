/**
 * doctor's `codex auth` line: whether Codex has credentials, saying exactly
 * what was verified. doctor never calls the API (it would cost a request and
 * need the network), so a login or a key is reported as present and "not
 * tried": a made-up `OPENAI_API_KEY` must not read as "ready". One turn with
 * `chat` tries it.
 *
 * Sources, in the order a turn uses them: Codex's stored login (`codex login
 * status`, run against a copy of `CODEX_HOME`: lib/cli/codex_probe.ts),
 * `CODEX_API_KEY`, a non-OpenAI provider selected through `extra_args`, and
 * `OPENAI_API_KEY` (which the plugin hands to Codex as `CODEX_API_KEY`).
 *
 * @example
 * ```ts
 * import { authCheck } from "./doctor_auth.ts";
 * import { DEFAULTS } from "../config.ts";
 * const c = await authCheck("/usr/local/bin/codex", { ...DEFAULTS }, (k) => Deno.env.get(k));
 * // { ok: true, name: "codex auth", detail: "a key is present in OPENAI_API_KEY ...; not tried ..." }
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import { codexHome, type Env } from "../codex/launch_env.ts";
import { oneLine, ProbeHome, runCodex } from "./codex_probe.ts";
import type { Check } from "./check.ts";

/** Appended to every passing line: what doctor did not do. */
export const NOT_TRIED = "not tried: doctor does not call the API (`chat` runs one real turn)";

/** The `model_provider` an extra `-c model_provider=X` selects, if any. */
function extraProvider(extraArgs: string[]): string | undefined {
  let provider: string | undefined;
  for (const a of extraArgs) {
    const m = a.match(/^(?:--config=)?model_provider\s*=\s*"?([^"\s]+)"?$/);
    if (m) provider = m[1];
  }
  return provider;
}

/** The `codex auth` check. */
export async function authCheck(
  bin: string,
  config: Config,
  env: Env,
): Promise<Check> {
  const name = "codex auth";
  const home = codexHome(env);
  const provider = extraProvider(config.extra_args);
  let s;
  {
    await using probe = await ProbeHome.create(home, { auth: true });
    s = await runCodex(bin, ["login", "status"], env, probe);
  }
  if (s.code === 0) {
    const line = s.text.split("\n").find((l) => /logged in|api key/i.test(l)) ??
      s.text.split("\n")[0];
    return {
      ok: true,
      name,
      detail: `codex has a stored login (${oneLine(line || "logged in")}); ${NOT_TRIED}`,
    };
  }
  if (env("CODEX_API_KEY")) {
    return { ok: true, name, detail: `a key is present in CODEX_API_KEY; ${NOT_TRIED}` };
  }
  if (provider && provider !== "openai") {
    return {
      ok: true,
      name,
      detail: `extra_args select model provider "${provider}"; its credentials are not checked`,
    };
  }
  if (env("OPENAI_API_KEY")) {
    return {
      ok: true,
      name,
      detail: "a key is present in OPENAI_API_KEY (the plugin passes it to codex as " +
        `CODEX_API_KEY: codex exec does not read OPENAI_API_KEY itself); ${NOT_TRIED}`,
    };
  }
  return {
    ok: false,
    name,
    detail:
      `not logged in (${oneLine(s.text) || `exit ${s.code}`}; CODEX_HOME ${home ?? "~/.codex"}). ` +
      "Run `codex login` (or `codex login --with-api-key` reading the key on stdin) as the user " +
      "the plugin runs as, with the same CODEX_HOME, or set OPENAI_API_KEY (or CODEX_API_KEY) " +
      "in its environment",
  };
}
