/** HostConfig validation (lib/config.ts): one error per bad field, defaults, merging. */
import assert from "node:assert/strict";
import { type Config, CONFIG_KEYS, DEFAULTS, validateConfig } from "../lib/config.ts";

function errors(raw: unknown) {
  const r = validateConfig(raw);
  assert.equal(r.ok, false, `expected ${JSON.stringify(raw)} to be rejected`);
  return (r as { error: { field: string; message: string }[] }).error;
}

function config(raw: unknown, base?: Config): Config {
  const r = validateConfig(raw, base);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value;
}

Deno.test("no config, or an empty one, gives the defaults", () => {
  assert.deepEqual(config(undefined), DEFAULTS);
  assert.deepEqual(config(null), DEFAULTS);
  assert.deepEqual(config({}), DEFAULTS);
});

Deno.test("a config that is not an object is one error on 'config'", () => {
  for (const raw of ["codex", 5, true, [], [{ binary: "x" }]]) {
    assert.deepEqual(errors(raw).map((e) => e.field), ["config"], JSON.stringify(raw));
  }
});

Deno.test("every valid key is taken", () => {
  const raw = {
    binary: "/opt/codex/bin/codex",
    extra_args: ["-c", "model_reasoning_effort=high"],
    supported_models: ["codex", "gpt-5-codex", "codex"],
    model_args: { codex: "gpt-5.1-codex" },
    idle_timeout_s: 0.5,
    log_level: "debug",
    log_format: "json",
    emit_activity: true,
    backend: "exec",
    app_server_idle_s: 0,
    replay_history: false,
    emit_reasoning: true,
    sandbox: "workspace-write",
    network_access: true,
    reasoning_effort: "high",
  };
  assert.deepEqual(config(raw), {
    ...raw,
    supported_models: ["codex", "gpt-5-codex"], // duplicates dropped, order kept
  });
});

Deno.test("keys not given keep the base config's values", () => {
  const base = { ...DEFAULTS, binary: "/usr/local/bin/codex", emit_activity: true };
  assert.deepEqual(config({ idle_timeout_s: 30 }, base), { ...base, idle_timeout_s: 30 });
  assert.equal(DEFAULTS.idle_timeout_s, 600);
});

Deno.test("each bad field gives exactly one error naming it", () => {
  const errs = errors({
    binary: "",
    extra_args: "-c x=y",
    supported_models: [],
    model_args: [],
    idle_timeout_s: 0,
    log_level: "verbose",
    log_format: "xml",
    emit_activity: "yes",
    backend: "app_server",
    app_server_idle_s: -1,
  });
  assert.deepEqual(errs.map((e) => e.field).sort(), [
    "app_server_idle_s",
    "backend",
    "binary",
    "emit_activity",
    "extra_args",
    "idle_timeout_s",
    "log_format",
    "log_level",
    "model_args",
    "supported_models",
  ]);
  for (const e of errs) assert.ok(e.message.length > 0);
});

Deno.test("one bad field among good ones is the only error", () => {
  assert.deepEqual(errors({ binary: "codex", idle_timeout_s: -1, emit_activity: true }), [
    { field: "idle_timeout_s", message: "must be a positive number of seconds" },
  ]);
});

Deno.test("bad values of each key are rejected", () => {
  const cases: [string, unknown][] = [
    ["binary", 5],
    ["binary", "   "],
    ["binary", "--version"],
    ["extra_args", ["-c", 5]],
    ["supported_models", ["codex", ""]],
    ["supported_models", ["-m"]],
    ["supported_models", "codex"],
    ["model_args", null],
    ["idle_timeout_s", "600"],
    ["idle_timeout_s", Infinity],
    ["idle_timeout_s", NaN],
    ["log_level", "INFO"],
    ["emit_activity", 1],
  ];
  for (const [k, v] of cases) {
    assert.deepEqual(errors({ [k]: v }).map((e) => e.field), [k], `${k}=${JSON.stringify(v)}`);
  }
});

Deno.test("model_args values starting with '-' (or empty, or not strings) are rejected per model", () => {
  const errs = errors({
    model_args: { fast: "--dangerously-bypass-approvals-and-sandbox", ok: "gpt-5", e: "", n: 3 },
  });
  assert.deepEqual(errs.map((e) => e.field), ["model_args.fast", "model_args.e", "model_args.n"]);
  assert.match(errs[0].message, /must not start with '-'/);
});

Deno.test("api_key is rejected with a message saying where Codex gets its credentials", () => {
  const [e, ...rest] = errors({ api_key: "sk-test" });
  assert.equal(rest.length, 0);
  assert.equal(e.field, "api_key");
  assert.match(e.message, /not accepted/);
  assert.match(e.message, /~\/\.codex/);
  assert.match(e.message, /OPENAI_API_KEY/);
  assert.ok(!e.message.includes("sk-test"));
});

Deno.test("unknown keys are errors (a typo must not silently do nothing)", () => {
  assert.deepEqual(errors({ bianry: "codex", idle_timeout: 5 }), [
    { field: "bianry", message: "is not a known config key" },
    { field: "idle_timeout", message: "is not a known config key" },
  ]);
});

Deno.test("CONFIG_KEYS documents exactly the keys of Config", () => {
  assert.deepEqual(Object.keys(CONFIG_KEYS).sort(), Object.keys(DEFAULTS).sort());
});
