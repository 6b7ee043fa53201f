/**
 * What the app-server end-to-end tests share: the releases they run on, a
 * rig plugin pinned to a backend and a release, and `/proc` probes for the
 * one long-lived `codex app-server` a plugin keeps.
 *
 * @example
 * ```ts
 * await using rig = await startRig([{ text: "hi" }]);
 * const p = await pluginOn(rig, "0.169.0", "app-server");
 * await chat(p, await rig.workspace(), "hello");
 * appServers(p.child.pid).length; // 1 or 2 (npm's node wrapper and the native binary)
 * ```
 *
 * @module
 */
import { ensureCodex } from "../../dev/codex.ts";
import type { Plugin } from "../../dev/plugin.ts";
import { descendants, pidsInDir, type Stat } from "./proc.ts";
import type { Rig } from "./rig.ts";

/**
 * The releases the app-server tests run on: the oldest supported, the one
 * most tests use and the newest release, or the comma-separated list in
 * `APP_SERVER_VERSIONS` (e.g. to try a new release; it is installed from npm).
 */
export const APP_SERVER_VERSIONS: readonly string[] =
  Deno.env.get("APP_SERVER_VERSIONS")?.split(",").filter(Boolean) ??
    ["0.135.0", "0.169.0", "0.171.0"];

/** A plugin of `rig` running codex `version` on `backend` (config merged over that). */
export async function pluginOn(
  rig: Rig,
  version: string,
  backend: "exec" | "app-server" | "auto",
  config: Record<string, unknown> = {},
): Promise<Plugin> {
  return await rig.plugin({ binary: await ensureCodex(version), backend, ...config });
}

/** argv of a live process; [] when it is gone. */
export function cmdline(pid: number): string[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * Live descendants of `pid` running `codex app-server`: npm's node wrapper and
 * the native binary. A fork of the app-server that has not exec'd its command
 * yet shares its argv; it is not counted.
 */
export function appServers(pid: number): Stat[] {
  return descendants(pid).filter((s) => {
    const argv = cmdline(s.pid);
    return argv.includes("app-server") &&
      cmdline(s.ppid).join("\0") !== argv.join("\0");
  });
}

/** Live descendants of `pid` whose argv has `exec` right after the binary (exec turns). */
export function execRuns(pid: number): Stat[] {
  return descendants(pid).filter((s) => cmdline(s.pid).includes("exec"));
}

/** Sleep `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `cond()` holds; fail naming `what` after `timeoutMs`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/**
 * Codex processes working for a plugin's turns, whichever backend runs them:
 * those whose cwd is `ws` (`codex exec`, and the commands of either backend)
 * and the plugin's app-server. On exec this is exactly `pidsInDir(ws)`.
 */
export function codexPids(pluginPid: number, ws: string): number[] {
  return [...new Set([...pidsInDir(ws), ...appServers(pluginPid).map((s) => s.pid)])];
}

/**
 * The plugin's live descendants other than its app-server: what its turns
 * left behind. On exec this is exactly `descendants(pid)`.
 */
export function leftBehind(pid: number): Stat[] {
  const servers = new Set(appServers(pid).map((s) => s.pid));
  return descendants(pid).filter((s) => !servers.has(s.pid));
}
