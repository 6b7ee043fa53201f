/**
 * The backends and Codex releases the end-to-end tests run on, and the config
 * that selects a backend. Each such test pins its backend itself, whatever
 * `PLEXUM_TEST_BACKEND` says.
 *
 * Which releases a case runs on depends on what it pins:
 * - {@linkcode NEUTRAL_VERSIONS} (0.169.0): the plugin's own behaviour, the same
 *   whatever Codex's release (history decisions, timeouts, cancel, logging);
 * - {@linkcode EDGE_VERSIONS} (0.135.0 and 0.171.0, the oldest and the newest
 *   supported): what Codex's release can change (its wire, its flags, how it
 *   reports a missing thread, reasoning and images); the recorded fixtures of
 *   every release pin the mapping in process;
 * - a case about one release's own behaviour (0.169's thread locks, 0.135's
 *   missing writer lock) names its releases itself.
 *
 * `PLEXUM_TEST_EVERY_VERSION=1` runs every case on every release of
 * dev/codex.ts (`CODEX_VERSIONS`); `APP_SERVER_VERSIONS=0.172.0` (a
 * comma-separated list, tests/support/app_server.ts) runs every case on
 * those releases instead, e.g. to try a new one.
 *
 * @example
 * ```ts
 * import { BACKENDS, backendConfig, EDGE_VERSIONS } from "./backends.ts";
 * for (const b of BACKENDS) {
 *   for (const v of EDGE_VERSIONS) console.log(v, { ...backendConfig(b), emit_reasoning: true });
 * }
 * ```
 *
 * @module
 */
import { CODEX_VERSIONS } from "../../dev/codex.ts";

/** A backend a test can ask for. */
export type TestBackendName = "exec" | "app-server";

/** Every backend these tests cover. */
export const BACKENDS: readonly TestBackendName[] = ["exec", "app-server"];

/** The config keys that select `backend`. */
export function backendConfig(backend: TestBackendName): { backend: TestBackendName } {
  return { backend };
}

/** The releases every case runs on when the run says so (see the module doc), else undefined. */
function chosen(): readonly string[] | undefined {
  const list = Deno.env.get("APP_SERVER_VERSIONS")?.split(",").filter(Boolean);
  if (list?.length) return list;
  return Deno.env.get("PLEXUM_TEST_EVERY_VERSION") === "1" ? CODEX_VERSIONS : undefined;
}

/** The release a version-neutral case runs on. */
export const NEUTRAL_VERSIONS: readonly string[] = chosen() ?? ["0.169.0"];

/** The oldest and the newest supported release: where Codex's release can change the outcome. */
export const EDGE_VERSIONS: readonly string[] = chosen() ?? ["0.135.0", "0.171.0"];
