/**
 * Linux `/proc` probes for the reliability and load tests: which processes
 * work in a directory, how many file descriptors a process holds, its memory,
 * its descendants. Every probe tolerates processes that vanish while it looks.
 *
 * @example
 * ```ts
 * const pids = pidsInDir("/tmp/ws");          // processes whose cwd is in /tmp/ws
 * const { rssKiB, hwmKiB } = memory(plugin.child.pid);
 * const fds = fdCount(plugin.child.pid);
 * ```
 */

/** Numeric entries of /proc: every live pid (and zombies). */
export function allPids(): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(e.name)) pids.push(Number(e.name));
  }
  return pids;
}

/** The process's working directory, or undefined when it is gone (or a zombie). */
export function cwdOf(pid: number): string | undefined {
  try {
    return Deno.readLinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

/**
 * Pids whose working directory is `dir` or below it (`dir` is resolved first,
 * so a symlinked temp dir still matches).
 *
 * @example
 * ```ts
 * assertEquals(pidsInDir(workspace), []); // nothing left running there
 * ```
 */
export function pidsInDir(dir: string): number[] {
  let real = dir;
  try {
    real = Deno.realPathSync(dir);
  } catch { /* deleted: compare the name as given */ }
  return allPids().filter((pid) => {
    if (pid === Deno.pid) return false;
    const cwd = cwdOf(pid)?.replace(/ \(deleted\)$/, "");
    return cwd !== undefined && (cwd === real || cwd.startsWith(`${real}/`) || cwd === dir);
  });
}

/** Fields of /proc/PID/stat that the tests need. */
export interface Stat {
  pid: number;
  comm: string;
  /** R, S, D, Z, T, ... */
  state: string;
  ppid: number;
  pgrp: number;
}

/** Parse /proc/PID/stat, or undefined when the process is gone. */
export function statOf(pid: number): Stat | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // comm is in parentheses and may itself contain spaces or parentheses.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const [state, ppid, pgrp] = text.slice(close + 2).split(" ");
  return { pid, comm, state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const s = statOf(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

/**
 * Every live descendant of `pid` (children, grandchildren, ...).
 *
 * @example
 * ```ts
 * const kids = descendants(plugin.child.pid).map((s) => s.comm);
 * ```
 */
export function descendants(pid: number): Stat[] {
  const stats = allPids().map(statOf).filter((s): s is Stat => s !== undefined);
  const out: Stat[] = [];
  let frontier = [pid];
  while (frontier.length) {
    const kids = stats.filter((s) => frontier.includes(s.ppid) && s.state !== "Z");
    out.push(...kids);
    frontier = kids.map((s) => s.pid);
  }
  return out;
}

/** Live processes in process group `pgrp`. */
export function groupMembers(pgrp: number): Stat[] {
  return allPids().map(statOf).filter((s): s is Stat =>
    s !== undefined && s.pgrp === pgrp && s.state !== "Z"
  );
}

/** Pids whose environment holds `needle` (e.g. `CODEX_HOME=/tmp/x`). */
export function pidsWithEnv(needle: string): number[] {
  return allPids().filter((pid) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0").includes(needle);
    } catch {
      return false;
    }
  });
}

/** Number of open file descriptors of `pid` (entries of /proc/PID/fd). */
export function fdCount(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

/** Resident memory now and at its peak, in KiB (VmRSS and VmHWM of /proc/PID/status). */
export function memory(pid: number): { rssKiB: number; hwmKiB: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/** Bytes the process has read through read(2) and friends so far (`rchar` of /proc/PID/io). */
export function bytesRead(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/io`);
  return Number(/^rchar:\s+(\d+)/m.exec(text)?.[1]);
}

/**
 * Poll until `pred` is true; resolves with how long it took (ms), rejects after `timeoutMs`.
 *
 * @example
 * ```ts
 * await until(() => pidsInDir(ws).length > 0, 30_000, "codex to start");
 * ```
 */
export async function until(
  pred: () => boolean,
  timeoutMs: number,
  what: string,
  everyMs = 20,
): Promise<number> {
  const start = performance.now();
  while (!pred()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return performance.now() - start;
}

/** Format KiB as MiB with one decimal, for test output. */
export function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}
