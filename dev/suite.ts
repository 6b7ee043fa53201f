/**
 * How the test suite is scheduled: which files run in parallel, which one at
 * a time, and which the exec pass of CI runs. `deno task test` and
 * `deno task test:exec` run this file.
 *
 * - Test files run in parallel (`deno test --parallel`, as many at once as
 *   `DENO_JOBS`, default twice the number of cores) in one process: they share its
 *   environment and working directory. A file that changes either is listed in
 *   {@linkcode SERIAL} and runs after the others, alone. (Setting a variable
 *   whose name only that file uses, `PLEXUM_*_TEST_*`, is harmless and needs
 *   no listing; tests/suite_test.ts checks both rules.)
 * - {@linkcode BACKEND_DEPENDENT}: the files that start a plugin without
 *   pinning its `backend`, so that `PLEXUM_TEST_BACKEND` (dev/plugin.ts)
 *   decides it. Only they run in the exec pass (`--exec-pass`, with
 *   `PLEXUM_TEST_BACKEND=exec`); every other file pins its backend in each case
 *   or starts none, and the first pass covers it. dev/plugin.ts refuses to
 *   leave the backend to the run in a file not listed here, and
 *   tests/suite_test.ts checks that every file starting the plugin is listed
 *   here or in {@linkcode BACKEND_INDEPENDENT}.
 *
 * @example
 * ```sh
 * deno run --allow-all dev/suite.ts               # every test but the load test
 * deno run --allow-all dev/suite.ts --exec-pass   # the backend-dependent files on exec
 * deno run --allow-all dev/suite.ts --filter history   # extra flags go to deno test
 * ```
 *
 * @module
 */

/** Files that change the process's environment or cwd: run alone, after the parallel ones. */
export const SERIAL: readonly string[] = [
  // CODEX_API_KEY, which every in-process backend of a file running beside it would read.
  "tests/app_server_env_key_test.ts",
  // PATH, with a `ps` that stops itself first on it.
  "tests/reap_ps_test.ts",
];

/** Files whose outcome the run's backend decides (see the module doc): the exec pass runs them. */
export const BACKEND_DEPENDENT: readonly string[] = [
  "tests/auth_test.ts",
  "tests/cli_test.ts",
  "tests/compat_test.ts",
  "tests/concurrency_test.ts",
  "tests/config_file_test.ts",
  "tests/doctor_test.ts",
  "tests/e2e_test.ts",
  "tests/faults_test.ts",
  "tests/lifecycle_test.ts",
  "tests/locate_test.ts",
  "tests/log_test.ts",
  "tests/mock_task_test.ts",
  "tests/permissions_test.ts",
  "tests/protocol_test.ts",
  "tests/security_test.ts",
];

/**
 * Files that import dev/plugin.ts but whose outcome no run's backend decides:
 * each case pins `backend`, or starts no plugin.
 */
export const BACKEND_INDEPENDENT: readonly string[] = [
  "tests/app_server_e2e_load_test.ts",
  "tests/app_server_e2e_process_test.ts",
  "tests/app_server_e2e_test.ts",
  "tests/app_server_fork_test.ts",
  "tests/app_server_smoke_test.ts",
  "tests/cli_backend_test.ts",
  "tests/exec_helpers_test.ts",
  "tests/hardening_output_test.ts",
  "tests/hardening_process_test.ts",
  "tests/hardening_protocol_test.ts",
  "tests/hardening_usage_test.ts",
  "tests/hermetic_test.ts",
  "tests/history_test.ts",
  "tests/images_test.ts",
  "tests/isolation_kill_test.ts",
  "tests/logs_test.ts",
  "tests/malformed_prompt_test.ts",
  "tests/rate_limit_test.ts",
  "tests/reasoning_test.ts",
  "tests/retry_timeout_test.ts",
  "tests/sandbox_e2e_test.ts",
  "tests/schema_test.ts",
  "tests/steer_e2e_test.ts",
  "tests/turn_options_e2e_test.ts",
];

/** Left out of `deno task test`: CI runs it with a bounded count (`deno task test:load`). */
export const LOAD: readonly string[] = ["tests/load_test.ts"];

const root = new URL("../", import.meta.url).pathname;

/** Every test file, repository-relative (`tests/x_test.ts`), sorted. */
export function testFiles(): string[] {
  return [...Deno.readDirSync(`${root}tests`)]
    .filter((e) => e.isFile && e.name.endsWith("_test.ts"))
    .map((e) => `tests/${e.name}`)
    .sort();
}

/** The repository-relative test file (`tests/x_test.ts`) on the current call stack, if any. */
export function callingTestFile(): string | undefined {
  const stack = new Error().stack ?? "";
  const m = stack.match(new RegExp(`${escape(`file://${root}`)}(tests/[^/:]+_test\\.ts):`));
  return m?.[1];
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function run(args: string[], env: Record<string, string>): Promise<boolean> {
  console.error(`\n$ deno ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env,
    stdin: "null",
  }).spawn().status;
  return status.success;
}

if (import.meta.main) {
  const exec = Deno.args.includes("--exec-pass");
  const extra = Deno.args.filter((a) => a !== "--exec-pass");
  const chosen = exec ? BACKEND_DEPENDENT : testFiles().filter((f) => !LOAD.includes(f));
  const env: Record<string, string> = exec ? { PLEXUM_TEST_BACKEND: "exec" } : {};
  // Twice the cores: an end-to-end test spends most of its time waiting for Codex (six files
  // took 49-52 s at 4 jobs, 67-77 s at 2, on 2 busy cores).
  if (!Deno.env.get("DENO_JOBS")) env.DENO_JOBS = String(2 * navigator.hardwareConcurrency);
  const serial = chosen.filter((f) => SERIAL.includes(f));
  const parallel = chosen.filter((f) => !SERIAL.includes(f));
  const flags = ["test", "--allow-all", "--no-prompt", ...extra];
  // All of tests/ but what runs apart, named as a directory: a shorter command line to read.
  const files = exec ? parallel : [`--ignore=${[...SERIAL, ...LOAD].join(",")}`, "tests/"];
  const started = performance.now();
  let ok = true;
  if (parallel.length) ok = await run([...flags, "--parallel", ...files], env) && ok;
  if (serial.length) ok = await run([...flags, ...serial], env) && ok;
  const s = Math.round((performance.now() - started) / 1000);
  const took = `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  const what = `${parallel.length} files in parallel, ${serial.length} alone`;
  console.error(`\n${ok ? "ok" : "FAILED"}: ${what}, ${took}${exec ? " (exec pass)" : ""}`);
  Deno.exit(ok ? 0 : 1);
}
