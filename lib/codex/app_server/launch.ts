/**
 * How the app-server is started, decided in one place for the supervisor
 * (turns) and `doctor`; doctor once started it its own way and drifted.
 *
 * - **Command line**: `extra_args` were written for `codex exec`; the
 *   app-server takes only `-c/--config`, `--enable/--disable` and
 *   `--strict-config` (`codex app-server --help` of 0.135.0, 0.169.0,
 *   0.171.0). {@linkcode appServerArgs} names the first other argument, so
 *   that `auto` can choose exec and `app-server` can refuse the config.
 * - **API key**: `codex app-server` reads neither `CODEX_API_KEY` nor
 *   `OPENAI_API_KEY` (a turn went out without `Authorization`, 0.135.0 and
 *   0.169.0), so it is logged in with `account/login/start {type: "apiKey"}`,
 *   started with `cli_auth_credentials_store="ephemeral"` so that the login
 *   stays in memory (without it both wrote the key to `auth.json`, where it
 *   would outlive the environment). The key: `CODEX_API_KEY`, else
 *   `OPENAI_API_KEY` when Codex has no stored login. Never logged.
 *
 * @example
 * ```ts
 * import { appServerArgs, launch, planLaunch } from "./launch.ts";
 * import { DEFAULTS } from "../../config.ts";
 * import { createLogger } from "../../log.ts";
 * appServerArgs(["--profile", "work"]); // { ok: false, error: "--profile" }
 * const plan = planLaunch({ ...DEFAULTS });
 * if (plan.ok) {
 *   const p = await launch(plan.value, { log: createLogger(), clientVersion: "0.1.0" });
 *   if (p.ok) await p.value.stop();
 * } else console.error(plan.error.message);
 * ```
 *
 * @module
 */
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { err, ok, type Result } from "../../result.ts";
import { defaultEnv, type Env, hasStoredLogin, launchEnv } from "../launch_env.ts";
import { locateBinary } from "../locate.ts";
import { AppServerProcess, type AppServerProcessOptions, type StartFailure } from "./process.ts";

/** Options of `codex app-server` that take a value (as the next argument or after `=`). */
const WITH_VALUE = ["-c", "--config", "--enable", "--disable"];

/** argv of `codex app-server` (without the binary), or the first argument it does not take. */
export function appServerArgs(extraArgs: readonly string[]): Result<string[], string> {
  const args = ["app-server"];
  for (let i = 0; i < extraArgs.length; i++) {
    const a = extraArgs[i];
    if (WITH_VALUE.includes(a)) {
      const value = extraArgs[i + 1];
      if (value === undefined) return err(a);
      args.push(a, value);
      i++;
    } else if (
      a === "--strict-config" || /^--(config|enable|disable)=/.test(a) ||
      (a.startsWith("-c") && !a.startsWith("--") && a.length > 2) // clap's `-ckey=value`
    ) {
      args.push(a);
    } else return err(a);
  }
  return ok(args);
}

/** Why `arg` keeps a config off the app-server (for logs and -32602). */
export function unsupportedArgMessage(arg: string): string {
  return `${JSON.stringify(arg)} is a codex exec argument that codex app-server does not take ` +
    `(it takes only -c/--config, --enable, --disable and --strict-config)`;
}

/** The API key the app-server should log in with, or undefined (see the module doc). */
export function envApiKey(env: Env = defaultEnv): string | undefined {
  const openaiKey = env("OPENAI_API_KEY");
  return env("CODEX_API_KEY") || (openaiKey && !hasStoredLogin(env) ? openaiKey : undefined);
}

/** Why the app-server could not be had. */
export interface Unavailable extends StartFailure {
  /** The codex binary itself was not found. */
  notFound: boolean;
  /** The argument of `extra_args` that only `codex exec` takes, when that is why. */
  execOnlyArg?: string;
}

/** Everything a start needs, decided from the config and the environment. */
export interface LaunchPlan {
  binary: string;
  /** How {@linkcode binary} was found (logged once by the supervisor). */
  via: "path" | "explicit" | "fallback";
  /** argv without the binary, starting with `app-server`. */
  args: string[];
  env: Record<string, string> | undefined;
  /** The key to log in with; never logged. */
  apiKey: string | undefined;
}

/** How `config` starts the app-server, or why it cannot. */
export function planLaunch(config: Config, env: Env = defaultEnv): Result<LaunchPlan, Unavailable> {
  const bin = locateBinary(config.binary, env);
  if (!bin.ok) return err({ spawnFailed: true, notFound: true, message: bin.error.message });
  const args = appServerArgs(config.extra_args);
  if (!args.ok) {
    const message = unsupportedArgMessage(args.error);
    return err({ spawnFailed: false, notFound: false, execOnlyArg: args.error, message });
  }
  const apiKey = envApiKey(env);
  const ephemeral = apiKey ? ["-c", 'cli_auth_credentials_store="ephemeral"'] : [];
  return ok({
    binary: bin.value.path,
    via: bin.value.via,
    args: [args.value[0], ...ephemeral, ...args.value.slice(1)],
    env: launchEnv(bin.value.path, env), // node beside an nvm-installed codex, under systemd's PATH
    apiKey,
  });
}

/** Start, initialize and log in the app-server of `plan`; a failure leaves nothing running. */
export async function launch(
  plan: LaunchPlan,
  o: Omit<AppServerProcessOptions, "binary" | "args" | "env">,
): Promise<Result<AppServerProcess, Unavailable>> {
  const started = await AppServerProcess.start({ ...plan, ...o });
  if (!started.ok) return err({ ...started.error, notFound: false });
  if (plan.apiKey) {
    try {
      const params = { type: "apiKey", apiKey: plan.apiKey };
      await started.value.client.request("account/login/start", params);
    } catch (e) {
      // Turns then fail with Codex's 401.
      o.log.warn("codex app-server refused the API key from the environment", {
        error: (e as Error).message,
      });
    }
  }
  return ok(started.value);
}
