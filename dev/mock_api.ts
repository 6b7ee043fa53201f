/**
 * A scripted mock of the OpenAI Responses API (`POST /v1/responses`, server-sent
 * events) on 127.0.0.1, so the real Codex CLI runs offline in tests, the demo
 * and the benchmarks.
 *
 * Each request is answered by the next {@linkcode MockReply} in the script (the
 * last one repeats). Every request body is kept so tests can prove what Codex
 * sent, e.g. that a resumed turn carries the first turn's history.
 *
 * @example
 * ```ts
 * const api = startMockApi([{ text: "hello" }]);
 * // codex ... -c model_provider=mock -c 'model_providers.mock={...base_url=api.baseUrl...}'
 * await api.close();
 * ```
 */

/** One scripted answer of the mock. */
export type MockReply =
  | { text: string; chunks?: number; delayMs?: number }
  | { status: number; body?: string; headers?: Record<string, string> }
  | { hang: true; text?: string }
  | { shell: string; via?: "function" | "code"; text?: string }
  /** Responses API output items sent verbatim (apply_patch, update_plan, web_search_call, ...). */
  | { items: Record<string, unknown>[] }
  /** A reasoning item (its summary streamed in `reasoningChunks` deltas when given), then text. */
  | { reasoning: string; text: string; reasoningChunks?: number };

/** A running mock API. */
export interface MockApi {
  /** `http://127.0.0.1:PORT/v1` */
  baseUrl: string;
  /** Bodies of every `POST /v1/responses` so far, parsed. */
  requests: Record<string, unknown>[];
  /** The `Authorization` header of each of those requests (null when absent). */
  authorizations: (string | null)[];
  /** For each request (same index): when it arrived and when its response ended (`performance.now()`). */
  timings: { start: number; end?: number }[];
  /** Replace the script; the next request gets its first reply. */
  setScript(script: MockReply[]): void;
  /** Stop serving and drop open streams. */
  close(): Promise<void>;
}

const enc = new TextEncoder();

