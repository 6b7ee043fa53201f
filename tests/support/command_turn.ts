/**
 * One command turn through the rig, as a program: the real Codex against the
 * mock, whose model asks Codex to run `echo hermetic-$((6*7))` and then
 * answers "done". Prints one JSON line (stop_reason, error events, whether the
 * command's output reached the model, how long it took) and exits 0.
 *
 * tests/hermetic_test.ts runs it with a developer `HOME` whose shell profile
 * sleeps, to show that the rig's Codex never reads that profile.
 *
 * ```sh
 * deno run -A tests/support/command_turn.ts IDLE_TIMEOUT_S
 * ```
 *
 * @module
 */
import { chat, startRig } from "./rig.ts";

/** What {@linkcode main} prints. */
export interface CommandTurn {
  stop_reason: string;
  errors: { code: string; message: string }[];
  /** The command's output was in the mock's second request (it went back to the model). */
  output_reached_model: boolean;
  text: string;
  ms: number;
}

async function main(idleTimeoutS: number): Promise<CommandTurn> {
  await using rig = await startRig([
    { shell: "echo hermetic-$((6*7))", via: "function" },
    { text: "done" },
  ]);
  const ws = await rig.workspace();
  const p = await rig.plugin({ idle_timeout_s: idleTimeoutS });
  const r = await chat(p, ws, "Run the command.");
  return {
    stop_reason: r.response.result?.stop_reason ?? JSON.stringify(r.response),
    errors: r.errors.map((e) => ({ code: e.code, message: e.message })),
    output_reached_model: JSON.stringify(rig.api.requests[1] ?? {}).includes("hermetic-42"),
    text: r.text,
    ms: Math.round(r.ms),
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await main(Number(Deno.args[0] ?? 8))));
}
