/**
 * Which `extra_args` the `codex app-server` command line takes
 * (lib/codex/app_server/launch.ts): the config overrides every release accepts,
 * and the first argument only `codex exec` understands, named.
 */
import assert from "node:assert/strict";
import { appServerArgs, envApiKey, unsupportedArgMessage } from "../lib/codex/app_server/launch.ts";

Deno.test("app-server args: -c/--config, --enable, --disable (both spellings) and --strict-config pass", () => {
  const extra = [
    "-c",
    "model_provider=mock",
    "--config",
    "a=1",
    "--config=b=2",
    "-cc=3",
    "--enable",
    "x",
    "--enable=y",
    "--disable",
    "shell_snapshot",
    "--disable=z",
    "--strict-config",
  ];
  assert.deepEqual(appServerArgs(extra), { ok: true, value: ["app-server", ...extra] });
  assert.deepEqual(appServerArgs([]), { ok: true, value: ["app-server"] });
});

Deno.test("app-server args: the first argument only exec takes is named", () => {
  for (
    const [extra, bad] of [
      [["--skip-git-repo-check"], "--skip-git-repo-check"],
      [["-c", "a=1", "--profile", "work"], "--profile"],
      [["--model", "gpt-5"], "--model"],
      [["-m", "gpt-5"], "-m"],
      [["--oss"], "--oss"],
      [["-c"], "-c"], // a flag without its value
      [["--enable"], "--enable"],
      [["resume"], "resume"],
    ] as [string[], string][]
  ) {
    assert.deepEqual(appServerArgs(extra), { ok: false, error: bad }, extra.join(" "));
  }
  assert.match(unsupportedArgMessage("--oss"), /"--oss" is a codex exec argument/);
});

Deno.test("app-server API key: CODEX_API_KEY first; OPENAI_API_KEY only without a stored login", () => {
  const env = (vars: Record<string, string>) => (k: string) => vars[k];
  assert.equal(envApiKey(env({ CODEX_API_KEY: "sk-c", OPENAI_API_KEY: "sk-o" })), "sk-c");
  assert.equal(envApiKey(env({ OPENAI_API_KEY: "sk-o", CODEX_HOME: "/nonexistent" })), "sk-o");
  assert.equal(envApiKey(env({ CODEX_HOME: "/nonexistent" })), undefined);
  const home = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${home}/auth.json`, "{}");
    assert.equal(envApiKey(env({ OPENAI_API_KEY: "sk-o", CODEX_HOME: home })), undefined);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});
