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
 * A few scenarios need model output dev/mock_api.ts cannot script (a plan
 * update, a patch): those use {@linkcode startRawMock}, which answers with
 * the Responses API items given verbatim.
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
import { deadline, delay, within } from "../lib/async.ts";
import { ErrorResponse, Peer } from "../lib/jsonrpc/peer.ts";
import { LineTransport } from "../lib/jsonrpc/transport.ts";
import { ensureCodex } from "../dev/codex.ts";
import { hermeticEnv } from "../dev/hermetic.ts";
import { mockCodexSetup, type MockReply, startMockApi } from "../dev/mock_api.ts";

/** Releases recorded by default. */
export const APP_SERVER_VERSIONS = ["0.135.0", "0.169.0", "0.171.0"] as const;

/** One line of a transcript. */
export interface TranscriptLine {
  /** `out`: sent by the client to the app-server; `in`: written by the app-server. */
  dir: "out" | "in";
  /** Milliseconds since the app-server was spawned. */
  ms: number;
  // deno-lint-ignore no-explicit-any
  msg: Record<string, any>;
}

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

/** A reply of {@linkcode startRawMock}: Responses API output items, sent as they are. */
export interface RawReply {
  items: Record<string, unknown>[];
}

/** How the client treats a scenario's turn. */
interface Scenario {
  name: string;
  prompt: string;
  /** dev/mock_api.ts script, or raw Responses items. */
  script: MockReply[] | RawReply[];
  /** Extra app-server arguments (after `app-server` and the mock `-c` pair). */
  extra?: string[];
  /** Resume the thread of this earlier scenario, or "unknown" for a random UUID. */
  resume?: string;
  approvalPolicy?: string;
  sandbox?: string;
  /** Send turn/interrupt after this many `item/agentMessage/delta`. */
  interruptAfterDeltas?: number;
  /** Answer to `item/commandExecution/requestApproval` (default: decline). */
  approval?: string;
  /** Also record `codex exec --json` for the same script and prompt. */
  execTwin?: boolean;
  asked: string;
  notes?: string;
}

const NEVER = { approvalPolicy: "never", sandbox: "danger-full-access" };

/** A long reply streamed slowly, for the interrupt. */
const SLOW_TEXT = "This reply streams slowly so that the client can interrupt it. ".repeat(4);

