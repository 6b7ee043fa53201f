/**
 * `deno task demo` as a user runs it: the reference host drives the plugin
 * through two turns with the real Codex CLI against the mock API, and the
 * second turn resumes the first's thread with its history. `--fake` pins the
 * fallback used where that CLI cannot be installed (replayed fixtures).
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

async function demo(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "demo", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The thread ids of the demo's two turns, from its summary and from the host's notes. */
function threads(stdout: string, stderr: string): string[] {
  const summary = [...stdout.matchAll(new RegExp(`^turn \\d: end_turn, thread (${UUID})`, "gm"))];
  const host = [
    ...stderr.matchAll(
      new RegExp(`^\\[turn \\d\\] stop_reason=end_turn thread_id=(${UUID})$`, "gm"),
    ),
  ];
  assert.equal(summary.length, 2, stdout);
  assert.equal(host.length, 2, stderr);
  return [...summary, ...host].map((m) => m[1]);
}

Deno.test("deno task demo: two turns through the host, the second resumes the thread with its history", async () => {
  const { code, stdout, stderr } = await demo();
  assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.match(stdout, /the real Codex CLI 0\.169\.0/);
  // The streamed model text, one turn per line, on stdout.
  assert.match(stdout, /^Hello from the mock API\.\nI said hello\.\n/m);
  const ids = threads(stdout, stderr);
  assert.equal(new Set(ids).size, 1, `one thread: ${ids}`);
  assert.match(stdout, new RegExp(`same thread: yes, turn 2 resumed ${ids[0]}`));
  assert.match(stdout, new RegExp(`\\.plexum-codex-session holds ${ids[0]}`));
  assert.match(
    stdout,
    /history: the mock's 2nd request carried turn 1: user "Say hello\.", assistant "Hello from the mock API\.", then user "What did you just say\?"/,
  );
  // Usage is per turn: both turns report one request's tokens, not the thread's running total.
  assert.equal([...stderr.matchAll(/^\[usage\] input_tokens=120 /gm)].length, 2, stderr);
  assert.match(stdout, /demo OK\n$/);
});

Deno.test("deno task demo --fake: the fallback replays recorded Codex output", async () => {
  const { code, stdout, stderr } = await demo("--fake");
  assert.equal(code, 0, `stdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.match(stdout, /a fake codex replaying fixtures\/0\.169\.0/);
  assert.match(stdout, /^Hello from the mock API\.\nI said hello\.\n/m);
  const ids = threads(stdout, stderr);
  assert.equal(new Set(ids).size, 1);
  assert.match(
    stdout,
    new RegExp(`history: turn 2 ran \`codex exec \\.\\.\\. resume ${ids[0]} -\``),
  );
  assert.match(stdout, /demo OK\n$/);
});
