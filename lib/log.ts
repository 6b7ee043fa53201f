/**
 * Logging to stderr: stdout belongs to the protocol. Levels `error`, `warn`,
 * `info`, `debug`; `text` (default) or `json` format, one line per record.
 *
 * Secret values from the environment (any variable whose name ends in `KEY`,
 * `TOKEN`, `SECRET` or `PASSWORD`, with a value of 6 characters or more, such
 * as `OPENAI_API_KEY`) are masked as `***` in every record, whatever the level.
 * Prompt text is only ever logged at `debug` (callers' duty).
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "info" });
 * log.info("turn done", { workspace: "/w", duration_ms: 812 });
 * ```
 */

/** The four log levels, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];
/** `text` for people, `json` for journald and log shippers. */
export type LogFormat = "text" | "json";

/** A structured logger. */
export interface Logger {
  level: LogLevel;
  format: LogFormat;
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** True when records of `level` are written. */
  enabled(level: LogLevel): boolean;
}

const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD)$/i;

/** Values to mask: each secret as is and as it appears inside a JSON string. */
function secrets(): string[] {
  let env: Record<string, string>;
  try {
    env = Deno.env.toObject();
  } catch {
    return [];
  }
  const values = Object.entries(env)
    .filter(([k, v]) => SECRET_NAME.test(k) && v.length >= 6)
    .flatMap(([, v]) => [v, JSON.stringify(v).slice(1, -1)]);
  // Longest first, so a secret that contains another is masked whole.
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

/** Create a logger; `write` defaults to stderr. */
export function createLogger(
  opts: { level?: LogLevel; format?: LogFormat; write?: (line: string) => void } = {},
): Logger {
  const enc = new TextEncoder();
  const write = opts.write ?? ((line: string) => {
    try {
      Deno.stderr.writeSync(enc.encode(line));
    } catch { /* stderr gone: nothing left to tell */ }
  });
  const masked = secrets();
  const mask = (s: string) => {
    for (const v of masked) if (s.includes(v)) s = s.split(v).join("***");
    return s;
  };
  const log: Logger = {
    level: opts.level ?? "info",
    format: opts.format ?? "text",
    enabled: (l) => LOG_LEVELS.indexOf(l) <= LOG_LEVELS.indexOf(log.level),
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
  };
  function emit(level: LogLevel, msg: string, fields: Record<string, unknown> = {}) {
    if (!log.enabled(level)) return;
    const time = new Date().toISOString();
    let line: string;
    if (log.format === "json") {
      line = JSON.stringify({ time, level, msg, ...fields });
    } else {
      const kv = Object.entries(fields).map(([k, v]) =>
        `${k}=${typeof v === "string" && !/\s|"/.test(v) ? v : JSON.stringify(v)}`
      );
      line = [time, level.toUpperCase(), msg, ...kv].join(" ");
    }
    write(mask(line) + "\n");
  }
  return log;
}
