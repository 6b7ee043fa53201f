/**
 * A minimal Responses API whose replies are given as raw output items, for
 * the app-server scenarios whose model output dev/mock_api.ts cannot script
 * (a plan update, a patch): each request gets the next reply, the last one
 * repeats, and every response has dev/mock_api.ts's usage.
 *
 * @example
 * ```ts
 * import { startRawMock } from "./raw_mock_api.ts";
 * const api = startRawMock([{ items: [{ type: "message", role: "assistant", content: [] }] }]);
 * console.log(api.baseUrl);
 * await api.close();
 * ```
 *
 * @module
 */

/** A reply of {@linkcode startRawMock}: Responses API output items, sent as they are. */
export interface RawReply {
  items: Record<string, unknown>[];
}

const enc = new TextEncoder();

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
