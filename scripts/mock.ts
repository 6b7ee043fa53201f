/**
 * `deno task mock`: the mock OpenAI Responses API (dev/mock_api.ts) on
 * 127.0.0.1, to try `chat` or a host of your own without an account or
 * network. It prints the plugin config (`extra_args` pointing Codex at the
 * mock, written to a file too) and the environment to run with, then serves
 * until Ctrl-C, when it removes what it created.
 *
 * Every answer is `mock: you said "<your last message>"`, so a turn shows its
 * prompt arrived. The environment uses a new, empty `CODEX_HOME`: your own
 * `~/.codex` (login, sessions) is neither used nor changed.
 *
 * @example
 * ```sh
 * ./scripts/deno task mock
 * # then, in another terminal, paste the printed lines:
 * # MOCK_KEY=x CODEX_HOME=/tmp/plexum-mock-…/codex-home ./scripts/deno task start chat \
 * #   --config /tmp/plexum-mock-…/plugin.jsonc --workspace /tmp/plexum-mock-…/workspace "Say hi"
 * ```
 *
 * @module
 */
import { mockCodexSetup, startMockApi } from "../dev/mock_api.ts";

/** What the mock answers to a request body: an echo of the last user text. */
export function echo(body: Record<string, unknown>): { text: string } {
  const input = Array.isArray(body.input) ? body.input : [];
  let said = "";
  for (const m of input as { role?: string; content?: { type?: string; text?: string }[] }[]) {
    if (m?.role !== "user" || !Array.isArray(m.content)) continue;
    const texts = m.content.filter((c) => c?.type === "input_text").map((c) => c.text ?? "");
    if (texts.length) said = texts[texts.length - 1];
  }
  const last = said.trim().split("\n").pop() ?? "";
  return { text: `mock: you said ${JSON.stringify(last.slice(0, 200))}` };
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "plexum-mock-" });
  const codexHome = `${dir}/codex-home`;
  const workspace = `${dir}/workspace`;
  await Deno.mkdir(codexHome);
  await Deno.mkdir(workspace);
  const api = startMockApi([{ text: "mock" }], { reply: echo });
  const setup = mockCodexSetup(api.baseUrl, codexHome);
  const config = `${dir}/plugin.jsonc`;
  await Deno.writeTextFile(
    config,
    `// Points Codex at the mock of \`deno task mock\` (${api.baseUrl}); gone when it stops.\n` +
      JSON.stringify({ extra_args: setup.args }, null, 2) + "\n",
  );
  const env = `MOCK_KEY=${setup.env.MOCK_KEY} CODEX_HOME=${codexHome}`;
  console.log(`mock Responses API: ${api.baseUrl}
config: ${config}
env: ${env}

Plugin config (also in ${config}): "extra_args" pointing Codex at the mock
  "extra_args": ${JSON.stringify(setup.args)}
Environment: MOCK_KEY is the key the mock provider reads (any value); CODEX_HOME is a new,
empty Codex home, so your own ~/.codex is neither used nor changed. codex must be on PATH
(or add "binary": "/path/to/codex" to the config).

Try it (another terminal):
  ${env} ./scripts/deno task start chat --config ${config} --workspace ${workspace} "Say hi"

Serving until Ctrl-C.`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await api.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    console.log(`mock stopped after ${api.requests.length} request(s)`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
