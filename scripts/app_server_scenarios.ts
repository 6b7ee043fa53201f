/**
 * The scenarios scripts/record_app_server.ts records, one per behaviour of
 * the app-server the plugin maps (a reply, a resume, a command, a plan, a
 * usage limit, an interrupt, …), with the mock API's script for each. A few
 * need model output dev/mock_api.ts cannot script (a plan update, a patch):
 * those give raw Responses items, served by scripts/raw_mock_api.ts.
 *
 * @example
 * ```ts
 * import { SCENARIOS } from "./app_server_scenarios.ts";
 * console.log(SCENARIOS.map((s) => s.name));
 * ```
 *
 * @module
 */
import { type MockReply, startMockApi } from "../dev/mock_api.ts";
import { type RawReply, startRawMock } from "./raw_mock_api.ts";

export type { RawReply } from "./raw_mock_api.ts";

/** How the client treats a scenario's turn. */
export interface Scenario {
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

/** The mock API of a scenario: dev/mock_api.ts, or raw items. */
export function startMock(s: Scenario) {
  const raw = s.script.length > 0 && "items" in s.script[0];
  return raw ? startRawMock(s.script as RawReply[]) : startMockApi(s.script as MockReply[]);
}
