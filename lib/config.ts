/**
 * HostConfig: the plugin's configuration, from `--config FILE` (JSONC,
 * lib/config_file.ts) and/or the `config` of `initialize`. Validation returns
 * one message per bad field, so an operator fixes them all in one go.
 *
 * @example
 * ```ts
 * import { validateConfig } from "./config.ts";
 * const r = validateConfig({ binary: "/usr/bin/codex", idle_timeout_s: 30 });
 * if (!r.ok) console.error(r.error); // [{ field, message }]
 * ```
 *
 * @module
 */
import { err, ok, type Result } from "./result.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./log.ts";

/** Validated configuration, defaults filled in; {@linkcode CONFIG_KEYS} describes each key. */
export interface Config {
  binary: string;
  extra_args: string[];
  supported_models: string[];
  /** Plexum model id → `--model` value. */
  model_args: Record<string, string>;
  idle_timeout_s: number;
  log_level: LogLevel;
  log_format: LogFormat;
  emit_activity: boolean;
  replay_history: boolean;
  emit_reasoning: boolean;
  backend: BackendChoice;
  app_server_idle_s: number;
  sandbox: SandboxMode;
  network_access: boolean;
  /** A turn's reasoning effort when its `chat` names none; null: Codex's own. */
  reasoning_effort: ReasoningEffort | null;
}

/** Reasoning efforts every supported Codex takes (0.135.0's enum; 0.169.0+ pass any on). */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"] as const;
/** One of {@linkcode REASONING_EFFORTS}. */
export type ReasoningEffort = typeof REASONING_EFFORTS[number];

/** Values of the `sandbox` key: Codex's sandbox modes, the first the default. */
export const SANDBOX_MODES = ["danger-full-access", "workspace-write", "read-only"] as const;
/** One of {@linkcode SANDBOX_MODES}. */
export type SandboxMode = typeof SANDBOX_MODES[number];
/** Values of the `backend` key. */
export const BACKENDS = ["auto", "app-server", "exec"] as const;
/** One of {@linkcode BACKENDS}. */
export type BackendChoice = typeof BACKENDS[number];

/** Thrown by a backend factory for a config that cannot run as a whole (answered -32602). */
export class ConfigError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => `${e.field} ${e.message}`).join("; "));
    this.name = "ConfigError";
  }
}

/** One problem with one field. */
export interface FieldError {
  field: string;
  message: string;
}

/** Defaults for every key. */
export const DEFAULTS: Readonly<Config> = Object.freeze({
  binary: "codex",
  extra_args: [],
  supported_models: ["codex"],
  model_args: {},
  idle_timeout_s: 600,
  log_level: "info",
  log_format: "text",
  emit_activity: false,
  replay_history: true,
  emit_reasoning: false,
  backend: "auto",
  app_server_idle_s: 60,
  sandbox: "danger-full-access",
  network_access: false,
  reasoning_effort: null,
});

/** Every key HostConfig accepts, with a one-line description (for `--help`). */
export const CONFIG_KEYS: Record<keyof Config, string> = {
  binary: 'Codex executable, bare name or absolute path (default "codex")',
  extra_args:
    "extra codex arguments; the app-server takes only -c/--config, --enable, --disable and " +
    "--strict-config (default [])",
  supported_models: 'model ids advertised to Plexum (default ["codex"])',
  model_args: "map of Plexum model id to the --model value Codex gets (default {})",
  idle_timeout_s: "end a turn after this many seconds without progress from Codex (default 600)",
  log_level: 'error | warn | info | debug (default "info", or $PLEXUM_LOG)',
  log_format: 'text | json (default "text")',
  emit_activity: "send activity events for commands, file changes, tools (default false)",
  replay_history: "a new thread gets the earlier messages as a transcript (default true)",
  emit_reasoning: "send reasoning_delta events with the model's reasoning (default false)",
  backend: 'auto | app-server | exec: how turns run (default "auto": app-server, else exec)',
  app_server_idle_s: "stop the shared codex app-server after this many idle seconds (default 60)",
  sandbox:
    'danger-full-access | workspace-write | read-only: what commands may write (default "danger-full-access")',
  network_access: "commands may use the network; only with workspace-write (default false)",
  reasoning_effort: "none | minimal | low | medium | high | xhigh: a turn's default (default null)",
};

