/** argv of `codex exec` (lib/argv.ts): exact order, prompt never in argv, model rules. */
import assert from "node:assert/strict";
import { execArgs } from "../lib/codex/exec/argv.ts";
import { modelArg } from "../lib/codex/turn_runner.ts";
import { DEFAULTS } from "../lib/config.ts";

const BASE = [
  "exec",
  "--skip-git-repo-check",
  "--dangerously-bypass-approvals-and-sandbox",
  "--json",
];
const ID = "019a5c1e-7d2f-7a31-9e4b-2c8d0f6a1b3c";

Deno.test("a new thread without a model: our flags, then '-'", () => {
  assert.deepEqual(execArgs({ extraArgs: [] }), [...BASE, "-"]);
});

Deno.test("a model becomes --model right after our flags", () => {
  assert.deepEqual(execArgs({ extraArgs: [], model: "gpt-5-codex" }), [
    ...BASE,
    "--model",
    "gpt-5-codex",
    "-",
  ]);
});

Deno.test("developer instructions are one -c value, a quoted and escaped string", () => {
  const text = 'Be "brief".\nUse \\ and tabs\there; ünï 🦀 = ok';
  const args = execArgs({ extraArgs: [], developerInstructions: text });
  assert.deepEqual(args, [...BASE, "-c", `developer_instructions=${JSON.stringify(text)}`, "-"]);
  const value = args[BASE.length + 1];
  assert.ok(!value.includes("\n"), "a newline must be escaped");
  assert.equal(JSON.parse(value.slice("developer_instructions=".length)), text);
});

Deno.test("empty model or instructions add nothing", () => {
  assert.deepEqual(execArgs({ extraArgs: [], model: "", developerInstructions: "" }), [
    ...BASE,
    "-",
  ]);
});

Deno.test("full order: flags, model, instructions, extra_args, resume ID, '-'", () => {
  assert.deepEqual(
    execArgs({
      model: "m",
      developerInstructions: "sys",
      extraArgs: ["-c", "a=1", "--profile", "p"],
      threadId: ID,
    }),
    [...BASE, "--model", "m", "-c", 'developer_instructions="sys"', "-c", "a=1", "--profile", "p"]
      .concat(["resume", ID, "-"]),
  );
});

Deno.test("extra_args come before resume and the id", () => {
  const args = execArgs({ extraArgs: ["-c", "x=y"], threadId: ID });
  assert.deepEqual(args.slice(BASE.length), ["-c", "x=y", "resume", ID, "-"]);
});

Deno.test("argv always ends with '-' (the prompt goes to stdin)", () => {
  for (const model of [undefined, "m"]) {
    for (const developerInstructions of [undefined, "d"]) {
      for (const extraArgs of [[], ["-c", "z=1"]]) {
        for (const threadId of [undefined, ID]) {
          const args = execArgs({ model, developerInstructions, extraArgs, threadId });
          assert.equal(args.at(-1), "-");
          assert.equal(args.filter((a) => a === "-").length, 1);
          assert.deepEqual(args.slice(0, BASE.length), BASE);
        }
      }
    }
  }
});

Deno.test("modelArg: model_args first, 'codex' means Codex's default, others as is", () => {
  const config = { ...DEFAULTS, model_args: { fast: "gpt-5-codex-mini", codex: "gpt-5.1-codex" } };
  assert.equal(modelArg(config, "fast"), "gpt-5-codex-mini");
  assert.equal(modelArg(config, "codex"), "gpt-5.1-codex");
  assert.equal(modelArg(config, "o3"), "o3");
  assert.equal(modelArg(DEFAULTS, "codex"), undefined);
  assert.equal(modelArg(DEFAULTS, "gpt-5-codex"), "gpt-5-codex");
});

Deno.test("modelArg ignores inherited object keys", () => {
  for (const m of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
    assert.equal(modelArg(DEFAULTS, m), m);
  }
});
