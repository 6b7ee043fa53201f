/**
 * Running Codex for `doctor` without changing what doctor inspects. Every
 * Codex command writes into its `CODEX_HOME`, even `codex --version` (helper
 * links under `tmp/arg0-linux/`); an app-server adds SQLite databases,
 * `installation_id`, `skills/`. Run as root against the service user's home,
 * doctor used to leave root-owned files in the real `CODEX_HOME`. So Codex
 * runs against a scratch `CODEX_HOME` (0700, in `TMPDIR`, removed afterwards)
 * holding copies of what the probe reads: `config.toml` always, `auth.json`
 * only for `codex login status` (never for an app-server, which could refresh
 * a ChatGPT token in the copy and so spend the real one's refresh token).
 *
 * @example
 * ```ts
 * import { ProbeHome, runCodex } from "./codex_probe.ts";
 * await using home = await ProbeHome.create("/home/plexum/.codex", { auth: true });
 * const r = await runCodex("/usr/local/bin/codex", ["login", "status"], (k) => Deno.env.get(k), home);
 * ```
 *
 * @module
 */
import { type Env, launchEnv } from "../codex/launch_env.ts";

const RUN_TIMEOUT_MS = 30_000;

/** Options of {@linkcode ProbeHome.create}. */
export interface ProbeHomeOptions {
  /** Copy `auth.json` too (for `codex login status` only). */
  auth?: boolean;
}

/** A scratch `CODEX_HOME` with copies of the real one's config (and login). */
export class ProbeHome implements AsyncDisposable {
  private constructor(readonly path: string) {}

  /** Make one from `real` (the real `CODEX_HOME`; undefined: an empty one). */
  static async create(real: string | undefined, o: ProbeHomeOptions = {}): Promise<ProbeHome> {
    const path = await Deno.makeTempDir({ prefix: "plexum-doctor-codex-home-" });
    await Deno.chmod(path, 0o700);
    const names = o.auth ? ["config.toml", "auth.json"] : ["config.toml"];
    for (const name of names) {
      if (real === undefined) break;
      try {
        await Deno.copyFile(`${real}/${name}`, `${path}/${name}`);
        await Deno.chmod(`${path}/${name}`, 0o600);
      } catch { /* absent or unreadable: Codex sees what it would see without it */ }
    }
    return new ProbeHome(path);
  }

  /**
   * Run `fn` with `CODEX_HOME` pointing here in this process's environment,
   * so every Codex it starts (the app-server probe too) inherits it.
   */
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

/** What one Codex command printed. */
export interface Ran {
  code: number;
  stdout: string;
  /** stdout then stderr, without Codex's `WARNING:` lines. */
  text: string;
}

/**
 * Run codex the way a turn does (same PATH addition, same API key hand-off,
 * decided on the real environment `env`), against `home`, with a time limit.
 */
export async function runCodex(
  bin: string,
  args: string[],
  env: Env,
  home: ProbeHome,
): Promise<Ran> {
  try {
    const o = await new Deno.Command(bin, {
      args,
      env: { ...launchEnv(bin, env), CODEX_HOME: home.path },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
    }).output();
    const dec = new TextDecoder();
    const stdout = dec.decode(o.stdout);
    const text = (stdout + "\n" + dec.decode(o.stderr)).split("\n").map((l) => l.trim())
      .filter((l) => l && !l.startsWith("WARNING:")).join("\n");
    return {
      code: o.signal ? -1 : o.code,
      stdout,
      text: o.signal ? `killed by ${o.signal}` : text,
    };
  } catch (e) {
    return { code: -1, stdout: "", text: (e as Error).message };
  }
}

/** `s` on one line, at most `max` characters. */
export const oneLine = (s: string, max = 200): string =>
  s.replace(/\s+/g, " ").trim().slice(0, max);
