/**
 * `doctor`: checks what a turn needs and prints one line per check, with a
 * remedy where one fails. Exit code 0 only when a turn can run.
 *
 * @example
 * ```ts
 * Deno.exit(await doctor(config, { workspace: "/srv/agent" }));
 * ```
 */
import type { Config } from "./config.ts";
import { locateBinary } from "./locate.ts";
import { readThreadId, SESSION_FILE } from "./session.ts";

/** Oldest Codex CLI this plugin supports. */
export const MIN_CODEX_VERSION = "0.135.0";

/** One check's outcome. */
export interface Check {
  ok: boolean;
  name: string;
  detail: string;
}

/** Compare dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  }
  return 0;
}

async function run(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const o = await new Deno.Command(bin, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { code: o.code, out: (dec.decode(o.stdout) + dec.decode(o.stderr)).trim() };
  } catch (e) {
    return { code: -1, out: (e as Error).message };
  }
}

/** Run every check; `workspace` adds the workspace checks. */
export async function checks(config: Config, opts: { workspace?: string }): Promise<Check[]> {
  const out: Check[] = [];
  const found = locateBinary(config.binary);
  if (found.error !== undefined) {
    out.push({ ok: false, name: "codex binary", detail: found.error });
  } else {
    out.push({
      ok: true,
      name: "codex binary",
      detail: `${found.path} (found via ${
        found.via === "path"
          ? "PATH"
          : found.via === "explicit"
          ? "config"
          : "fallback search outside PATH; set binary to it"
      })`,
    });
    const v = await run(found.path, ["--version"]);
    const version = v.out.match(/(\d+\.\d+\.\d+)/)?.[1];
    if (v.code !== 0 || !version) {
      out.push({
        ok: false,
        name: "codex version",
        detail: `\`${found.path} --version\` failed: ${
          v.out.slice(0, 200)
        }. Reinstall: npm install -g @openai/codex`,
      });
    } else if (compareVersions(version, MIN_CODEX_VERSION) < 0) {
      out.push({
        ok: false,
        name: "codex version",
        detail:
          `${version} is older than ${MIN_CODEX_VERSION}. Upgrade: npm install -g @openai/codex@latest`,
      });
    } else {
      out.push({ ok: true, name: "codex version", detail: version });
    }
    if (Deno.env.get("OPENAI_API_KEY")) {
      out.push({
        ok: true,
        name: "codex auth",
        detail: "OPENAI_API_KEY is set in the environment",
      });
    } else {
      const s = await run(found.path, ["login", "status"]);
      out.push(
        s.code === 0
          ? { ok: true, name: "codex auth", detail: s.out.split("\n")[0] || "logged in" }
          : {
            ok: false,
            name: "codex auth",
            detail: `not logged in (${
              s.out.split("\n")[0] || `exit ${s.code}`
            }). Run \`codex login\` as the user the plugin runs as, or set OPENAI_API_KEY in its environment`,
          },
      );
    }
  }
  if (opts.workspace !== undefined) out.push(...await workspaceChecks(opts.workspace));
  return out;
}

async function workspaceChecks(ws: string): Promise<Check[]> {
  const name = "workspace";
  if (!ws.startsWith("/")) return [{ ok: false, name, detail: `${ws} is not an absolute path` }];
  try {
    if (!(await Deno.stat(ws)).isDirectory) {
      return [{ ok: false, name, detail: `${ws} is not a directory` }];
    }
  } catch {
    return [{
      ok: false,
      name,
      detail: `${ws} does not exist. Create it or fix the agent's workspace`,
    }];
  }
  const probe = `${ws}/.plexum-doctor-${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    return [{
      ok: false,
      name,
      detail: `${ws} is not writable by this user (${
        (e as Error).message
      }). Fix its owner or permissions`,
    }];
  }
  const id = await readThreadId(ws);
  let session = `no session: the next turn starts a new thread`;
  if (id) session = `resumes thread ${id}`;
  else {
    try {
      await Deno.lstat(`${ws}/${SESSION_FILE}`);
      session =
        `${SESSION_FILE} holds no thread id and is ignored: the next turn starts a new thread`;
    } catch { /* absent */ }
  }
  return [{ ok: true, name, detail: `${ws} is writable` }, {
    ok: true,
    name: "session",
    detail: session,
  }];
}

/** Print the checks; resolves the exit code. */
export async function doctor(config: Config, opts: { workspace?: string }): Promise<number> {
  const results = await checks(config, opts);
  for (const c of results) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
  return results.every((c) => c.ok) ? 0 : 1;
}
