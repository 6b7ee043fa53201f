/**
 * App-server items and token counts straight to the contract's shapes: a
 * `commandExecution`, `fileChange`, `mcpToolCall` or `webSearch` item to the
 * neutral activity item (lib/turns/backend.ts), `TokenUsageBreakdown` to the
 * one {@linkcode Totals} shape (exec's names). The rules both backends share
 * (output cut to its last 4096 characters, statuses) come from
 * ../turn_runner.ts, so the same work gives the same activity on either.
 *
 * Read defensively: the wire is typed (./wire.ts), not validated.
 *
 * @example
 * ```ts
 * import { activityOf } from "./items.ts";
 * activityOf({ type: "webSearch", id: "ws_1", query: "deno" });
 * // { id: "ws_1", type: "web_search", query: "deno" }
 * ```
 *
 * @module
 */
import type { ActivityItem } from "../../turns/backend.ts";
import { activityStatus, commandOutput } from "../turn_runner.ts";
import type { Totals } from "../usage.ts";
import type { ThreadItem, TokenUsageBreakdown } from "./wire.ts";

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The neutral activity item of an app-server item; undefined for items that are not activity. */
export function activityOf(item: ThreadItem): ActivityItem | undefined {
  const id = str(item.id);
  switch (item.type) {
    case "commandExecution":
      return {
        id,
        type: "command_execution",
        command: str(item.command),
        ...commandOutput(str(item.aggregatedOutput)),
        exit_code: typeof item.exitCode === "number" ? item.exitCode : null,
        status: activityStatus(item.status),
      };
    case "fileChange":
      return {
        id,
        type: "file_change",
        changes: (Array.isArray(item.changes) ? item.changes : []).map((c) => ({
          path: str(c?.path),
          kind: c?.kind?.type === "add" || c?.kind?.type === "delete" ? c.kind.type : "update",
        })),
        status: activityStatus(item.status),
      };
    case "mcpToolCall":
      return {
        id,
        type: "mcp_tool_call",
        server: str(item.server),
        tool: str(item.tool),
        status: activityStatus(item.status),
        ...(item.error && { error: str(item.error.message) || "tool call failed" }),
      };
    case "webSearch":
      return { id, type: "web_search", query: str(item.query) };
  }
  return undefined;
}

/** The thread's totals in exec's names; `cache_write_input_tokens` only when reported (0.169.0+). */
export function totalsFromWire(t: TokenUsageBreakdown): Totals {
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    input_tokens: n(t.inputTokens),
    cached_input_tokens: n(t.cachedInputTokens),
    output_tokens: n(t.outputTokens),
    reasoning_output_tokens: n(t.reasoningOutputTokens),
    ...(typeof t.cacheWriteInputTokens === "number" &&
      { cache_write_input_tokens: t.cacheWriteInputTokens }),
  };
}
