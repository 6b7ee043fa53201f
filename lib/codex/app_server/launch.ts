/**
 * How the app-server is started, decided in one place for everyone who
 * starts it: the supervisor (for turns) and `doctor` (to tell whether turns
 * will get one). Doctor once started it its own way and drifted (it left out
 * the ephemeral-auth arguments a turn's process gets); with one
 * {@linkcode planLaunch} and one {@linkcode launch} it cannot.
 *
 * The plan: the binary (located as exec mode locates it), the command line
 * from `extra_args` (args.ts; an argument only `codex exec` takes makes the
 * app-server unavailable), the environment (launch_env.ts), and the API key
 * from the environment, if any, with the arguments that keep its login in
 * memory (auth.ts). The launch: spawn, `initialize`, log in with that key.
 *
 * @example
 * ```ts
 * import { launch, planLaunch } from "./launch.ts";
 * import { DEFAULTS } from "../../config.ts";
 * import { createLogger } from "../../log.ts";
 * const plan = planLaunch({ ...DEFAULTS });
 * if (plan.ok) {
 *   const p = await launch(plan.value, { log: createLogger(), clientVersion: "0.1.0" });
 *   if (p.ok) await p.value.stop();
 *   else console.error(p.error.message);
 * } else console.error(plan.error.message);
 * ```
 *
 * @module
 */
import type { Config } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { err, ok, type Result } from "../../result.ts";
import { defaultEnv, type Env, launchEnv, locateBinary } from "../launch_env.ts";
import { appServerArgs, unsupportedArgMessage } from "./args.ts";
import { envApiKey, EPHEMERAL_AUTH_ARGS, loginWithApiKey } from "./auth.ts";
import { AppServerProcess, type StartFailure } from "./process.ts";

/** Why the app-server could not be had. */
export interface Unavailable extends StartFailure {
  /** The codex binary itself was not found. */
  notFound: boolean;
  /** The argument of `extra_args` that only `codex exec` takes, when that is why. */
  execOnlyArg?: string;
}

/** Everything a start needs, decided from the config and the environment. */
export interface LaunchPlan {
  /** Absolute path of codex. */
  binary: string;
  /** How {@linkcode binary} was found (logged once by the supervisor). */
  via: "path" | "explicit" | "fallback";
  /** argv without the binary, starting with `app-server`. */
  args: string[];
  /** Environment additions (launch_env.ts). */
  env: Record<string, string> | undefined;
  /** The key to log in with (auth.ts); never logged. */
  apiKey: string | undefined;
}

/** How `config` starts the app-server, or why it cannot. */
export function planLaunch(config: Config, env: Env = defaultEnv): Result<LaunchPlan, Unavailable> {
  const bin = locateBinary(config.binary, env);
  if (!bin.ok) return err({ spawnFailed: true, notFound: true, message: bin.error.message });
  const args = appServerArgs(config.extra_args);
  if (!args.ok) {
    return err({
      spawnFailed: false,
      notFound: false,
      execOnlyArg: args.error,
      message: unsupportedArgMessage(args.error),
    });
  }
  // The app-server reads no API key from the environment: it is logged in with it (auth.ts).
  const apiKey = envApiKey(env);
  return ok({
    binary: bin.value.path,
    via: bin.value.via,
    args: apiKey ? [args.value[0], ...EPHEMERAL_AUTH_ARGS, ...args.value.slice(1)] : args.value,
    env: launchEnv(bin.value.path, env), // node beside an nvm-installed codex, under systemd's PATH
    apiKey,
  });
}

/** Inputs of {@linkcode launch} besides the plan. */
export interface LaunchOptions {
  log: Logger;
  /** The plugin's version, sent as `clientInfo.version`. */
  clientVersion: string;
  requestTimeoutMs?: number;
  initializeTimeoutMs?: number;
  /** Aborting it during the start ends the process. */
  signal?: AbortSignal;
}

/** Start, initialize and log in the app-server of `plan`; a failure leaves nothing running. */
export async function launch(
  plan: LaunchPlan,
  o: LaunchOptions,
): Promise<Result<AppServerProcess, Unavailable>> {
  const started = await AppServerProcess.start({
    binary: plan.binary,
    args: plan.args,
    env: plan.env,
    log: o.log,
    clientVersion: o.clientVersion,
    requestTimeoutMs: o.requestTimeoutMs,
    initializeTimeoutMs: o.initializeTimeoutMs,
    signal: o.signal,
  });
  if (!started.ok) return err({ ...started.error, notFound: false });
  if (plan.apiKey) await loginWithApiKey(started.value.client, plan.apiKey, o.log);
  return ok(started.value);
}