/** Every scenario, in recording order (`resume` refers to an earlier one). */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: "plain",
    prompt: "Say hello.",
    script: [{ text: "Hello from the mock API, streamed in several pieces.", chunks: 6 }],
    asked: "thread/start (never, danger-full-access), one turn, a reply streamed in 6 deltas",
  },
  {
    name: "resume",
    prompt: "What did you just say?",
    script: [{ text: "I said hello.", chunks: 3 }],
    resume: "plain",
    asked: "a new app-server; thread/resume of plain's thread, a second turn on it",
    notes: "the tokenUsage totals include the first turn's (plain.jsonl)",
  },
  {
    name: "stale_resume",
    prompt: "Say hello.",
    script: [{ text: "Hello on a new thread.", chunks: 2 }],
    resume: "unknown",
    asked: "thread/resume of a random UUID codex never saw (fails), then thread/start and a turn",
    notes: "the recovery a backend does for a stale session file: a new thread in the same turn",
  },
  {
    name: "two_messages",
    prompt: "Run echo hi and tell me.",
    // The mock sends a reply's `text` after its tool call, so the model both
    // speaks and calls the tool: two agent messages in one turn.
    script: [
      { shell: "echo hi", via: "function", text: "Let me check." } as MockReply,
      { text: "It printed hi.", chunks: 3 },
    ],
    asked: "one turn: agent message + shell call, then a second agent message",
  },
  {
    name: "command",
    prompt: "Run echo hi.",
    script: [{ shell: "echo hi", via: "function" }, { text: "The command printed hi." }],
    execTwin: true,
    asked: "one turn with a shell call (two model calls: two thread/tokenUsage/updated)",
    notes: "same mock script and prompt as fixtures/<version>/command.jsonl (exec)",
  },
  {
    name: "plan",
    prompt: "Make a plan, then answer.",
    script: [
      { items: [planCall(["in_progress", "pending"])] },
      { items: [planCall(["completed", "completed"])] },
      { items: [outputMessage("Done with the plan.")] },
    ],
    // 0.169.0 and later offer update_plan only when configured so (0.135.0 always does).
    extra: ["-c", "tools.update_plan.enabled=true"],
    execTwin: true,
    asked: "one turn: update_plan twice (turn/plan/updated), then a reply",
  },
  {
    name: "web_search",
    prompt: "Search the web for the weather.",
    script: [
      {
        items: [
          {
            type: "web_search_call",
            id: "ws_raw",
            status: "completed",
            action: { type: "search", query: "weather in Paris" },
          },
          outputMessage("It is sunny."),
        ],
      },
    ],
    execTwin: true,
    asked: "one turn: a web_search_call output item, then a reply in the same response",
  },
  {
    name: "reasoning",
    prompt: "Think, then greet.",
    script: [{ reasoning: "The user wants a greeting.", text: "Hi there!" }],
    asked: "one turn: a reasoning item, then a reply",
  },
  {
    name: "reasoning_stream",
    prompt: "Think, then greet.",
    script: [{ reasoning: "The user wants a greeting.", text: "Hi there!", reasoningChunks: 3 }],
    asked: "one turn: a reasoning item whose summary streams in 3 deltas, then a reply",
  },
  {
    name: "usage_limit",
    prompt: "Say hello.",
    script: [{
      status: 429,
      body: JSON.stringify({
        error: {
          type: "usage_limit_reached",
          message: "The usage limit has been reached",
          plan_type: "plus",
          resets_at: Math.floor(Date.now() / 1000) + 1234,
          resets_in_seconds: 1234,
        },
      }),
    }],
    asked: "one turn; the API answers 429 usage_limit_reached, resetting in 1234 s",
    notes: "record with TZ=UTC: codex prints the reset time in local time",
  },
  {
    name: "file_change",
    prompt: "Create notes.txt.",
    script: [
      { items: [applyPatchCall("notes.txt", "first line")] },
      { items: [outputMessage("Created notes.txt.")] },
    ],
    execTwin: true,
    asked: "one turn: apply_patch adding a file (fileChange item), then a reply",
  },
  {
    name: "http_500",
    prompt: "Say hello.",
    script: [{ status: 500, body: '{"error":{"message":"mock server error"}}' }],
    asked: "one turn; the API answers 500, no retries (request_max_retries=0)",
  },
  {
    name: "unauthorized",
    prompt: "Say hello.",
    script: [{ status: 401, body: '{"error":{"message":"mock unauthorized"}}' }],
    asked: "one turn; the API answers 401",
  },
  {
    name: "retries_failed",
    prompt: "Say hello.",
    script: [{ status: 500, body: '{"error":{"message":"mock server error"}}' }],
    extra: [
      "-c",
      "model_providers.mock.stream_max_retries=2",
    ],
    asked:
      "one turn; every request answers 500, stream_max_retries=2: willRetry errors, then a final",
  },
  {
    name: "reconnect",
    prompt: "Say hello.",
    script: [{ hang: true }, { text: "Hello after a retry.", chunks: 2 }],
    extra: [
      "-c",
      "model_providers.mock.stream_max_retries=2",
      "-c",
      "model_providers.mock.stream_idle_timeout_ms=300",
    ],
    asked: "one turn; the first stream stalls, codex retries (willRetry: true) and succeeds",
  },
  {
    name: "interrupt",
    prompt: "Tell me a long story.",
    script: [{ text: SLOW_TEXT, chunks: 40, delayMs: 100 }],
    interruptAfterDeltas: 3,
    asked: "one turn streaming slowly; turn/interrupt after the third delta",
  },
  {
    name: "approval_decline",
    prompt: "Create a file.",
    script: [
      { shell: "touch made-by-shell.txt && echo hi-from-shell", via: "function" },
      { text: "The command was declined." },
    ],
    approvalPolicy: "untrusted",
    sandbox: "read-only",
    approval: "decline",
    asked:
      "thread/start (untrusted, read-only); the shell call asks item/commandExecution/requestApproval, answered {decision: decline}",
  },
];

function planCall(status: [string, string]): Record<string, unknown> {
  return {
    type: "function_call",
    id: `fc_plan_${status.join("_")}`,
    call_id: `call_plan_${status.join("_")}`,
    name: "update_plan",
    arguments: JSON.stringify({
      explanation: "Two steps.",
      plan: [{ step: "Look around", status: status[0] }, { step: "Answer", status: status[1] }],
    }),
  };
}

function applyPatchCall(path: string, line: string): Record<string, unknown> {
  return {
    type: "custom_tool_call",
    id: "ctc_patch",
    call_id: "call_patch",
    name: "apply_patch",
    input: `*** Begin Patch\n*** Add File: ${path}\n+${line}\n*** End Patch\n`,
  };
}

