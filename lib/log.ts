/**
 * Logging to stderr: stdout belongs to the protocol. Levels `error`, `warn`,
 * `info`, `debug`; `text` (default) or `json` format, one line per record.
 *
 * Secrets are masked as `***` in every record, whatever the level
 * (lib/redact.ts: values of environment variables whose name ends in `KEY`,
 * `TOKEN`, `SECRET` or `PASSWORD`, and `sk-…`-shaped keys). Prompt text is
 * only ever logged at `debug` (callers' duty).
 *
 * Each field value and the message are cut to {@linkcode MAX_LOG_FIELD}
 * characters (masked first, so a cut never leaves part of a secret): a host
 * may send a megabyte as `host.name`, and Codex may print one in an error.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "info" });
 * log.info("turn done", { workspace: "/w", duration_ms: 812 });
 * ```
 */

import { Redactor } from "./redact.ts";
import { cut } from "./cut.ts";

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

/** Longest message or field value written, in characters (objects: as JSON). */
export const MAX_LOG_FIELD = 2048;

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
  const redactor = new Redactor();
  const bounded = (v: unknown): unknown => {
    if (typeof v === "string") return v.length > MAX_LOG_FIELD ? short(v) : v;
    if (v === null || typeof v !== "object") return v;
    let json: string | undefined;
    try {
      json = JSON.stringify(v);
    } catch { /* a cycle: written as is */ }
    return json !== undefined && json.length > MAX_LOG_FIELD ? short(json) : v;
  };
  // Masked before the cut, so no part of a secret is left at the end.
  const short = (s: string) =>
    cut(redactor.text(s.length > 1 << 20 ? s.slice(0, 1 << 20) : s), MAX_LOG_FIELD, s.length);
  const log: Logger = {
    level: opts.level ?? "info",
    format: opts.format ?? "text",
    enabled: (l) => LOG_LEVELS.indexOf(l) <= LOG_LEVELS.indexOf(log.level),
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
  };
  function emit(level: LogLevel, msg: string, raw: Record<string, unknown> = {}) {
    if (!log.enabled(level)) return;
    msg = bounded(msg) as string;
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) fields[k] = bounded(v);
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
    write(redactor.text(line) + "\n");
  }
  return log;
}
