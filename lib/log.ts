/**
 * Logging to stderr: stdout belongs to the protocol. Levels `error`, `warn`,
 * `info`, `debug`; `text` (default) or `json` format, one line per record.
 *
 * Secrets are masked as `***` in every record, whatever the level
 * (lib/redact.ts: values of environment variables whose name ends in `KEY`,
 * `TOKEN`, `SECRET` or `PASSWORD`, and `sk-…`-shaped keys). Prompt text is
 * only ever logged at `debug` (callers' duty).
 *
 * Under systemd every line starts with journald's `<N>` priority prefix
 * (error 3, warning 4, info 6, debug 7; sd-daemon(3)), in both formats, so
 * `journalctl -p warning` filters the plugin's lines: journald strips the
 * prefix, the journal's MESSAGE is the line as without systemd (a JSON line
 * stays pure JSON). Only when stderr IS the journal stream systemd made
 * (`$JOURNAL_STREAM` names stderr's device and inode): a host that pipes the
 * plugin's stderr and logs it itself inherits the variable, but not the
 * stream, and gets no prefix to print literally.
 *
 * Each field value and the message are cut to {@linkcode MAX_LOG_FIELD}
 * characters (masked first, so a cut never leaves part of a secret): a host
 * may send a megabyte as `host.name`, and Codex may print one in an error.
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

/** journald's priority of each level (syslog's: err, warning, info, debug). */
export const JOURNALD_PRIORITY: Readonly<Record<LogLevel, number>> = {
  error: 3,
  warn: 4,
  info: 6,
  debug: 7,
};

/** Inputs of {@linkcode stderrIsJournal}; both default to the real process. */
export interface JournalProbe {
  /** `$JOURNAL_STREAM`, set by systemd to "DEV:INO" of the stream it connects. */
  journalStream?: string;
  /** Device and inode of this process's stderr. */
  stderr?: () => { dev: number; ino: number | null };
}

/**
 * Device and inode of stderr. Deno has no fstat, and stats nothing under
 * /proc/self or /dev/fd without --allow-all, so `stat(1)` looks at this
 * process's fd 2 (once, at start-up, and only when JOURNAL_STREAM is set).
 */
function statStderr(): { dev: number; ino: number } {
  const o = new Deno.Command("stat", {
    args: ["-L", "-c", "%d:%i", `/proc/${Deno.pid}/fd/2`],
    stdin: "null",
    stderr: "null",
  }).outputSync();
  const [dev, ino] = new TextDecoder().decode(o.stdout).trim().split(":").map(Number);
  return { dev, ino };
}

/** True when stderr is the journal stream systemd connected (see the module doc). */
export function stderrIsJournal(probe: JournalProbe = {}): boolean {
  try {
    const js = probe.journalStream ?? Deno.env.get("JOURNAL_STREAM");
    const m = js?.match(/^(\d+):(\d+)$/);
    if (!m) return false;
    const st = (probe.stderr ?? statStderr)();
    return String(st.dev) === m[1] && String(st.ino) === m[2];
  } catch {
    return false; // no permission, no /proc: plain lines
  }
}

/** {@linkcode stderrIsJournal} of this process, asked once. */
let stderrJournal: boolean | undefined;

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go; default stderr. */
  write?: (line: string) => void;
  /** Prefix lines with journald's `<N>`; default: when stderr is the journal stream. */
  journald?: boolean;
}

/** Create a logger; `write` defaults to stderr. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const enc = new TextEncoder();
  const write = opts.write ?? ((line: string) => {
    try {
      Deno.stderr.writeSync(enc.encode(line));
    } catch { /* stderr gone: nothing left to tell */ }
  });
  const journald = opts.journald ??
    (opts.write === undefined && (stderrJournal ??= stderrIsJournal()));
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
    write((journald ? `<${JOURNALD_PRIORITY[level]}>` : "") + redactor.text(line) + "\n");
  }
  return log;
}
