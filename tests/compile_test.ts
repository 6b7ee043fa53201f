/**
 * `deno task compile` without access to dl.deno.land (where `deno compile`
 * fetches Deno's runtime on first use) prints what to do, the same help
 * `compile:all` prints, instead of a DNS error with a stack trace. The
 * download is made impossible (a DENO_DIR without the runtime, HTTPS through
 * a proxy on a closed loopback port), so the test says the same on a machine
 * that has network.
 */
import assert from "node:assert/strict";
import { denoDir } from "../dev/hermetic.ts";

const root = new URL("../", import.meta.url).pathname;

/** A loopback port nothing listens on. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `deno task NAME` with no runtime cached and no way to download one; stderr and code. */
async function offlineTask(name: string, dir: string): Promise<{ code: number; stderr: string }> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: dir,
    DENO_DIR: `${dir}/deno`,
    HTTPS_PROXY: `http://127.0.0.1:${closedPort()}`,
    HTTP_PROXY: `http://127.0.0.1:${closedPort()}`,
    NO_COLOR: "1",
  };
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["task", name],
    cwd: root,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "null",
  }).output();
  return { code: o.code, stderr: new TextDecoder().decode(o.stderr) };
}

/** The help block: from "deno compile could not download" to its end. */
const help = (stderr: string) => stderr.slice(stderr.indexOf("deno compile could not download"));

Deno.test("compile offline: the help compile:all prints, no stack trace, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The npm packages main.ts imports stay available; Deno's runtime (dl/) does not.
    await Deno.mkdir(`${dir}/deno`);
    await Deno.symlink(`${denoDir()}/npm`, `${dir}/deno/npm`);
    const one = await offlineTask("compile", dir);
    assert.equal(one.code, 1, one.stderr);
    assert.match(one.stderr, /deno compile could not download Deno's runtime for \S+ \(denort-/);
    assert.match(one.stderr, /DENORT_BIN/);
    assert.match(one.stderr, new RegExp(`${dir}/deno/dl/release/v${Deno.version.deno}/denort-`));
    assert.doesNotMatch(one.stderr, /Stack backtrace|Caused by|^\s+\d+: <unknown>/m);
    const all = await offlineTask("compile:all", dir);
    assert.equal(all.code, 1, all.stderr);
    const target = Deno.build.target; // compile:all fails on its first target, x86_64 here
    if (all.stderr.includes(`runtime for ${target} `)) {
      assert.equal(help(one.stderr).trim(), help(all.stderr).split("\ncompile:all:")[0].trim());
    } else assert.match(all.stderr, /deno compile could not download Deno's runtime/);
    assert.doesNotMatch(all.stderr, /Stack backtrace|Caused by/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
