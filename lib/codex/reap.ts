/**
 * Ending every process a Codex run started, not just its process group.
 *
 * Codex runs in its own session and process group (spawned with setsid), but
 * it starts some helpers with setsid too (e.g. the login shell that snapshots
 * the user's environment), and a group kill misses those: when Codex dies
 * they are re-parented to init and keep running in the workspace.
 *
 * {@linkcode ProcessTree} therefore lists processes with `ps` (the plugin may
 * not read /proc: Deno asks for --allow-all there) and takes as members: the
 * group's and the session's processes, every descendant of a member
 * (following parent links while they still exist), and every process of a
 * session a member leads (those survive their leader). Members are remembered
 * across scans, so helpers are still found after Codex has exited, and each
 * is signalled by pid. A helper started in a session of its own whose parent
 * has died keeps no link to Codex, so each run is also tagged with a marker in
 * its environment, which every process it starts inherits: a process carrying
 * it is a member wherever it went. Without `ps` it falls back to the group
 * kill alone.
 *
 * @example
 * ```ts
 * import { ProcessTree, runMarker } from "./reap.ts";
 * const { name, value, marker } = runMarker();
 * const child = new Deno.Command("codex", { env: { [name]: value }, detached: true }).spawn();
 * const tree = new ProcessTree(child.pid, marker);
 * await tree.signal("SIGTERM");            // group, session and helpers
 * await tree.signal("SIGKILL");
 * ```
 *
 * @module
 */
import { delay } from "../async.ts";

/** A live process, as {@linkcode listProcesses} sees it. */
export interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  /** Carries the run's marker in its environment. */
  marked: boolean;
}

