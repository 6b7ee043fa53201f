/**
 * `codex exec --json` items as the contract's neutral activity items
 * (lib/turns/backend.ts; protocol v1 first documented exec's shape), and the
 * rules both backends share: command output cut to its last 4096
 * characters, statuses (`inProgress` and `in_progress` alike) as the
 * contract's. The app-server maps its items straight to the neutral item
 * with the same rules (app_server/notifications.ts), so both backends give the same
 * activity for the same work.
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

/** Most characters of command output in an activity item (the last ones are kept). */
export const MAX_ACTIVITY_OUTPUT = 4096;

/** A status as the contract's: anything not ended is `in_progress`. */
export function activityStatus(v: unknown): ActivityStatus {
  return v === "completed" || v === "failed" || v === "declined" ? v : "in_progress";
}

/** Command output as an activity item carries it: its last {@linkcode MAX_ACTIVITY_OUTPUT} characters. */
export function commandOutput(out: string): { aggregated_output: string; output_truncated?: true } {
  return out.length > MAX_ACTIVITY_OUTPUT
    ? { aggregated_output: out.slice(-MAX_ACTIVITY_OUTPUT), output_truncated: true }
    : { aggregated_output: out };
}

/** The neutral activity item for an exec item, or undefined for items that are not activity. */
export function toActivity(item: CodexItem): ActivityItem | undefined {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const status = activityStatus;
  const id = str(item.id);
  switch (item.type) {
    case "command_execution":
      return {
        id,
        type: "command_execution",
        command: str(item.command),
        ...commandOutput(str(item.aggregated_output)),
        exit_code: typeof item.exit_code === "number" ? item.exit_code : null,
        status: status(item.status),
      };
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