function outputMessage(text: string): Record<string, unknown> {
  return {
    type: "message",
    role: "assistant",
    id: "msg_raw",
    status: "completed",
    content: [{ type: "output_text", text, annotations: [] }],
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A minimal Responses API whose replies are given as raw output items (each
 * request gets the next reply; the last one repeats). The usage of every
 * response is that of dev/mock_api.ts.
 */
export function startRawMock(script: RawReply[]) {
  let next = 0;
  const requests: unknown[] = [];
  const sse = (type: string, data: Record<string, unknown>) =>
    enc.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    if (req.method !== "POST" || !new URL(req.url).pathname.endsWith("/responses")) {
      return new Response("not found", { status: 404 });
    }
    requests.push(await req.json().catch(() => ({})));
    const reply = script[Math.min(next++, script.length - 1)];
    const id = `resp_raw_${next}`;
    const chunks = [sse("response.created", { response: { id } })];
    for (const item of reply.items) {
      if (item.type === "message") {
        const content = item.content as { text: string }[];
        chunks.push(
          sse("response.output_item.added", {
            item: { ...item, status: "in_progress", content: [] },
          }),
          sse("response.output_text.delta", {
            item_id: item.id,
            output_index: 0,
            content_index: 0,
            delta: content[0].text,
          }),
        );
      }
      chunks.push(sse("response.output_item.done", { item }));
    }
    chunks.push(sse("response.completed", {
      response: {
        id,
        usage: {
          input_tokens: 120,
          input_tokens_details: { cached_tokens: 20 },
          output_tokens: 7,
          output_tokens_details: { reasoning_tokens: 3 },
          total_tokens: 127,
        },
      },
    }));
    return new Response(new Blob(chunks).stream(), {
      headers: { "content-type": "text/event-stream" },
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/v1`,
    requests,
    close: () => server.shutdown(),
  };
}

function startMock(s: Scenario) {
  const raw = s.script.length > 0 && "items" in s.script[0];
  return raw ? startRawMock(s.script as RawReply[]) : startMockApi(s.script as MockReply[]);
}

/**
 * A JSON-RPC session with one app-server process (a {@linkcode Peer} on
 * Codex's wire, without `"jsonrpc"`), keeping the transcript.
 */
class Session {
  readonly lines: TranscriptLine[] = [];
  readonly child: Deno.ChildProcess;
  /** Lines the app-server wrote that are no JSON-RPC message (a recording with any fails). */
  readonly invalid: (string | undefined)[] = [];
  #t0 = performance.now();
  #peer: Peer;
  #waiters: { pred: (m: TranscriptLine["msg"]) => boolean; resolve: () => void }[] = [];
  #stderr: Promise<string>;
  /** Answers server→client requests (approvals…); returns the `result` or throws for an error reply. */
  onRequest: (method: string, params: unknown) => unknown = () => {
    throw new Error("not supported by the recorder");
  };

  constructor(bin: string, argv: string[], cwd: string, env: Record<string, string>) {
    this.child = new Deno.Command(bin, {
      args: argv,
      cwd,
      clearEnv: true,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stderr = new Response(this.child.stderr).text();
    const transport = new LineTransport({
      readable: this.child.stdout,
      writable: this.child.stdin,
    });
    this.#peer = new Peer(transport, {
      jsonrpc: false,
      onTrace: (dir, msg) => {
        this.lines.push({ dir, ms: this.#ms(), msg });
        if (dir === "in") this.#wake(msg);
      },
      onRequest: (method, params) => {
        try {
          return this.onRequest(method, params);
        } catch (e) {
          throw new ErrorResponse(-32000, (e as Error).message);
        }
      },
      onInvalid: (line) => this.invalid.push(line),
    });
  }

  #ms() {
    return Math.round(performance.now() - this.#t0);
  }

  #wake(msg: TranscriptLine["msg"]) {
    for (const w of [...this.#waiters]) {
      if (w.pred(msg)) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Send a notification. */
  notify(method: string) {
    this.#peer.notify(method);
  }

  /** Resolves at the next incoming message matching `pred`; rejects after `ms`. */
  async waitFor(
    pred: (m: TranscriptLine["msg"]) => boolean,
    what: string,
    ms = 60_000,
  ): Promise<void> {
    const seen = new Promise<void>((resolve) => this.#waiters.push({ pred, resolve }));
    await deadline(seen, ms).catch(() => {
      throw new Error(`timed out waiting for ${what}`);
    });
  }

  /** Send a request; resolves `{result}` or `{error}`, as the response said. */
  async request(method: string, params: unknown): Promise<TranscriptLine["msg"]> {
    try {
      return { result: await this.#peer.request(method, params, { timeout: 60_000 }) };
    } catch (e) {
      if (!(e instanceof ErrorResponse)) throw e;
      return { error: { code: e.code, message: e.message } };
    }
  }

  /** Close stdin and wait for the exit (killing after 10 s). */
  async close() {
    await this.#peer.endOutput();
    if (!(await within(this.child.status, 10_000, undefined))) this.child.kill("SIGKILL");
    const status = await this.child.status;
    await this.#peer.closed;
    return { status, stderr: await this.#stderr };
  }
}

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
