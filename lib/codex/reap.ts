/**
 * Ending every process a Codex run started, even after the plugin died.
 * Codex runs in its own session and group (setsid) but starts some helpers
 * with setsid too (the login shell that snapshots the environment), which a
 * group kill misses. {@linkcode ProcessTree} lists processes with `ps` (the
 * plugin may not read /proc) and takes as members the group's and session's
 * processes, their descendants, the sessions they lead, and every process
 * carrying the run's marker (a variable all it starts inherit). Without
 * `ps`, only the group.
 *
 * A Codex left running by a plugin killed hard keeps its thread ("already
 * has an active writer"): a watchdog (`sh` in a session of its own, on a pipe
 * from the plugin) ends the run when the pipe closes without `done`, and the
 * run is recorded in `.plexum-codex-run` (./session.ts) so that the next turn
 * on the workspace ends what a dead plugin and watchdog left. A pid alone is
 * never trusted: a process must carry the recorded marker.
 *
 * @example
 * ```ts
 * import { ProcessTree, runMarker } from "./reap.ts";
 * const { name, value, marker } = runMarker();
 * const child = new Deno.Command("codex", { env: { [name]: value }, detached: true }).spawn();
 * await new ProcessTree(child.pid, marker).end(2000); // TERM, grace, KILL
 * ```
 *
 * @module
 */
import { delay } from "../async.ts";
import type { Logger } from "../log.ts";
import { keepFile, keptPlaces, readSmall } from "./session.ts";

/** A live process; `marked`: it carries the run's marker in its environment. */
export type Proc = { pid: number; ppid: number; pgid: number; sid: number; marked: boolean };

/** How long a `ps` scan may take before it is killed (and counts as finding nothing). */
export const PS_TIMEOUT_MS = 5000;

/** Every live process (zombies left out); empty when `ps` is unavailable or hangs. */
export async function listProcesses(marker: string): Promise<Proc[]> {
  try {
    const ps = new Deno.Command("ps", {
      // `e` appends each process's environment (our own user's) after its arguments.
      args: ["-e", "e", "-ww", "-o", "pid=,ppid=,pgid=,sid=,stat=,args="],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => ps.kill("SIGKILL"), PS_TIMEOUT_MS); // SIGKILL ends even a stopped ps
    const out = await ps.output().finally(() => clearTimeout(timer));
    if (!out.success) return [];
    const procs: Proc[] = [];
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const [pid, ppid, pgid, sid, stat] = line.trim().split(/\s+/, 5);
      if (!stat || stat.startsWith("Z")) continue;
      procs.push({ pid: +pid, ppid: +ppid, pgid: +pgid, sid: +sid, marked: line.includes(marker) });
    }
    return procs;
  } catch {
    return [];
  }
}

/**
 * Spawn `cmd` leading a new session and group: via setsid(1), a plain spawn
 * (Deno's `detached` forks, blocking the event loop for ms), else `detached`
 * (macOS). setsid execs `cmd` in place (same pid); one it cannot execute
 * makes it exit 126/127, {@linkcode SETSID_FAILED} on stderr.
 */
export function spawnInSession(cmd: string, o: Deno.CommandOptions): Deno.ChildProcess {
  try {
    return new Deno.Command("setsid", { ...o, args: [cmd, ...o.args ?? []] }).spawn();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return new Deno.Command(cmd, { ...o, detached: true }).spawn();
  }
}

/** What setsid(1) prints when it cannot execute its command. */
export const SETSID_FAILED = /^setsid: failed to execute (.*)/m;

/** A fresh marker for one run: set `name` to `value` in its environment. */
export function runMarker(): { name: string; value: string; marker: string } {
  const value = crypto.randomUUID();
  return { name: "PLEXUM_CODEX_RUN", value, marker: `PLEXUM_CODEX_RUN=${value}` };
}

/** The processes of one run, found and signalled together. */
export class ProcessTree {
  #known = new Map<number, number>(); // members seen so far: pid → session id

