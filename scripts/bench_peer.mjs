// The peer side of `deno task bench:backends`: ai-sdk-provider-codex-cli (the
// best Codex wrapper a user could pick instead) in app-server mode, warm, with
// a persistent thread, driven one turn per stdin line so the benchmark can
// alternate it with the plugin's sides. Node, because the peer is a Node
// package; installed by scripts/bench_backends.ts into .tools/peer (a
// benchmark-only dependency: nothing in lib/ or main.ts imports it).
//
// argv[2]: JSON {peerDir, codexPath, env, cwd, baseUrl}
// stdin: one line per turn ("ping"); stdout: one JSON line per turn
// {total, first} in ms, or {error}.
import { createRequire } from "node:module";
import readline from "node:readline";

const o = JSON.parse(process.argv[2]);
const require = createRequire(`${o.peerDir}/package.json`);
const { streamText } = require("ai");
const { createCodexAppServer } = require("ai-sdk-provider-codex-cli");

const provider = createCodexAppServer({
  defaultSettings: {
    codexPath: o.codexPath,
    env: o.env,
    cwd: o.cwd,
    threadMode: "persistent",
    approvalPolicy: "never",
    sandboxPolicy: "danger-full-access",
    configOverrides: {
      model_provider: "mock",
      model_providers: {
        mock: {
          name: "mock",
          base_url: o.baseUrl,
          wire_api: "responses",
          env_key: "MOCK_KEY",
          request_max_retries: 0,
          stream_max_retries: 0,
        },
      },
    },
    logger: false,
  },
});
const model = provider("gpt-5.5");

async function turn(prompt) {
  const t0 = performance.now();
  let first = NaN;
  const r = streamText({ model, prompt });
  for await (const chunk of r.textStream) {
    if (chunk && Number.isNaN(first)) first = performance.now() - t0;
  }
  return { total: performance.now() - t0, first };
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  try {
    process.stdout.write(JSON.stringify(await turn(line || "ping")) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e?.message ?? e) }) + "\n");
  }
}
await provider.close();
process.exit(0);
