/**
 * Codex items as the contract's neutral activity items (lib/turns/backend.ts).
 * The mapping is written once, for the item shape `codex exec --json` prints
 * (protocol v1 first documented that shape); the app-server's camelCase items
 * are first put into that shape (app_server/events.ts), so both backends give
 * the same activity for the same work. Command output is cut to its last
 * 4096 characters.
 *
 * @example
 * ```ts
 * import { toActivity } from "./activity.ts";
 * toActivity({ id: "i", type: "web_search", query: "deno" });
 * // { id: "i", type: "web_search", query: "deno" }
 * ```
 *
 * @module
 */
import type { ActivityItem, ActivityStatus } from "../turns/backend.ts";

/** A Codex item (`agent_message`, `command_execution`, `file_change`, ...). */
export interface CodexItem {
  id: string;
  type: string;
  text?: string;
  [k: string]: unknown;
}

const MAX_ACTIVITY_OUTPUT = 4096;

/** The neutral activity item for an exec-shaped item, or undefined for items that are not activity. */
export function toActivity(item: CodexItem): ActivityItem | undefined {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const status = (v: unknown): ActivityStatus =>
    v === "completed" || v === "failed" || v === "declined" ? v : "in_progress";
  const id = str(item.id);
  switch (item.type) {
    case "command_execution": {
      const out = str(item.aggregated_output);
      const cut = out.length > MAX_ACTIVITY_OUTPUT;
      return {
        id,
        type: "command_execution",
        command: str(item.command),
        aggregated_output: cut ? out.slice(-MAX_ACTIVITY_OUTPUT) : out,
        exit_code: typeof item.exit_code === "number" ? item.exit_code : null,
        status: status(item.status),
        ...(cut && { output_truncated: true as const }),
      };
    }
    case "file_change": {
      const changes = Array.isArray(item.changes) ? item.changes : [];
      return {
        id,
        type: "file_change",
        changes: changes.map((c) => ({
          path: str(c?.path),
          kind: c?.kind === "add" || c?.kind === "delete" ? c.kind : "update",
        })),
        status: status(item.status),
      };
    }
    case "mcp_tool_call": {
      const err = item.error as { message?: unknown } | null | undefined;
      return {
        id,
        type: "mcp_tool_call",
        server: str(item.server),
        tool: str(item.tool),
        status: status(item.status),
        ...(err && { error: str(err.message) || "tool call failed" }),
      };
    }
    case "web_search":
      return { id, type: "web_search", query: str(item.query) };
    case "todo_list": {
      const items = Array.isArray(item.items) ? item.items : [];
      return {
        id,
        type: "todo_list",
        items: items.map((t) => ({ text: str(t?.text), completed: t?.completed === true })),
      };
    }
  }
  return undefined;
}