  /** `leader`: spawned with setsid; undefined when unverified (only marked processes count). */
  constructor(readonly leader: number | undefined, readonly marker: string) {}

  /** Scan now (while parent links still lead to members). Returns how many members are alive. */
  async refresh(): Promise<number> {
    const procs = await listProcesses(this.marker);
    const live = new Map(procs.map((p) => [p.pid, p]));
    for (const [pid, sid] of this.#known) {
      if (live.get(pid)?.sid !== sid) this.#known.delete(pid); // exited (or a reused pid)
    }
    const leader = this.leader ?? NaN;
    const sessions = new Set([leader, ...this.#known.keys()]);
    for (let grew = true; grew;) {
      grew = false;
      for (const p of procs) {
        if (p.pid === Deno.pid || this.#known.has(p.pid)) continue;
        if (
          p.marked || p.pgid === leader || p.ppid === leader || sessions.has(p.sid) ||
          this.#known.has(p.ppid)
        ) {
          this.#known.set(p.pid, p.sid);
          sessions.add(p.pid);
          grew = true;
        }
      }
    }
    return this.#known.size;
  }

  /**
   * Scan, send `sig` to the group and every member (SIGKILL: a few rounds);
   * how many were found. SIGTERM is followed by SIGCONT: a stopped process
   * acts on TERM only once continued (SIGKILL needs no help).
   */
  async signal(sig: Deno.Signal): Promise<number> {
    let found = -1;
    for (let round = 0; round < 4; round++) {
      const members = await this.refresh();
      if (found < 0) found = members;
      for (const pid of [...(this.leader ? [-this.leader] : []), ...this.#known.keys()]) {
        for (const s of sig === "SIGTERM" ? ["SIGTERM", "SIGCONT"] as const : [sig]) {
          try {
            Deno.kill(pid, s);
          } catch { /* gone already */ }
        }
      }
      if (sig !== "SIGKILL" || members === 0) break;
    }
    return found;
  }

  /**
   * SIGTERM, up to `graceMs` to exit, then SIGKILL. TERM first lets shells run
   * their exit traps (pyenv's rehash releases its lock there).
   */
  async end(graceMs: number): Promise<void> {
    if ((await this.signal("SIGTERM")) === 0 && !this.groupAlive()) return;
    const deadline = performance.now() + graceMs;
    while (performance.now() < deadline && (await this.refresh()) > 0) await delay(5);
    await this.signal("SIGKILL");
  }

  /** True while the leader's group has a live member (probed without `ps`). */
  groupAlive(): boolean {
    try {
      if (this.leader) Deno.kill(-this.leader, "SIGCONT"); // does nothing to a running process
      return this.leader !== undefined;
    } catch {
      return false;
    }
  }
}

/** A run as recorded: codex (its group's leader), its `PLEXUM_CODEX_RUN=…`, its plugin. */
export type RunIdentity = { pid: number; marker: string; plugin_pid: number };

const RUN_FILE = ".plexum-codex-run";

/** Record `run`; resolves where (undefined when nowhere could be written). */
export function recordRun(workspace: string, run: RunIdentity): Promise<string | undefined> {
  return keepFile(workspace, RUN_FILE, JSON.stringify(run) + "\n").catch(() => undefined);
}

/** Remove a record written by {@linkcode recordRun}. */
export async function clearRun(where: string | undefined): Promise<void> {
  if (where) await Deno.remove(where).catch(() => {});
}

/** End what recorded runs on `workspace` left, but a run of a live plugin; drop the records. */
export async function endRecordedRuns(workspace: string, log: Logger, graceMs: number) {
  const isPid = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 1;
  for (const where of await keptPlaces(workspace, RUN_FILE)) {
    let run: RunIdentity;
    try {
      run = JSON.parse((await readSmall(where)) ?? "");
      if (!isPid(run?.pid) || !isPid(run.plugin_pid) || typeof run.marker !== "string") continue;
    } catch {
      continue;
    }
    const fields = { workspace, plugin_pid: run.plugin_pid };
    const marked = /^PLEXUM_CODEX_RUN=[0-9a-f-]{36}$/.test(run.marker)
      ? (await listProcesses(run.marker)).filter((p) => p.marked)
      : [];
    if (marked.some((p) => p.ppid === run.plugin_pid && p.pid !== Deno.pid)) {
      log.warn("a codex of another plugin process is still running in this workspace", fields);
      continue;
    }
    if (marked.length > 0) {
      // The leader's group counts once the leader is seen with the marker (a pid may be reused).
      const verified = marked.some((p) => p.pid === run.pid && p.pgid === run.pid);
      await new ProcessTree(verified ? run.pid : undefined, run.marker).end(graceMs);
      log.warn("ended codex processes a plugin that died left running in this workspace", {
        ...fields,
        processes: marked.length,
      });
    }
    await clearRun(where);
  }
}

/**
 * The watchdog: `done` on stdin, the plugin ended the run; end of file
 * without it, the plugin died: what carries the marker (and the leader's
 * group) gets SIGTERM (and SIGCONT, for a stopped one), 2 s, SIGKILL. It holds
 * the marker under another name, and nothing else of the run: no environment
 * but PATH, none of codex's pipes.
 */
const WATCHDOG = `leader=$1
sweep() {
  # Without ps, the group alone (its leader cannot have been reaped and reused in these seconds).
  command -v ps >/dev/null 2>&1 || { kill -s "$1" -- "-$leader" 2>/dev/null; return; }
  for p in $(ps -e e -ww -o pid=,args= 2>/dev/null | awk 'index($0, "PLEXUM_CODEX_RUN=" ENVIRON["PLEXUM_WATCH_RUN"]) { print $1 }'); do
    [ "$p" = "$leader" ] && kill -s "$1" -- "-$leader" 2>/dev/null
    kill -s "$1" "$p" 2>/dev/null
  done
}
IFS= read -r line
[ "$line" = done ] && exit 0
sweep TERM
sweep CONT
sleep 2
sweep KILL
`;

/** How long a released watchdog gets to exit before SIGKILL. */
export const WATCHDOG_GRACE_MS = 1000;

/**
 * Start the run's watchdog; the function returned releases it (none without
 * `sh`). Release never waits on the watchdog for long: one that is stopped or
 * hangs gets SIGKILL after {@linkcode WATCHDOG_GRACE_MS}; one that died is
 * simply gone.
 */
export function startWatchdog(leader: number, marker: { value: string }): () => Promise<void> {
  let child: Deno.ChildProcess; // not in the plugin's group: a signal to that leaves it watching
  try {
    child = spawnInSession("/bin/sh", {
      args: ["-c", WATCHDOG, "plexum-codex-watchdog", String(leader)],
      clearEnv: true, // the plugin's environment (keys, tokens) is none of its business
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", PLEXUM_WATCH_RUN: marker.value },
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    });
  } catch {
    return () => Promise.resolve();
  }
  const w = child.stdin.getWriter();
  const signal = (sig: Deno.Signal) => {
    try {
      child.kill(sig);
    } catch { /* exited already */ }
  };
  let released: Promise<void> | undefined;
  return () =>
    released ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((r) => timer = setTimeout(r, WATCHDOG_GRACE_MS));
      // "done" fits the pipe's buffer, so the write does not wait on the reader; bounded anyway.
      const told = w.write(new TextEncoder().encode("done\n")).then(() => w.close());
      await Promise.race([told.catch(() => {}), late]); // a rejection: it exited already
      signal("SIGCONT"); // a stopped watchdog reads "done" once continued
      await Promise.race([child.status, late]);
      clearTimeout(timer);
      signal("SIGKILL"); // still there after the grace (a no-op once it exited)
      await child.status;
    })();
}
