/**
 * `deno task compile:all`: standalone Linux x86_64 and aarch64 builds in
 * `dist/`, with exactly the flags of deno.json's `compile:raw` task (one
 * source of truth for the permissions), and a SHA-256 line per build.
 *
 * `deno compile` needs Deno's runtime for each target (`denort-TARGET.zip`),
 * which it downloads on first use and caches in `DENO_DIR/dl/`. Where that
 * download is impossible (no network) this script says so, and how to supply
 * the runtime, instead of leaving a bare stack trace.
 *
 * Needs only `--allow-run --allow-read` (deno compile creates `dist/` itself).
 *
 * @example
 * ```sh
 * deno task compile:all
 * # dist/plexum-openai-provider-plugin-x86_64-unknown-linux-gnu
 * # dist/plexum-openai-provider-plugin-aarch64-unknown-linux-gnu
 * ```
 *
 * @module
 */

/** The Linux targets built, as `deno compile --target` names them. */
export const TARGETS = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] as const;

const root = new URL("../", import.meta.url).pathname;

/**
 * The compile task split into the options it passes to `deno compile` (output
 * excluded), the output name and the entry point.
 *
 * @example
 * ```ts
 * compileTask("deno compile --allow-read -o app main.ts");
 * // { flags: ["--allow-read"], output: "app", entry: "main.ts" }
 * ```
 */
export function compileTask(task: string): { flags: string[]; output: string; entry: string } {
  const words = task.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "compile" || words.length < 3) {
    throw new Error(`the compile task is not "deno compile ...": ${task}`);
  }
  const rest = words.slice(2);
  const entry = rest.pop()!;
  const flags: string[] = [];
  let output: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i];
    if (w === "-o" || w === "--output") output = rest[++i];
    else if (w.startsWith("--output=")) output = w.slice("--output=".length);
    else if (w === "--target" || w.startsWith("--target=")) {
      throw new Error("the compile task must not pin --target: compile:all sets it");
    } else flags.push(w);
  }
  if (!output) throw new Error(`the compile task has no -o/--output: ${task}`);
  return { flags, output, entry };
}

/**
 * The `deno compile` line of deno.json in this checkout: the `compile:raw`
 * task, the one place the plugin's permissions are written (`compile` runs it
 * through scripts/compile.ts).
 */
export function readCompileTask(): { flags: string[]; output: string; entry: string } {
  const deno = JSON.parse(Deno.readTextFileSync(`${root}deno.json`));
  return compileTask(deno.tasks["compile:raw"]);
}

const dec = new TextDecoder();

async function denoDir(): Promise<string> {
  try {
    const o = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output();
    return JSON.parse(dec.decode(o.stdout)).denoDir ?? "DENO_DIR";
  } catch {
    return "DENO_DIR";
  }
}

/**
 * Run `deno compile` (`args` after `deno`), its stdout passed through. Its
 * stderr is echoed once it has ended, unless the failure is the runtime
 * download (see {@linkcode runtimeDownloadFailed}): that gets
 * {@linkcode runtimeHelp} instead of a DNS error with a stack trace.
 */
export async function compile(args: string[], target: string): Promise<boolean> {
  const o = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const stderr = dec.decode(o.stderr);
  if (!o.success && runtimeDownloadFailed(stderr)) {
    console.error(await runtimeHelp(target, stderr));
  } else await Deno.stderr.write(o.stderr);
  return o.success;
}

/** True when `deno compile` failed fetching Deno's runtime (denort) from dl.deno.land. */
export function runtimeDownloadFailed(stderr: string): boolean {
  return /denort|dl\.deno\.land/.test(stderr) && /download|request|dns|connect/i.test(stderr);
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What to do when the runtime cannot be downloaded; `stderr` gives the cause's last line. */
export async function runtimeHelp(target: string, stderr = ""): Promise<string> {
  const v = Deno.version.deno;
  const zip = `denort-${target}.zip`;
  // The innermost "N: ..." line of deno's "Caused by" list, without the stack trace.
  const causes = [...stderr.matchAll(/^\s*\d+: (.+)$/gm)].map((m) => m[1]);
  const cause = causes.length ? ` (${causes[causes.length - 1].slice(0, 200)})` : "";
  return `
deno compile could not download Deno's runtime for ${target} (${zip})${cause}.
It fetches it from dl.deno.land on first use, which this machine cannot reach.
To build here, supply the runtime of Deno ${v} yourself, then run the task again:
  - copy ${zip} of Deno ${v} (from a machine with network, or the Deno release
    downloads) to ${await denoDir()}/dl/release/v${v}/${zip}
  - or set DENORT_BIN to an unzipped denort binary of Deno ${v} for this machine and
    build with deno task compile (DENORT_BIN is used for every --target).
Or build on a machine with network access; deno task compile and compile:all have the same need.
`;
}

if (import.meta.main) {
  const { flags, output, entry } = readCompileTask();
  const version = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).version;
  const name = output.split("/").pop()!;
  const built: string[] = [];
  for (const target of TARGETS) {
    const out = `dist/${name}-${target}`;
    console.error(`compile:all: ${target} -> ${out} (${flags.join(" ")})`);
    if (!await compile(["compile", ...flags, "--target", target, "-o", out, entry], target)) {
      console.error(`compile:all: deno compile failed for ${target}`);
      Deno.exit(1);
    }
    if (target === Deno.build.target) {
      // The native build must start and report the version it embeds.
      const o = await new Deno.Command(`${root}${out}`, { args: ["--version"], stdin: "null" })
        .output().catch((e) => ({ success: false, stdout: new TextEncoder().encode(String(e)) }));
      const said = dec.decode(o.stdout).trim();
      if (!o.success || said !== version) {
        console.error(`compile:all: ${out} --version said ${JSON.stringify(said)}, not ${version}`);
        Deno.exit(1);
      }
    }
    built.push(out);
  }
  for (const out of built) console.log(`${await sha256(`${root}${out}`)}  ${out}`);
}
