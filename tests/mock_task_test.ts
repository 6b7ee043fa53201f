/**
 * `deno task mock` gives a newcomer the mock Responses API without writing a
 * launcher: started as a subprocess, it prints the config file and the
 * environment; one `main.ts chat` turn with exactly those, and the real Codex
 * (0.169.0) on PATH, gets the mock's answer. Ctrl-C (SIGINT) stops it, and
 * what it created is gone.
 */
import assert from "node:assert/strict";
import { ensureCodex } from "../dev/codex.ts";
import { hermetic } from "../dev/hermetic.ts";
import { pluginArgs, testBackend } from "../dev/plugin.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

/** Read until `done(text so far)` holds; bounded. Returns the text read. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  done: (text: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  let text = "";
  const deadline = Date.now() + timeoutMs;
  while (!done(text)) {
    const left = deadline - Date.now();
    assert.ok(left > 0, `timed out; so far:\n${text}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      reader.read(),
      new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(text)), left))),
    ]).finally(() => clearTimeout(timer));
    if (r.done) break;
    text += dec.decode(r.value, { stream: true });
  }
  return text;
}

Deno.test("deno task mock: prints config and environment; chat through them gets the mock's answer; Ctrl-C stops it", async () => {
  const codex = await ensureCodex("0.169.0");
  await using h = hermetic();
  const mock = new Deno.Command(Deno.execPath(), {
    args: ["task", "mock"],
    cwd: root,
    clearEnv: true,
    env: h.env({ NO_COLOR: "1" }),
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = mock.stdout.getReader();
  try {
    const printed = await readUntil(reader, (t) => t.includes("Serving until Ctrl-C."), 60_000);
    const config = printed.match(/^config: (\S+)$/m)?.[1];
    const env = printed.match(/^env: (.+)$/m)?.[1];
    assert.ok(config && env, printed);
    const vars = Object.fromEntries(env.split(" ").map((kv) => kv.split("=", 2)));
    assert.deepEqual(Object.keys(vars).sort(), ["CODEX_HOME", "MOCK_KEY"]);
    assert.match(printed, /"extra_args": \["-c","model_provider=mock"/);
    const dir = config.slice(0, config.lastIndexOf("/"));
    assert.equal((await Deno.stat(vars.CODEX_HOME)).isDirectory, true);

    // The printed config as it is (the run's backend added), codex found on PATH.
    const text = await Deno.readTextFile(config);
    const conf = `${h.root}/plugin.jsonc`;
    const jsonc = JSON.parse(text.replace(/^\/\/.*$/m, ""));
    await Deno.writeTextFile(conf, JSON.stringify({ ...jsonc, ...testBackend() }));
    const binDir = codex.slice(0, codex.lastIndexOf("/"));
    const o = await new Deno.Command(Deno.execPath(), {
      args: pluginArgs(["chat", "--config", conf, "--workspace", `${dir}/workspace`, "Say hi"]),
      clearEnv: true,
      env: h.env({ ...vars, PATH: `${binDir}:${Deno.env.get("PATH")}` }),
      stdin: "null",
    }).output();
    assert.equal(o.code, 0, dec.decode(o.stderr));
    assert.equal(dec.decode(o.stdout), 'mock: you said "Say hi"\n');

    mock.kill("SIGINT");
    const rest = await readUntil(reader, (t) => t.includes("mock stopped"), 15_000);
    assert.match(rest, /mock stopped after 1 request\(s\)/);
    assert.equal((await mock.status).code, 0);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  } finally {
    reader.releaseLock();
    try {
      mock.kill("SIGKILL");
    } catch { /* already gone */ }
    await mock.stdout.cancel().catch(() => {});
    await mock.status;
  }
});
