/**
 * Records `fixtures/app-server/<version>/` from the REAL `codex app-server`
 * running offline against the mock Responses API (dev/mock_api.ts).
 *
 * Each scenario spawns one app-server (temporary HOME and CODEX_HOME shared by
 * the scenarios of a version, `-c` overrides from `mockCodexSetup`), speaks
 * JSON-RPC to it over stdio and writes:
 *
 * - `NAME.jsonl`: the whole conversation, one message per line, in the order
 *   seen: `{"dir":"out","ms":…,"msg":{…}}` for what this client sent,
 *   `{"dir":"in","ms":…,"msg":{…}}` for what the app-server wrote (`ms`: since
 *   spawn). Messages are stored exactly as parsed; nothing is removed. The
 *   volatile parts (thread, turn and item ids, timestamps, the temp dir, the
 *   mock's port) are left as they came: tests compare them only with other
 *   parts of the same recording.
 * - `NAME.meta.json`: codex version, argv, what the client asked and did,
 *   the mock script, the number of API requests, exit code and stderr.
 * - for a few scenarios also `NAME.exec.jsonl` (+ `.exec.meta.json`): the
 *   stdout of `codex exec --json` for the same mock script and prompt, so
 *   tests can check that both backends map to the same activity items.
 *
 * The scenarios are in scripts/app_server_scenarios.ts, the JSON-RPC session
 * that keeps the transcript in scripts/app_server_session.ts.
 *
 * @example
 * ```sh
 * deno task record:app-server                          # 0.135.0, 0.169.0 and 0.171.0
 * deno task record:app-server --codex-version 0.171.0
 * deno task record:app-server --codex-version 0.169.0 --only plain --only interrupt
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { execArgs } from "../lib/codex/exec/argv.ts";
import { delay } from "../lib/async.ts";
import { ensureCodex } from "../dev/codex.ts";
import { hermeticEnv } from "../dev/hermetic.ts";
import { mockCodexSetup } from "../dev/mock_api.ts";
import { type Scenario, SCENARIOS, startMock } from "./app_server_scenarios.ts";
import { Session, type TranscriptLine } from "./app_server_session.ts";

export { type TranscriptLine } from "./app_server_session.ts";

/** Releases recorded by default. */
export const APP_SERVER_VERSIONS = ["0.135.0", "0.169.0", "0.171.0"] as const;

/** The sidecar written next to each `NAME.jsonl`. */
export interface AppServerFixtureMeta {
  name: string;
  codex_version: string;
  /** argv after the binary, exactly as codex got it. */
  argv: string[];
  /** What the client did, in words. */
  asked: string;
  prompt: string;
  /** What the mock API answered, in order (the last one repeats). */
  mock_script: unknown[];
  /** POST /v1/responses requests the mock saw. */
  api_requests: number;
  /** How the process ended after the client closed its stdin. */
  exit_code: number | null;
  signal: string | null;
  stderr: string;
  /** The scenario whose thread this one resumes, if any. */
  resumes?: string;
  notes?: string;
}

const NEVER = { approvalPolicy: "never", sandbox: "danger-full-access" };

const enc = new TextEncoder();
const dec = new TextDecoder();

const root = new URL("../", import.meta.url).pathname;

function turnOf(m: TranscriptLine["msg"], turnId: string): boolean {
  const p = m.params ?? {};
  return p.turnId === turnId || p.turn?.id === turnId;
}

/** Run one scenario against a started app-server; returns the thread id used. */
async function drive(s: Scenario, ses: Session, ws: string, resumeId?: string) {
  const policy = {
    approvalPolicy: s.approvalPolicy ?? NEVER.approvalPolicy,
    sandbox: s.sandbox ?? NEVER.sandbox,
  };
  const init = await ses.request("initialize", {
    clientInfo: { name: "plexum-record", title: null, version: "0.0.0" },
    capabilities: null,
  });
  if (init.error) throw new Error(`initialize: ${JSON.stringify(init.error)}`);
  ses.notify("initialized");
  let threadId: string | undefined;
  if (resumeId) {
    const r = await ses.request("thread/resume", { threadId: resumeId, cwd: ws, ...policy });
    threadId = r.result?.thread?.id;
  }
  if (!threadId) {
    const r = await ses.request("thread/start", { cwd: ws, ...policy });
    threadId = r.result?.thread?.id;
    if (!threadId) throw new Error(`thread/start: ${JSON.stringify(r)}`);
  }
  ses.onRequest = (method) => {
    if (method === "item/commandExecution/requestApproval") {
      return { decision: s.approval ?? "decline" };
    }
    throw new Error(`the recorder does not answer ${method}`);
  };
  const started = await ses.request("turn/start", {
    threadId,
    input: [{ type: "text", text: s.prompt, text_elements: [] }],
  });
  const turnId: string = started.result?.turn?.id;
  if (!turnId) throw new Error(`turn/start: ${JSON.stringify(started)}`);
  const completed = ses.waitFor(
    (m) => m.method === "turn/completed" && turnOf(m, turnId),
    "turn/completed",
  );
  if (s.interruptAfterDeltas) {
    let n = 0;
    await ses.waitFor(
      (m) =>
        m.method === "item/agentMessage/delta" && turnOf(m, turnId) &&
        ++n >= s.interruptAfterDeltas!,
      "deltas before the interrupt",
    );
    await ses.request("turn/interrupt", { threadId, turnId });
  }
  await completed;
  // Whatever the server still says about the turn shortly after its end.
  await delay(300);
  return threadId;
}

