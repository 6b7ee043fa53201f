/**
 * Logging to stderr (stdout belongs to the protocol): levels `error`, `warn`,
 * `info`, `debug`; `text` or `json`, one line per record. Secrets are masked
 * in every record (lib/redact.ts); prompt text is logged only at `debug`
 * (callers' duty). Each value is cut to {@linkcode MAX_LOG_FIELD} characters
 * after masking: a host may send a megabyte as `host.name`.
 *
 * Under systemd each line starts with journald's `<N>` priority (sd-daemon(3)),
 * so `journalctl -p warning` works; journald strips it (a JSON line stays JSON).
 * Only when stderr IS the journal stream (`$JOURNAL_STREAM` names its device
 * and inode): a host that pipes stderr inherits the variable, not the stream.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const log = createLogger({ level: "info" });
 * log.info("turn done", { workspace: "/w", duration_ms: 812 });
 * ```
 *
 * @module
 */
import { Redactor } from "./redact.ts";
import { cut } from "./cut.ts";

/** The four log levels, most severe first. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
/** One of {@linkcode LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];
/** `text` for people, `json` for journald and log shippers. */
export type LogFormat = "text" | "json";
type Fields = Record<string, unknown>;

/** A structured logger. */
export interface Logger {
  level: LogLevel;
  format: LogFormat;
  error(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  /** True when records of `level` are written. */
  enabled(level: LogLevel): boolean;
}

/** Longest message or field value written, in characters (objects: as JSON). */
export const MAX_LOG_FIELD = 2048;

/** journald's priority of each level (syslog's err, warning, info, debug). */
const PRIORITY: Readonly<Record<LogLevel, number>> = { error: 3, warn: 4, info: 6, debug: 7 };

/**
 * True when stderr is the journal stream systemd connected. Deno has no
 * fstat and cannot stat /proc/self/fd without --allow-all, so `stat(1)` looks
 * at this process's fd 2 (once, and only when JOURNAL_STREAM is set).
 */
export function stderrIsJournal(probe: {
  journalStream?: string;
  stderr?: () => { dev: number; ino: number | null };
} = {}): boolean {
  try {
    const js = probe.journalStream ?? Deno.env.get("JOURNAL_STREAM");
    if (!js || !/^\d+:\d+$/.test(js)) return false;
    const st = probe.stderr?.();
    if (st) return `${st.dev}:${st.ino}` === js;
    const args = ["-L", "-c", "%d:%i", `/proc/${Deno.pid}/fd/2`];
    const o = new Deno.Command("stat", { args, stdin: "null", stderr: "null" }).outputSync();
    return new TextDecoder().decode(o.stdout).trim() === js;
  } catch {
    return false; // no permission, no /proc: plain lines
  }
}

let stderrJournal: boolean | undefined;

/** Create a logger; `write` defaults to stderr, `journald` to whether stderr is the journal. */
export function createLogger(opts: {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
  journald?: boolean;
} = {}): Logger {
  const enc = new TextEncoder();
  const write = opts.write ?? ((line: string) => {
    try {
      Deno.stderr.writeSync(enc.encode(line));
    } catch { /* stderr gone: nothing left to tell */ }
  });
  const journald = opts.journald ??
    (opts.write === undefined && (stderrJournal ??= stderrIsJournal()));
  const redactor = new Redactor();
  // Masked before the cut, so no part of a secret is left at the end.
  const short = (s: string) =>
    cut(redactor.text(s.length > 1 << 20 ? s.slice(0, 1 << 20) : s), MAX_LOG_FIELD, s.length);
  const bounded = (v: unknown): unknown => {
    if (typeof v === "string") return v.length > MAX_LOG_FIELD ? short(v) : v;
    if (v === null || typeof v !== "object") return v;
    let json: string | undefined;
    try {
      json = JSON.stringify(v);
    } catch { /* a cycle: written as is */ }
    return json !== undefined && json.length > MAX_LOG_FIELD ? short(json) : v;
  };
  const emit = (level: LogLevel, msg: string, raw: Fields = {}) => {
    if (!log.enabled(level)) return;
    const time = new Date().toISOString();
    const fields = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, bounded(v)]));
    const line = log.format === "json"
      ? JSON.stringify({ time, level, msg: bounded(msg), ...fields })
      : [
        time,
        level.toUpperCase(),
        bounded(msg),
        ...Object.entries(fields).map(([k, v]) =>
          `${k}=${typeof v === "string" && !/\s|"/.test(v) ? v : JSON.stringify(v)}`
        ),
      ].join(" ");
    write((journald ? `<${PRIORITY[level]}>` : "") + redactor.text(line) + "\n");
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
  return log;
}
