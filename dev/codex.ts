/**
 * The real Codex CLI for end-to-end tests: `@openai/codex@VERSION` installed
 * from npm into `.tools/codex-VERSION/` on first use (CI starts without it).
 *
 * @example
 * ```ts
 * const bin = await ensureCodex("0.169.0");
 * ```
 */
import { hermetic } from "./hermetic.ts";

/**
 * Versions the end-to-end suite runs against: 0.169.0 (the one most tests
 * use), 0.135.0 (the oldest supported) and 0.171.0 (the newest release).
 */
export const CODEX_VERSIONS = ["0.169.0", "0.135.0", "0.171.0"] as const;
/** The version most tests use. */
export const CODEX_VERSION = CODEX_VERSIONS[0];

const root = new URL("../", import.meta.url).pathname;

/**
 * Absolute path of the codex binary of `version`, installing it if needed.
 * The install goes to a temp dir beside `.tools/codex-VERSION` and is renamed
 * into place, so test files that run in parallel and all find it missing
 * never see (or run) a half-installed one: the first rename wins, the others
 * drop their copy.
 */
export async function ensureCodex(version: string = CODEX_VERSION): Promise<string> {
  const prefix = `${root}.tools/codex-${version}`;
  const bin = `${prefix}/node_modules/.bin/codex`;
  if (await exists(bin)) return bin;
  await Deno.mkdir(`${root}.tools`, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: `${root}.tools`, prefix: `codex-${version}.tmp-` });
  try {
    const npm = await new Deno.Command("npm", {
      args: [
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--prefix",
        tmp,
        `@openai/codex@${version}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!npm.success) {
      throw new Error(
        `npm install @openai/codex@${version} failed:\n${new TextDecoder().decode(npm.stderr)}`,
      );
    }
    await Deno.chmod(tmp, 0o755); // makeTempDir's 0700 would hide it from other users
    try {
      await Deno.rename(tmp, prefix);
    } catch (e) {
      if (await exists(bin)) return bin; // another install won the race
      throw new Error(`${prefix} exists without ${bin} (a half-done install?): remove it`, {
        cause: e,
      });
    }
    return bin;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Log `codexHome` in with an API key, the offline way (`codex login
 * --with-api-key`, the key on stdin); throws with codex's stderr on failure.
 *
 * @example
 * ```ts
 * await loginWithApiKey(await ensureCodex(), codexHome, "sk-test-key");
 * ```
 */
export async function loginWithApiKey(bin: string, codexHome: string, key: string): Promise<void> {
  using h = hermetic(); // an empty HOME; CODEX_HOME is the caller's
  const child = new Deno.Command(bin, {
    args: ["login", "--with-api-key"],
    clearEnv: true,
    env: h.env({ CODEX_HOME: codexHome }),
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(key + "\n"));
  await w.close();
  const o = await child.output();
  if (!o.success) {
    throw new Error(`codex login --with-api-key failed: ${new TextDecoder().decode(o.stderr)}`);
  }
}
