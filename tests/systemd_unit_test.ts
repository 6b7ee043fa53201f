/**
 * The systemd unit the README points operators to (scripts/systemd/plexum.service):
 * `systemd-analyze verify` finds nothing wrong with it, and `systemd-analyze
 * security --offline=yes` rates its exposure at most 5.0 (the unit the README
 * showed before was 9.2 UNSAFE). `.ci/run` installs systemd-analyze where it is
 * missing, so this test never skips.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const UNIT = `${root}scripts/systemd/plexum.service`;
const dec = new TextDecoder();

async function analyze(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command("systemd-analyze", { args, stdin: "null" }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/**
 * A copy of the unit in a temp dir whose ExecStart names an executable that
 * exists (the unit's own, /usr/local/bin/plexum, is an example), so verify
 * judges the unit's own settings.
 */
async function verifiableCopy(dir: string): Promise<string> {
  const exe = `${dir}/plexum`;
  await Deno.writeTextFile(exe, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const text = await Deno.readTextFile(UNIT);
  assert.match(text, /^ExecStart=\/usr\/local\/bin\/plexum /m);
  const path = `${dir}/plexum.service`;
  await Deno.writeTextFile(path, text.replace(/^ExecStart=\S+/m, `ExecStart=${exe}`));
  return path;
}

Deno.test("systemd unit: systemd-analyze verify reports nothing (no unknown key, no bad value)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await analyze(["verify", "--man=no", "--generators=no", await verifiableCopy(dir)]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err.trim(), "", "verify warned");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("systemd unit: security --offline=yes rates the exposure at most 5.0", async () => {
  const r = await analyze(["security", "--offline=yes", "--threshold=50", UNIT]);
  const score = Number(r.out.match(/Overall exposure level for plexum\.service: (\d+\.\d)/)?.[1]);
  assert.ok(score <= 5.0, `exposure ${score}:\n${r.out}${r.err}`);
  assert.equal(r.code, 0, `--threshold=50 failed:\n${r.err}`);
});

Deno.test("systemd unit: hardened as the issue asks, and what breaks Codex is left out and explained", async () => {
  const text = await Deno.readTextFile(UNIT);
  const settings = text.split("\n").filter((l) => /^[A-Z]\w*=/.test(l));
  const has = (kv: string) => settings.some((l) => l === kv || l.startsWith(`${kv} `));
  for (
    const kv of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ReadWritePaths=/srv/agents",
      "PrivateTmp=yes",
      "UMask=0027",
      "StateDirectory=plexum",
      "Environment=CODEX_HOME=/var/lib/plexum/codex",
      "ProtectHome=yes",
      "StartLimitBurst=5",
      "Restart=on-failure",
    ]
  ) assert.ok(has(kv), kv);
  for (const key of ["MemoryDenyWriteExecute", "PrivateNetwork", "IPAddressDeny", "ProcSubset"]) {
    assert.ok(!settings.some((l) => l.startsWith(`${key}=`)), `${key} is set`);
    assert.match(text, new RegExp(`^#.*${key}`, "m"), `${key} is not explained`);
  }
  // The README shows where the unit is, rather than a copy that can drift.
  const readme = await Deno.readTextFile(`${root}README.md`);
  assert.ok(readme.includes("scripts/systemd/plexum.service"), "README points to the unit");
});
