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
 * is signalled by pid. Without `ps` it falls back to the group kill alone.
 *
 * @example
 * ```ts
 * const tree = new ProcessTree(child.pid); // child spawned with detached: true
 * await tree.signal("SIGTERM");            // group, session and helpers
 * await tree.signal("SIGKILL");
 * ```
 */

interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
}

/** Every live process (zombies left out); empty when `ps` is unavailable. */
async function listProcesses(): Promise<Proc[]> {
  try {
    const out = await new Deno.Command("ps", {
      args: ["-e", "-o", "pid=,ppid=,pgid=,sid=,stat="],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return [];
    const procs: Proc[] = [];
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const [pid, ppid, pgid, sid, stat] = line.trim().split(/\s+/);
      if (!stat || stat.startsWith("Z")) continue;
      procs.push({ pid: +pid, ppid: +ppid, pgid: +pgid, sid: +sid });
    }
    return procs;
  } catch {
    return [];
  }
}

/** The processes started by one group and session leader, found and signalled together. */
export class ProcessTree {
  /** Members seen so far: pid → session id. */
  #known = new Map<number, number>();

  constructor(readonly leader: number) {}

  /** Scan now (while parent links still lead to members). Returns how many members are alive. */
  async refresh(): Promise<number> {
    const procs = await listProcesses();
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
          p.pgid === this.leader || p.ppid === this.leader || sessions.has(p.sid) ||
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
   * between the scan and the kill), at most a few times.
   */
  async signal(sig: Deno.Signal): Promise<void> {
    for (let round = 0; round < 4; round++) {
      const members = await this.refresh();
      try {
        Deno.kill(-this.leader, sig);
      } catch { /* group already gone */ }
      for (const pid of this.#known.keys()) {
        try {
          Deno.kill(pid, sig);
        } catch { /* exited meanwhile */ }
      }
      if (sig !== "SIGKILL" || members === 0) return;
    }
  }
}