async function recordExecTwin(
  bin: string,
  s: Scenario,
  outDir: string,
  version: string,
  home: string,
  env: Record<string, string>,
  ws: string,
) {
  const api = startMock(s);
  try {
    const { args, env: mockEnv } = mockCodexSetup(api.baseUrl, home);
    const argv = execArgs({ extraArgs: [...args, ...(s.extra ?? [])] });
    const child = new Deno.Command(bin, {
      args: argv,
      cwd: ws,
      clearEnv: true,
      env: { ...env, ...mockEnv },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(enc.encode(s.prompt));
    await w.close();
    const out = await child.output();
    await Deno.writeFile(`${outDir}/${s.name}.exec.jsonl`, out.stdout);
    await Deno.writeTextFile(
      `${outDir}/${s.name}.exec.meta.json`,
      JSON.stringify(
        {
          name: `${s.name}.exec`,
          codex_version: version,
          argv,
          prompt: s.prompt,
          exit_code: out.code,
          stderr: dec.decode(out.stderr),
          mock_script: s.script,
          api_requests: api.requests.length,
          notes: `codex exec --json for the same mock script and prompt as ${s.name}.jsonl`,
        },
        null,
        2,
      ) + "\n",
    );
    console.error(`${version} ${s.name}.exec: exit ${out.code}, ${api.requests.length} requests`);
  } finally {
    await api.close();
  }
}

/** Record the scenarios (all, or those named in `only`) of `version`. */
export async function record(version: string, only: string[] = []): Promise<string[]> {
  const bin = await ensureCodex(version);
  const outDir = `${root}fixtures/app-server/${version}`;
  await Deno.mkdir(outDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ prefix: "plexum-record-as-" });
  const written: string[] = [];
  const threads = new Map<string, string>();
  try {
    const home = `${tmp}/codex-home`;
    const userHome = `${tmp}/home`;
    const ws = `${tmp}/workspace`;
    for (const d of [home, userHome, ws]) await Deno.mkdir(d);
    // Every codex run here is spawned with `clearEnv` and this hermetic environment.
    const env = hermeticEnv({ home: userHome, codexHome: home }, { NO_COLOR: "1" });
    for (const s of SCENARIOS) {
      const wanted = only.length === 0 || only.includes(s.name);
      // A resumed scenario needs its predecessor's thread: record that one too.
      if (!wanted && !SCENARIOS.some((o) => only.includes(o.name) && o.resume === s.name)) {
        continue;
      }
      const api = startMock(s);
      try {
        const { args, env: mockEnv } = mockCodexSetup(api.baseUrl, home);
        const argv = ["app-server", ...args, ...(s.extra ?? [])];
        const resumeId = s.resume === "unknown"
          ? crypto.randomUUID()
          : s.resume
          ? threads.get(s.resume)
          : undefined;
        if (s.resume && !resumeId) throw new Error(`${s.name}: no thread from ${s.resume}`);
        const ses = new Session(bin, argv, ws, { ...env, ...mockEnv });
        let failure: unknown;
        try {
          threads.set(s.name, await drive(s, ses, ws, resumeId));
        } catch (e) {
          failure = e;
        }
        const { status, stderr } = await ses.close();
        if (ses.invalid.length && !failure) {
          failure = `the app-server wrote lines that are no JSON-RPC message: ${ses.invalid}`;
        }
        if (failure) throw new Error(`${version} ${s.name}: ${failure}\nstderr:\n${stderr}`);
        const meta: AppServerFixtureMeta = {
          name: s.name,
          codex_version: version,
          argv,
          asked: s.asked,
          prompt: s.prompt,
          mock_script: s.script,
          api_requests: api.requests.length,
          exit_code: status.code,
          signal: status.signal,
          stderr,
          ...(s.resume ? { resumes: s.resume } : {}),
          ...(s.notes ? { notes: s.notes } : {}),
        };
        await Deno.writeTextFile(
          `${outDir}/${s.name}.jsonl`,
          ses.lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
        );
        await Deno.writeTextFile(
          `${outDir}/${s.name}.meta.json`,
          JSON.stringify(meta, null, 2) + "\n",
        );
        written.push(`${outDir}/${s.name}.jsonl`);
        console.error(
          `${version} ${s.name}: ${ses.lines.length} messages, ${api.requests.length} API requests, ` +
            `exit ${status.code ?? status.signal}`,
        );
      } finally {
        await api.close();
      }
      if (s.execTwin && wanted) await recordExecTwin(bin, s, outDir, version, home, env, ws);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return written;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "codex-version": { type: "string", multiple: true },
      only: { type: "string", multiple: true },
    },
    strict: true,
  });
  for (const v of values["codex-version"] ?? APP_SERVER_VERSIONS) {
    await record(v, values.only ?? []);
  }
}
