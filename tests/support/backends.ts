/**
 * The backends the end-to-end tests of issue 12 (history, images, reasoning,
 * usage limits) run on, and the config that selects one. Each such test
 * pins its backend itself, whatever `PLEXUM_TEST_BACKEND` says.
 *
 * @example
 * ```ts
 * import { BACKENDS, backendConfig } from "./backends.ts";
 * for (const b of BACKENDS) console.log({ ...backendConfig(b), emit_reasoning: true });
 * ```
 *
 * @module
 */
/** A backend a test can ask for. */
export type TestBackendName = "exec" | "app-server";

/** Every backend these tests cover. */
export const BACKENDS: readonly TestBackendName[] = ["exec", "app-server"];

/** The config keys that select `backend`. */
export function backendConfig(backend: TestBackendName): { backend: TestBackendName } {
  return { backend };
}
