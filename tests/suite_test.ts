/**
 * dev/suite.ts's lists stay true: every file that starts the plugin is listed
 * as depending on the run's backend (the exec pass runs it) or as pinning its
 * own, and every file that changes the environment or cwd all test files share
 * runs alone.
 */
import assert from "node:assert/strict";
import { withTestBackend } from "../dev/plugin.ts";
import { BACKEND_DEPENDENT, BACKEND_INDEPENDENT, LOAD, SERIAL, testFiles } from "../dev/suite.ts";

const root = new URL("../", import.meta.url).pathname;
const read = (f: string) => Deno.readTextFileSync(`${root}${f}`);

/** Repository-relative modules `file` imports, directly or not (local ones only). */
function imports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file) || !file.endsWith(".ts")) return seen;
  seen.add(file);
  for (const m of read(file).matchAll(/(?:from|import)\s*\(?\s*"(\.\.?\/[^"]+)"/g)) {
    const url = new URL(m[1], `file://${root}${file}`);
    imports(url.pathname.slice(root.length), seen);
  }
  return seen;
}

Deno.test("suite: every listed file exists, and none is both pinned and backend-dependent", () => {
  const all = testFiles();
  for (const f of [...SERIAL, ...BACKEND_DEPENDENT, ...BACKEND_INDEPENDENT, ...LOAD]) {
    assert.ok(all.includes(f), `${f} is listed in dev/suite.ts but is no test file`);
  }
  assert.deepEqual(BACKEND_DEPENDENT.filter((f) => BACKEND_INDEPENDENT.includes(f)), []);
});

Deno.test("suite: every file that starts the plugin says whether the run's backend decides it", () => {
  const unlisted = testFiles().filter((f) =>
    imports(f).has("dev/plugin.ts") && !BACKEND_DEPENDENT.includes(f) &&
    !BACKEND_INDEPENDENT.includes(f) && !LOAD.includes(f) && f !== "tests/suite_test.ts"
  );
  assert.deepEqual(
    unlisted,
    [],
    "list them in BACKEND_DEPENDENT or BACKEND_INDEPENDENT (dev/suite.ts)",
  );
});

Deno.test("suite: a file not listed as backend-dependent cannot leave the backend to the run", () => {
  assert.ok(!BACKEND_DEPENDENT.includes("tests/suite_test.ts"));
  assert.throws(() => withTestBackend({ config: {} }), /suite_test\.ts .*BACKEND_DEPENDENT/);
  const pinned = { config: { backend: "exec" } };
  assert.equal(withTestBackend(pinned), pinned);
});

Deno.test("suite: a file that changes the shared environment or cwd runs alone", () => {
  const shared: string[] = [];
  for (
    const f of [
      ...testFiles(),
      ...[...Deno.readDirSync(`${root}tests/support`)].map((e) => `tests/support/${e.name}`),
    ]
  ) {
    if (SERIAL.includes(f)) continue;
    const text = read(f);
    if (/Deno\.chdir\(/.test(text)) shared.push(`${f}: Deno.chdir`);
    for (
      const m of text.matchAll(
        /Deno\.env\.(?:set|delete)\(\s*"([^"]*)"|Deno\.env\.(?:set|delete)\(\s*([^"\s])/g,
      )
    ) {
      const name = m[1];
      // A name only this file uses, PLEXUM_*_TEST_*, touches no other file.
      const own = name !== undefined && /^PLEXUM_[A-Z_]+_TEST_[A-Z_]+$/.test(name) &&
        testFiles().filter((g) => read(g).includes(name)).length === 1;
      if (!own) shared.push(`${f}: ${m[0]}`);
    }
  }
  assert.deepEqual(shared, [], "list them in SERIAL (dev/suite.ts), or use a name of their own");
});
