/**
 * How the app-server is started, decided in one place for the supervisor
 * (turns) and `doctor` (which once started it its own way and drifted), and
 * whether it can take turns now, as `auto` (select.ts) sees it: {@linkcode Health}.
 *
 * - **Command line**: `extra_args` were written for `codex exec`; the
 *   app-server takes only `-c/--config`, `--enable/--disable` and
 *   `--strict-config` (its `--help` on 0.135.0, 0.169.0, 0.171.0):
 *   {@linkcode appServerArgs} names the first other argument.
 * - **API key**: `codex app-server` reads neither `CODEX_API_KEY` nor
 *   `OPENAI_API_KEY` (turns went out without `Authorization`), so it is
 *   logged in with `account/login/start {type: "apiKey"}`, started with
 *   `cli_auth_credentials_store="ephemeral"` so that the key stays in memory
 *   (else it was written to `auth.json` and outlived the environment). The
 *   key: `CODEX_API_KEY`, else `OPENAI_API_KEY` without a stored login.
 * - **Failures** are remembered ({@linkcode FailureMemory}), so that a broken
 *   Codex does not cost every turn the price of finding out (a start that
 *   never answered `initialize` cost each turn 10 s); a start is shared by
 *   the turns that arrive while it runs ({@linkcode SharedStart}).
 *
 * @example
 * ```ts
 * import { appServerArgs, planLaunch } from "./launch.ts";
 * import { DEFAULTS } from "../../config.ts";
 * appServerArgs(["--profile", "work"]); // { ok: false, error: "--profile" }
 * const plan = planLaunch({ ...DEFAULTS }); // binary, argv, environment, API key
 * ```
 *
 * @module
 */
import { abortable, type Clock, realClock } from "../../async.ts";
import type { Config } from "../../config.ts";
import { err, ok, type Result } from "../../result.ts";
import { defaultEnv, type Env, hasStoredLogin, launchEnv, locateBinary } from "../launch_env.ts";
import { AppServerProcess, type AppServerProcessOptions, type StartFailure } from "./process.ts";

/** argv of `codex app-server` (without the binary), or the first argument it does not take. */
export function appServerArgs(extraArgs: readonly string[]): Result<string[], string> {
  const args = ["app-server"];
  for (let i = 0; i < extraArgs.length; i++) {
    const a = extraArgs[i];
    if (["-c", "--config", "--enable", "--disable"].includes(a)) { // the value comes next
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

/** Why the app-server could not be had: codex not found, an exec-only `extra_args` argument, … */
export interface Unavailable extends StartFailure {
  notFound: boolean;
  execOnlyArg?: string;
}

/** Everything a start needs, decided from the config and the environment; `apiKey` never logged. */
export interface LaunchPlan {
  binary: string;
  via: "path" | "explicit" | "fallback";
  args: string[];
  env: Record<string, string> | undefined;
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
      const error = (e as Error).message; // turns then fail with Codex's 401
      o.log.warn("codex app-server refused the API key from the environment", { error });
    }
  }
  return ok(started.value);
}

/** A crash loop: this many unexpected exits within {@linkcode CRASH_WINDOW_MS}. */
export const CRASH_LOOP_EXITS = 3;
export const CRASH_WINDOW_MS = 60_000;
/** How long a failed start is answered from memory before the next start is tried. */
export const FAILED_START_MEMORY_MS = 60_000;

/** The answer of {@linkcode Health.ready}; `cancelled`: the caller's signal aborted meanwhile. */
export type Readiness =
  | { state: "ready" }
  | { state: "cancelled" }
  | { state: "unusable"; why: string; notFound: boolean };

/** What `auto` needs to know of the app-server, and nothing more. */
export interface Health {
  /** Ready for a turn (started if none runs), or why not; a cancel answers at once. */
  ready(signal: AbortSignal): Promise<Readiness>;
  /** Turns go elsewhere for a while: forget past failures, stop the process if one runs. */
  standDown(): Promise<void>;
}

/** Crash loops and failed starts, remembered for a while; see the module doc. */
export class FailureMemory {
  #crashes: number[] = [];
  #failedStart: { at: number; failure: Unavailable } | undefined;

  constructor(private clock: Clock = realClock) {}

  /** The process exited without being asked to. */
  crashed(): void {
    this.#crashes.push(this.clock.now());
  }

  /** True after {@linkcode CRASH_LOOP_EXITS} unexpected exits within {@linkcode CRASH_WINDOW_MS}. */
  get crashLooping(): boolean {
    const since = this.clock.now() - CRASH_WINDOW_MS;
    this.#crashes = this.#crashes.filter((t) => t >= since);
    return this.#crashes.length >= CRASH_LOOP_EXITS;
  }

  /** A start failed (not cancelled): remembered for {@linkcode FAILED_START_MEMORY_MS}. */
  startFailed(failure: Unavailable): void {
    this.#failedStart = { at: this.clock.now(), failure };
  }

  /** The failed start still remembered, saying so, or undefined. */
  get failedStart(): Unavailable | undefined {
    const f = this.#failedStart;
    if (!f) return undefined;
    const ago = this.clock.now() - f.at;
    if (ago >= FAILED_START_MEMORY_MS) {
      this.#failedStart = undefined;
      return undefined;
    }
    return {
      ...f.failure,
      message: `${f.failure.message} (a start ${Math.round(ago / 1000)} s ago; the next is ` +
        `tried ${FAILED_START_MEMORY_MS / 1000} s after it)`,
    };
  }

  /** Forget everything (see {@linkcode Health.standDown}). */
  forget(): void {
    this.#crashes = [];
    this.#failedStart = undefined;
  }
}

type Run<T> = { promise: Promise<T>; waiters: number; abort: AbortController };

/** A start shared by its callers, aborted when none waits any more (module doc). */
export class SharedStart<T> {
  /** The start under way, if any. */
  run: Run<T> | undefined;

  /** `start` must resolve (not reject), and end what it began when its signal aborts. */
  constructor(private start: (signal: AbortSignal) => Promise<T>) {}

  /**
   * The outcome of the start under way, or of a new one; undefined as soon
   * as `signal` aborts (the start is aborted when no one else waits for it).
   */
  async join(signal?: AbortSignal): Promise<T | undefined> {
    if (signal?.aborted) return undefined;
    const run = this.run ?? this.#begin();
    run.waiters++;
    try {
      if (!signal) return await run.promise;
      return await abortable(run.promise, signal).catch((e) => {
        if (signal.aborted) return undefined;
        throw e;
      });
    } finally {
      if (--run.waiters === 0 && signal?.aborted && this.run === run) run.abort.abort();
    }
  }

  #begin(): Run<T> {
    const abort = new AbortController();
    const run: Run<T> = { waiters: 0, abort, promise: this.start(abort.signal) };
    this.run = run;
    run.promise.finally(() => {
      if (this.run === run) this.run = undefined;
    });
    return run;
  }
}
