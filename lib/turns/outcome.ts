/**
 * How a turn ends, written once: a failed turn emits exactly one `error`
 * event (the contract of `Backend` in backend.ts) and resolves with
 * `stop_reason: "error"`; a cancelled turn emits nothing more. Every place
 * that ends a turn (both backends, the turn runner, the scheduler) builds its
 * result here, so the rule cannot drift between them.
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

/** Why a turn failed: the content of its one `error` event. */
export class TurnFailure {
  constructor(
    readonly code: ErrorCode,
    readonly message: string,
    /** `rate_limited` only: seconds until the limit resets, when Codex said. */
    readonly retryAfter?: number,
  ) {}
}

/** What a result says besides how it stopped. */
export interface OutcomeFields {
  /** The workspace's thread, when the turn knew it. */
  thread_id?: string | null;
  /** How many earlier messages a new thread was given (0: the field is left out). */
  replayed_messages?: number;
}

function fields(f: OutcomeFields): Pick<TurnResult, "thread_id" | "replayed_messages"> {
  return {
    thread_id: f.thread_id ?? null,
    ...(f.replayed_messages && f.replayed_messages > 0 &&
      { replayed_messages: f.replayed_messages }),
  };
}

/** Emit the turn's one error event; the result of the failed turn. */
export function failTurn(
  sink: { emit(ev: PlexumEvent): void },
  failure: TurnFailure,
  f: OutcomeFields = {},
): TurnResult {
  sink.emit({
    type: "error",
    code: failure.code,
    message: failure.message,
    ...(failure.retryAfter !== undefined && { retry_after_s: failure.retryAfter }),
  });
  return { stop_reason: "error", usage: null, ...fields(f) };
}

/** The result of a cancelled turn (nothing is emitted). */
export function cancelledTurn(f: OutcomeFields = {}): TurnResult {
  return { stop_reason: "cancelled", usage: null, ...fields(f) };
}
