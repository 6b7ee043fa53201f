/**
 * How a turn ends, written once for both backends, the turn runner and the
 * scheduler: a failed turn emits exactly one `error` event and resolves with
 * `stop_reason: "error"`; a cancelled turn emits nothing more.
 *
 * @example
 * ```ts
 * import { cancelledTurn, failTurn, TurnFailure } from "./outcome.ts";
 * const emit = (ev: unknown) => console.log(ev);
 * const r = failTurn({ emit }, new TurnFailure("timeout", "codex sent nothing for 600s"));
 * // emits { type: "error", code: "timeout", message: "codex sent nothing for 600s" }
 * console.log(r.stop_reason, cancelledTurn().stop_reason); // "error" "cancelled"
 * ```
 *
 * @module
 */
import type { ErrorCode, PlexumEvent, TurnResult } from "./backend.ts";

/** Why a turn failed: its one `error` event (`retryAfter`: `rate_limited`'s seconds, if said). */
export class TurnFailure {
  constructor(readonly code: ErrorCode, readonly message: string, readonly retryAfter?: number) {}
}

/** What a result says besides how it stopped (`replayed_messages` 0: left out). */
export interface OutcomeFields {
  thread_id?: string | null;
  replayed_messages?: number;
}

function fields(f: OutcomeFields): Pick<TurnResult, "thread_id" | "replayed_messages"> {
  const n = f.replayed_messages;
  return { thread_id: f.thread_id ?? null, ...(n && n > 0 && { replayed_messages: n }) };
}

/** Emit the turn's one error event; the result of the failed turn. */
export function failTurn(
  sink: { emit(ev: PlexumEvent): void },
  failure: TurnFailure,
  f: OutcomeFields = {},
): TurnResult {
  const { code, message, retryAfter } = failure;
  const retry = retryAfter === undefined ? {} : { retry_after_s: retryAfter };
  sink.emit({ type: "error", code, message, ...retry });
  return { stop_reason: "error", usage: null, ...fields(f) };
}

/** The result of a cancelled turn (nothing is emitted). */
export function cancelledTurn(f: OutcomeFields = {}): TurnResult {
  return { stop_reason: "cancelled", usage: null, ...fields(f) };
}