const ENUMS: Record<string, readonly string[]> = {
  log_level: LOG_LEVELS,
  backend: BACKENDS,
  sandbox: SANDBOX_MODES,
};

const NO_API_KEY =
  "Codex authenticates from ~/.codex or OPENAI_API_KEY in the plugin's environment";
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === "string");

/** Validate a raw object (usually parsed JSON) on top of `base`; unknown keys are errors. */
export function validateConfig(
  raw: unknown,
  base: Config = { ...DEFAULTS },
): Result<Config, FieldError[]> {
  const errors: FieldError[] = [];
  const bad = (field: string, message: string) => errors.push({ field, message });
  if (raw === undefined || raw === null) return ok(base);
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return err([{ field: "config", message: "must be an object" }]);
  }
  const c: Config = { ...base };
  const set = c as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    switch (k) {
      case "binary":
        if (typeof v !== "string" || v.trim() === "") bad(k, "must be a non-empty string");
        else if (v.startsWith("-")) bad(k, "must not start with '-'");
        else c.binary = v;
        break;
      case "extra_args":
        if (!isStringArray(v)) bad(k, "must be an array of strings");
        else c.extra_args = v;
        break;
      case "supported_models":
        if (!isStringArray(v) || v.length === 0 || v.some((m) => m === "")) {
          bad(k, "must be a non-empty array of non-empty strings");
        } else if (v.some((m) => m.startsWith("-"))) bad(k, "model ids must not start with '-'");
        else c.supported_models = [...new Set(v)];
        break;
      case "model_args":
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
          bad(k, "must be an object mapping model id to --model value");
          break;
        }
        for (const [m, arg] of Object.entries(v)) {
          if (typeof arg !== "string" || arg === "") bad(`${k}.${m}`, "must be a non-empty string");
          else if (arg.startsWith("-")) {
            bad(`${k}.${m}`, "must not start with '-' (Codex would read it as a flag)");
          }
        }
        c.model_args = v as Record<string, string>;
        break;
      case "idle_timeout_s":
        if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
          bad(k, "must be a positive number of seconds");
        } else c.idle_timeout_s = v;
        break;
      case "app_server_idle_s":
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 86_400) {
          bad(k, "must be a number of seconds from 0 to 86400");
        } else c.app_server_idle_s = v;
        break;
      case "log_level":
      case "backend":
      case "sandbox":
        if (!ENUMS[k].includes(v as string)) bad(k, `must be one of ${ENUMS[k].join(", ")}`);
        else set[k] = v;
        break;
      case "log_format":
        if (v !== "text" && v !== "json") bad(k, "must be text or json");
        else c.log_format = v;
        break;
      case "emit_activity":
      case "replay_history":
      case "emit_reasoning":
      case "network_access":
        if (typeof v !== "boolean") bad(k, "must be a boolean");
        else c[k] = v;
        break;
      case "reasoning_effort":
        if (v !== null && !REASONING_EFFORTS.includes(v as ReasoningEffort)) {
          bad(k, `must be null or one of ${REASONING_EFFORTS.join(", ")}`);
        } else c.reasoning_effort = v as ReasoningEffort | null;
        break;
      case "api_key":
        bad(k, `is not accepted: ${NO_API_KEY}`);
        break;
      default:
        bad(k, "is not a known config key");
    }
  }
  if (
    c.network_access && c.sandbox !== "workspace-write" &&
    !errors.some((e) => e.field === "sandbox")
  ) {
    const why = c.sandbox === "read-only"
      ? "read-only has no network"
      : "danger-full-access has the network anyway";
    bad(
      "network_access",
      `is only for sandbox "workspace-write" (sandbox is "${c.sandbox}": ${why})`,
    );
  }
  return errors.length ? err(errors) : ok(c);
}
