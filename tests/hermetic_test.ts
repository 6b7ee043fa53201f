/**
 * The tests give every Codex they start a hermetic environment
 * (dev/hermetic.ts), so a developer's shell profile cannot slow them: Codex
 * runs the model's commands in a login shell, which reads the profile of
 * whatever `HOME` it gets.
 *
 * The proof runs the rig as a program (tests/support/command_turn.ts) under a
 * developer `HOME` whose `.bashrc`, `.bash_profile` and `.profile` each sleep
 * 20 s. With an idle timeout of 8 s, a login shell that read that profile
 * would end the turn with a `timeout` error; the turn must instead complete
 * normally, and no profile file may have been read.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { denoDir, hermetic, hermeticEnv } from "../dev/hermetic.ts";
import type { CommandTurn } from "./support/command_turn.ts";
import { pidsInDir } from "./support/proc.ts";

const root = new URL("../", import.meta.url).pathname;
const PROFILES = [".bashrc", ".bash_profile", ".profile"];
/** Well below the profile's 20 s: a stalled command shows as a `timeout` error. */
const IDLE_TIMEOUT_S = 8;

/** A developer HOME whose every profile leaves a mark, then sleeps 20 s. */
async function slowHome(): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: "plexum-slow-home-" });
  for (const f of PROFILES) {
    await Deno.writeTextFile(`${home}/${f}`, `touch "$HOME/${f}.read"\nsleep 20\n`);
  }
  return home;
}

/** The profile files a shell has read in `home`. */
function profilesRead(home: string): string[] {
  return PROFILES.filter((f) => {
    try {
      Deno.statSync(`${home}/${f}.read`);
      return true;
    } catch {
      return false;
    }
  });
}

Deno.test("precondition: a login shell under the slow HOME reads its profile and stalls", async () => {
  const home = await slowHome();
  const child = new Deno.Command("bash", {
    args: ["-lc", "true"],
    cwd: home,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: home },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 1_500)),
    ]);
    assert.equal(exited, false, "bash -lc true is still in the profile after 1.5 s");
    assert.notDeepEqual(profilesRead(home), [], "the login shell read a profile");
  } finally {
    for (const pid of pidsInDir(home)) { // bash and its sleep
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await child.status;
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("hermeticEnv keeps PATH, TMPDIR and the locale, sets HOME and CODEX_HOME, drops the rest", () => {
  Deno.env.set("PLEXUM_HERMETIC_TEST_SECRET", "sk-not-for-codex");
  try {
    const env = hermeticEnv({ home: "/h", codexHome: "/c" }, { MOCK_KEY: "x" });
    assert.equal(env.HOME, "/h");
    assert.equal(env.CODEX_HOME, "/c");
    assert.equal(env.MOCK_KEY, "x");
    assert.equal(env.PATH, Deno.env.get("PATH"));
    assert.equal(env.DENO_DIR, denoDir());
    assert.equal(env.PLEXUM_HERMETIC_TEST_SECRET, undefined);
    const kept = Object.keys(env).filter((k) =>
      !["HOME", "CODEX_HOME", "MOCK_KEY", "DENO_DIR"].includes(k)
    );
    for (const k of kept) {
      assert.ok(["PATH", "TMPDIR", "LANG", "LANGUAGE", "TZ"].includes(k) || k.startsWith("LC_"), k);
    }
    // A test's own values win, e.g. a systemd PATH.
    assert.equal(hermeticEnv({ home: "/h", codexHome: "/c" }, { PATH: "/bin" }).PATH, "/bin");
  } finally {
    Deno.env.delete("PLEXUM_HERMETIC_TEST_SECRET");
  }
});

Deno.test("hermetic() makes an empty home/ and codex-home/ and removes them on dispose", () => {
  let root: string;
  {
    using h = hermetic();
    root = h.root;
    assert.deepEqual([...Deno.readDirSync(h.home)], []);
    assert.deepEqual([...Deno.readDirSync(h.codexHome)], []);
    assert.equal(h.env().HOME, h.home);
    assert.equal(h.env().CODEX_HOME, h.codexHome);
  }
  assert.throws(() => Deno.statSync(root), Deno.errors.NotFound);
});

Deno.test("a developer HOME whose shell profile sleeps 20 s does not stall a command turn", async () => {
  await ensureCodex(); // installed now, not by the child under the slow HOME
  const home = await slowHome();
  try {
    // The developer's environment, with the slow HOME: what the rig's helpers see.
    const o = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-prompt",
        `${root}tests/support/command_turn.ts`,
        String(IDLE_TIMEOUT_S),
      ],
      cwd: root,
      env: { HOME: home, DENO_DIR: denoDir() },
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(o.stdout);
    const stderr = new TextDecoder().decode(o.stderr);
    assert.equal(o.code, 0, stderr);
    const r: CommandTurn = JSON.parse(stdout.trim().split("\n").at(-1)!);
    // A login shell that read the profile shows here as a `timeout` error.
    assert.deepEqual(r.errors, [], JSON.stringify(r));
    assert.equal(r.stop_reason, "end_turn", JSON.stringify(r));
    assert.ok(r.output_reached_model, "the command ran and its output went back to the model");
    assert.equal(r.text, "done");
    assert.deepEqual(profilesRead(home), [], "no shell read the developer's profile");
  } finally {
    for (const pid of pidsInDir(home)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(home, { recursive: true });
  }
});