function sse(type: string, data: Record<string, unknown>): Uint8Array {
  return enc.encode(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
}

let seq = 0;
function id(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${(seq++).toString(36)}`;
}

function usage(): Record<string, unknown> {
  return {
    input_tokens: 120,
    input_tokens_details: { cached_tokens: 20 },
    output_tokens: 7,
    output_tokens_details: { reasoning_tokens: 3 },
    total_tokens: 127,
  };
}

function message(text: string) {
  return {
    type: "message",
    role: "assistant",
    id: id("msg"),
    status: "completed",
    content: [{ type: "output_text", text, annotations: [] }],
  };
}

function events(reply: MockReply, respId: string): Uint8Array[] {
  const out = [sse("response.created", { response: { id: respId } })];
  if ("items" in reply) {
    for (const item of reply.items) out.push(sse("response.output_item.done", { item }));
  } else if ("shell" in reply) {
    // Codex <= 0.135 exposes `exec_command` as a function; later releases put tools
    // behind a JavaScript `exec` custom tool ("code mode").
    const item = reply.via === "code"
      ? {
        type: "custom_tool_call",
        id: id("ctc"),
        call_id: id("call"),
        name: "exec",
        input: `await tools.exec_command(${JSON.stringify({ cmd: reply.shell })});`,
      }
      : {
        type: "function_call",
        id: id("fc"),
        call_id: id("call"),
        name: "exec_command",
        arguments: JSON.stringify({ cmd: reply.shell }),
      };
    out.push(sse("response.output_item.done", { item }));
  } else if ("reasoning" in reply) {
    const item = {
      type: "reasoning",
      id: id("rs"),
      summary: [{ type: "summary_text", text: reply.reasoning }],
    };
    if (reply.reasoningChunks) {
      // As the API streams a reasoning summary: the item, then its summary text in deltas.
      const at = { item_id: item.id, output_index: 0, summary_index: 0 };
      out.push(sse("response.output_item.added", { item: { ...item, summary: [] } }));
      out.push(sse("response.reasoning_summary_part.added", {
        ...at,
        part: { type: "summary_text", text: "" },
      }));
      const size = Math.ceil(reply.reasoning.length / reply.reasoningChunks) || 1;
      for (let i = 0; i < reply.reasoning.length; i += size) {
        out.push(sse("response.reasoning_summary_text.delta", {
          ...at,
          delta: reply.reasoning.slice(i, i + size),
        }));
      }
      out.push(sse("response.reasoning_summary_text.done", { ...at, text: reply.reasoning }));
    }
    out.push(sse("response.output_item.done", { item }));
  }
  if ("text" in reply && reply.text !== undefined && !("hang" in reply)) {
    const msg = message(reply.text);
    out.push(
      sse("response.output_item.added", { item: { ...msg, status: "in_progress", content: [] } }),
    );
    const n = Math.max(1, "chunks" in reply ? reply.chunks ?? 1 : 1);
    const size = Math.ceil(reply.text.length / n) || 1;
    for (let i = 0; i < reply.text.length; i += size) {
      out.push(
        sse("response.output_text.delta", {
          item_id: msg.id,
          output_index: 0,
          content_index: 0,
          delta: reply.text.slice(i, i + size),
        }),
      );
    }
    out.push(sse("response.output_item.done", { item: msg }));
  }
  out.push(sse("response.completed", { response: { id: respId, usage: usage() } }));
  return out;
}

/** Options of {@linkcode startMockApi}. */
export interface MockOptions {
  /** Choose the reply from the request body (e.g. echo a tag); `undefined` falls back to the script. */
  reply?: (body: Record<string, unknown>) => MockReply | undefined;
}

/** Start the mock on an ephemeral port of 127.0.0.1. */
export function startMockApi(
  initial: MockReply[] = [{ text: "ok" }],
  opts: MockOptions = {},
): MockApi {
  let script = initial;
  let next = 0;
  const requests: Record<string, unknown>[] = [];
  const authorizations: (string | null)[] = [];
  const timings: { start: number; end?: number }[] = [];
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      if (req.method !== "POST" || !url.pathname.endsWith("/responses")) {
        return new Response("not found", { status: 404 });
      }
      const parsed = await req.json().catch(() => ({}));
      requests.push(parsed);
      authorizations.push(req.headers.get("authorization"));
      const timing: { start: number; end?: number } = { start: performance.now() };
      timings.push(timing);
      const scripted = script[Math.min(next++, script.length - 1)];
      const reply = opts.reply?.(parsed) ?? scripted;
      if ("status" in reply) {
        timing.end = performance.now();
        const body = reply.body ??
          JSON.stringify({
            error: {
              message: "Incorrect API key provided",
              type: "invalid_request_error",
              code: "invalid_api_key",
            },
          });
        return new Response(body, {
          status: reply.status,
          headers: { "content-type": "application/json", ...reply.headers },
        });
      }
      const respId = id("resp");
      const chunks = events(reply, respId);
      const delay = "delayMs" in reply ? reply.delayMs ?? 0 : 0;
      const body = new ReadableStream<Uint8Array>({
        async start(c) {
          streams.add(c);
          if ("hang" in reply) {
            c.enqueue(chunks[0]);
            return; // never finishes
          }
          for (const chunk of chunks) {
            if (delay) await new Promise((r) => setTimeout(r, delay));
            try {
              c.enqueue(chunk);
            } catch {
              return;
            }
          }
          streams.delete(c);
          timing.end = performance.now();
          c.close();
        },
        cancel() {
          streams.clear();
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    },
  );
  const addr = server.addr as Deno.NetAddr;
  return {
    baseUrl: `http://127.0.0.1:${addr.port}/v1`,
    requests,
    authorizations,
    timings,
    setScript(s) {
      script = s;
      next = 0;
    },
    async close() {
      for (const c of streams) {
        try {
          c.error(new Error("closed"));
        } catch { /* already closed */ }
      }
      await server.shutdown();
    },
  };
}

/**
 * The `-c` overrides and environment that point Codex at a mock.
 *
 * @example
 * ```ts
 * const { args, env } = mockCodexSetup(api.baseUrl, codexHome);
 * ```
 */
export function mockCodexSetup(
  baseUrl: string,
  codexHome: string,
): { args: string[]; env: Record<string, string> } {
  return {
    args: [
      "-c",
      "model_provider=mock",
      "-c",
      `model_providers.mock={name="mock",base_url="${baseUrl}",wire_api="responses",env_key="MOCK_KEY",request_max_retries=0,stream_max_retries=0}`,
    ],
    env: { CODEX_HOME: codexHome, MOCK_KEY: "x" },
  };
}
