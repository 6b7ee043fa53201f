/**
 * The record of a running `codex exec`, so that what a dead plugin left
 * running is found and ended by the next turn on the workspace, in any plugin
 * process. A plugin killed hard (SIGKILL, OOM) cannot end its Codex: the
 * watchdog (lib/codex/exec/process.ts) normally does within seconds, and this
 * record covers a watchdog that died too. A Codex left running keeps its
 * thread ("already has an active writer"), so every later turn would fail.
 *
 * `<workspace>/.plexum-codex-run` (or the state file `run-<hash>.json`,
 * lib/codex/state_dir.ts, when the workspace cannot be written) holds the
 * run's leader pid, its environment marker and the plugin's pid, from the
 * start of the run until it has ended. A turn, holding the workspace lock,
 * ends the processes carrying a recorded marker unless their plugin is still
 * alive and their parent (lib/codex/reap.ts, {@linkcode endLeftovers}); pids
 * alone are never trusted.
 *
 * @example
 * ```ts
 * import { clearRun, endRecordedRuns, recordRun } from "./run_record.ts";
 * import { runMarker } from "./reap.ts";
 * import { createLogger } from "../log.ts";
 * await endRecordedRuns("/w", createLogger(), 2000);
 * const m = runMarker();
 * const child = new Deno.Command("codex", { env: { [m.name]: m.value }, detached: true }).spawn();
 * const where = await recordRun("/w", { pid: child.pid, marker: m.marker, plugin_pid: Deno.pid });
 * await child.status;
 * await clearRun(where);
 * ```
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { endLeftovers, type RunIdentity } from "./reap.ts";
import { readSmall, writeAtomic } from "./small_file.ts";
import { ensureStateDir, stateFile } from "./state_dir.ts";

/** File name of the run record inside the workspace. */
export const RUN_FILE = ".plexum-codex-run";

const isPid = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 1;

function parse(text: string | undefined): RunIdentity | undefined {
  try {
    const v = JSON.parse(text ?? "");
    if (isPid(v?.pid) && isPid(v.plugin_pid) && typeof v.marker === "string") {
      return { pid: v.pid, marker: v.marker, plugin_pid: v.plugin_pid };
    }
  } catch { /* not a record */ }
  return undefined;
}

/** Record `run`; resolves where (undefined when nowhere could be written). */
export async function recordRun(workspace: string, run: RunIdentity): Promise<string | undefined> {
  const text = JSON.stringify(run) + "\n";
  const inWorkspace = `${workspace}/${RUN_FILE}`;
  try {
    await writeAtomic(inWorkspace, text);
    return inWorkspace;
  } catch { /* read-only workspace: the state directory */ }
  try {
    const file = await stateFile(workspace, "run");
    if (!file) return undefined;
    await ensureStateDir(file);
    await writeAtomic(file, text);
    return file;
  } catch {
    return undefined;
  }
}

/** Remove a record written by {@linkcode recordRun}. */
export async function clearRun(where: string | undefined): Promise<void> {
  if (where) await Deno.remove(where).catch(() => {});
}

/**
 * End what recorded runs on `workspace` left running (see the module doc),
 * and drop their records; a run of a live plugin is left alone, with a warning.
 */
export async function endRecordedRuns(
  workspace: string,
  log: Logger,
  graceMs: number,
): Promise<void> {
  const places = [`${workspace}/${RUN_FILE}`, await stateFile(workspace, "run")];
  for (const where of places) {
    if (!where) continue;
    const run = parse(await readSmall(where));
    if (!run) continue;
    const r = await endLeftovers(run, graceMs);
    if (r === "live") {
      log.warn("a codex of another plugin process is still running in this workspace", {
        workspace,
        plugin_pid: run.plugin_pid,
      });
      continue;
    }
    if (r > 0) {
      log.warn("ended codex processes a plugin that died left running in this workspace", {
        workspace,
        processes: r,
        plugin_pid: run.plugin_pid,
      });
    }
    await clearRun(where);
  }
}