/** Every live process (zombies left out); empty when `ps` is unavailable. */
export async function listProcesses(marker: string): Promise<Proc[]> {
  try {
    const out = await new Deno.Command("ps", {
      // `e` appends each process's environment (our own user's) after its arguments.
      args: ["-e", "e", "-ww", "-o", "pid=,ppid=,pgid=,sid=,stat=,args="],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
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
 * A fresh environment marker for one run: set `name` to `value` in the
 * environment of the process that {@linkcode ProcessTree} will watch.
 *
 * @example
 * ```ts
 * import { runMarker } from "./reap.ts";
 * const m = runMarker(); // { name: "PLEXUM_CODEX_RUN", value: "…", marker: "PLEXUM_CODEX_RUN=…" }
 * ```
 */
export function runMarker(): { name: string; value: string; marker: string } {
  const value = crypto.randomUUID();
  return { name: "PLEXUM_CODEX_RUN", value, marker: `PLEXUM_CODEX_RUN=${value}` };
}

/** The processes started by one group and session leader, found and signalled together. */
export class ProcessTree {
  /** Members seen so far: pid → session id. */
  #known = new Map<number, number>();

  /**
   * `leader`: the pid of a process spawned with setsid. `marker`: a
   * `NAME=value` unique to this run, set in its environment (see
   * {@linkcode runMarker}).
   */
  constructor(readonly leader: number, readonly marker: string) {}

  /** Scan now (while parent links still lead to members). Returns how many members are alive. */
  async refresh(): Promise<number> {
    const procs = await listProcesses(this.marker);
    const live = new Map(procs.map((p) => [p.pid, p]));
    for (const [pid, sid] of this.#known) {
      if (live.get(pid)?.sid !== sid) this.#known.delete(pid); // exited (or a reused pid)
    }
    const sessions = new Set([this.leader, ...this.#known.keys()]);
    for (let grew = true; grew;) {
      grew = false;
      for (const p of procs) {
        if (p.pid === Deno.pid || this.#known.has(p.pid)) continue;
        if (
          p.marked || p.pgid === this.leader || p.ppid === this.leader || sessions.has(p.sid) ||
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
   * Scan, then send `sig` to the group and to every member. With SIGKILL the
   * scan is repeated until no member is left (one may have started a child
   * between the scan and the kill), at most a few times. Resolves how many
   * members the first scan found alive.
   */
  async signal(sig: Deno.Signal): Promise<number> {
    let found = -1;
    for (let round = 0; round < 4; round++) {
      const members = await this.refresh();
      if (found < 0) found = members;
      try {
        Deno.kill(-this.leader, sig);
      } catch { /* group already gone */ }
      for (const pid of this.#known.keys()) {
        try {
          Deno.kill(pid, sig);
        } catch { /* exited meanwhile */ }
      }
      if (sig !== "SIGKILL" || members === 0) break;
    }
    return found;
  }

  /**
   * End every member: SIGTERM, up to `graceMs` for them to exit, then SIGKILL
   * for what is left. TERM first lets shells run their exit traps (pyenv's
   * rehash releases its lock there; a KILLed one leaves the lock behind and
   * every later login shell waits on it). One scan when nothing is left.
   */
  async end(graceMs: number): Promise<void> {
    if ((await this.signal("SIGTERM")) === 0 && !this.groupAlive()) return;
    const deadline = performance.now() + graceMs;
    while (performance.now() < deadline && (await this.refresh()) > 0) {
      await delay(5);
    }
    await this.signal("SIGKILL");
  }

  /** True while the leader's process group has a live member (probed, no `ps`). */
  groupAlive(): boolean {
    try {
      Deno.kill(-this.leader, "SIGCONT"); // does nothing to a running process
      return true;
    } catch {
      return false;
    }
  }
}

/** A run as {@linkcode ProcessTree} needs it again later: its leader, its marker, its plugin. */
export interface RunIdentity {
  /** The codex process (leader of its group and session). */
  pid: number;
  /** `PLEXUM_CODEX_RUN=…` (see {@linkcode runMarker}). */
  marker: string;
  /** The plugin process that started it. */
  plugin_pid: number;
}

/**
 * End what is left of a run whose plugin may have died: every process that
 * carries the run's marker (and the leader's group, once the leader is
 * verified by its marker: a pid alone may have been reused). A run still
 * attached to its live plugin (a marked process whose parent is that plugin)
 * is left alone. Resolves `"live"`, or how many processes were found.
 *
 * @example
 * ```ts
 * import { endLeftovers } from "./reap.ts";
 * const r = await endLeftovers({ pid: 1234, marker: "PLEXUM_CODEX_RUN=…", plugin_pid: 99 }, 2000);
 * ```
 */
export async function endLeftovers(run: RunIdentity, graceMs: number): Promise<"live" | number> {
  if (!/^PLEXUM_CODEX_RUN=[0-9a-f-]{36}$/.test(run.marker)) return 0;
  const marked = (await listProcesses(run.marker)).filter((p) => p.marked);
  if (marked.length === 0) return 0;
  if (marked.some((p) => p.ppid === run.plugin_pid && p.pid !== Deno.pid)) return "live";
  if (marked.some((p) => p.pid === run.pid && p.pgid === run.pid)) {
    await new ProcessTree(run.pid, run.marker).end(graceMs);
    return marked.length;
  }
  const signal = async (sig: Deno.Signal) => {
    const now = (await listProcesses(run.marker)).filter((p) => p.marked);
    for (const p of now) {
      try {
        Deno.kill(p.pid, sig);
      } catch { /* gone */ }
    }
    return now.length;
  };
  await signal("SIGTERM");
  const deadline = performance.now() + graceMs;
  while (performance.now() < deadline && (await signal("SIGCONT")) > 0) {
    await delay(20);
  }
  await signal("SIGKILL");
  return marked.length;
}

/**
 * The watchdog's script (`/bin/sh`): it waits on a pipe from the plugin. A
 * line `done` means the plugin ended the run itself; end of file without it
 * means the plugin died, and then it ends every process carrying the run's
 * marker (and the leader's group once the leader is seen with the marker):
 * SIGTERM, 2 s, SIGKILL. It carries the marker's value under another name,
 * so it never matches it itself. Without `ps` it signals the leader's group.
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
sleep 2
sweep KILL
`;

/** A running watchdog; see {@linkcode startWatchdog}. */
export interface Watchdog {
  /** The watchdog's pid (undefined when it could not be started). */
  pid: number | undefined;
  /** Tell it the run was ended by the plugin, and wait for it to exit. */
  release(): Promise<void>;
}

/**
 * Start a watchdog for the run led by `leader`, tagged with `marker` (see
 * {@linkcode runMarker}): a tiny `sh` in a session of its own holding a pipe
 * from the plugin. If the plugin dies (even by SIGKILL, which no handler
 * sees), the pipe closes and the watchdog ends the run's processes within
 * seconds, so a dead plugin never leaves Codex running (and holding its
 * thread). Without `sh` there is no watchdog; the run record
 * (lib/codex/run_record.ts) still lets the next turn clean up.
 *
 * @example
 * ```ts
 * import { runMarker, startWatchdog } from "./reap.ts";
 * const m = runMarker();
 * const child = new Deno.Command("codex", { env: { [m.name]: m.value }, detached: true }).spawn();
 * const dog = startWatchdog(child.pid, m);
 * // ... the run, then its end ...
 * await dog.release();
 * ```
 */
export function startWatchdog(leader: number, marker: { value: string }): Watchdog {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("/bin/sh", {
      args: ["-c", WATCHDOG, "plexum-codex-watchdog", String(leader)],
      env: { PLEXUM_WATCH_RUN: marker.value },
      stdin: "piped",
      stdout: "null",
      stderr: "null",
      detached: true, // not in the plugin's group: a signal to that group leaves it watching
    }).spawn();
  } catch {
    return { pid: undefined, release: () => Promise.resolve() };
  }
  const w = child.stdin.getWriter();
  let released: Promise<void> | undefined;
  return {
    pid: child.pid,
    release: () =>
      released ??= (async () => {
        try {
          await w.write(new TextEncoder().encode("done\n"));
          await w.close();
        } catch { /* it exited already */ }
        await child.status;
      })(),
  };
}
