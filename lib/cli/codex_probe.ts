/**
 * What doctor's checks share: the {@linkcode Check} each returns, and running
 * Codex without changing what doctor inspects. Every Codex command writes
 * into its `CODEX_HOME`, even `codex --version`, and doctor run as root used
 * to leave root-owned files in the service user's. So Codex runs against a
 * scratch `CODEX_HOME` (0700, removed afterwards) holding copies of
 * `config.toml`, and of `auth.json` only for `codex login status` (never for
 * an app-server, which could spend the real login's refresh token).
 *
 * @example
 * ```ts
 * import { ProbeHome, runCodex } from "./codex_probe.ts";
 * await using home = await ProbeHome.create("/home/plexum/.codex", { auth: true });
 * const r = await runCodex("codex", ["login", "status"], (k) => Deno.env.get(k), home);
 * ```
 *
 * @module
 */
import { type Env, launchEnv } from "../codex/launch_env.ts";

/** One line of doctor's output. */
export interface Check {
  ok: boolean;
  name: string;
  detail: string;
}

/** A {@linkcode Check}, in the order it reads. */
export const check = (name: string, ok: boolean, detail: string): Check => ({ ok, name, detail });

/** A scratch `CODEX_HOME` with copies of the real one's config (and login). */
export class ProbeHome implements AsyncDisposable {
  private constructor(readonly path: string) {}

  /** One from `real` (the real `CODEX_HOME`; undefined: an empty one); `auth`: copy the login. */
  static async create(real: string | undefined, o: { auth?: boolean } = {}): Promise<ProbeHome> {
    const path = await Deno.makeTempDir({ prefix: "plexum-doctor-codex-home-" });
    await Deno.chmod(path, 0o700);
    for (const name of real === undefined ? [] : ["config.toml", ...o.auth ? ["auth.json"] : []]) {
      try {
        await Deno.copyFile(`${real}/${name}`, `${path}/${name}`);
        await Deno.chmod(`${path}/${name}`, 0o600);
      } catch { /* absent or unreadable: Codex sees what it would see without it */ }
    }
    return new ProbeHome(path);
  }

  /** Run `fn` with this process's `CODEX_HOME` here, so every Codex it starts inherits it. */
  async with<T>(fn: () => Promise<T>): Promise<T> {
    const before = Deno.env.get("CODEX_HOME");
    Deno.env.set("CODEX_HOME", this.path);
    try {
      return await fn();
    } finally {
      if (before === undefined) Deno.env.delete("CODEX_HOME");
      else Deno.env.set("CODEX_HOME", before);
    }
  }

  async [Symbol.asyncDispose]() {
    await Deno.remove(this.path, { recursive: true }).catch(() => {});
  }
}

/**
 * Run codex as a turn does (PATH addition, API key hand-off, decided on the
 * real environment `env`) against `home`, for 30 s at most: its exit code,
 * stdout, and `text`: stdout then stderr without Codex's `WARNING:` lines.
 */
export async function runCodex(
  bin: string,
  args: string[],
  env: Env,
  home: ProbeHome,
): Promise<{ code: number; stdout: string; text: string }> {
  try {
    const o = await new Deno.Command(bin, {
      args,
      env: { ...launchEnv(bin, env), CODEX_HOME: home.path },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(o.stdout);
    const text = (stdout + "\n" + dec.decode(o.stderr)).split("\n").map((l) => l.trim())
      .filter((l) => l && !l.startsWith("WARNING:")).join("\n");
    return o.signal
      ? { code: -1, stdout, text: `killed by ${o.signal}` }
      : { code: o.code, stdout, text };
  } catch (e) {
    return { code: -1, stdout: "", text: (e as Error).message };
  }
}

/** `s` on one line, at most `max` characters. */
export const oneLine = (s: string, max = 200): string =>
  s.replace(/\s+/g, " ").trim().slice(0, max);
