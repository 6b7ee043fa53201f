/**
 * History replay: the text a NEW Codex thread gets when the host holds a
 * conversation Codex does not (no stored thread, a stale one replaced, a
 * conversation started elsewhere). The earlier messages go first, as one
 * delimited transcript with each message's role marked, then the prompt; all
 * of it is the thread's first user message, so later turns resume a thread
 * that has it and nothing is sent twice. Over {@linkcode HISTORY_MAX_CHARS},
 * only whole recent messages are kept (the tail of the newest when even it
 * alone is too long), and a note says what was cut.
 *
 * @example
 * ```ts
 * import { buildReplay } from "./history.ts";
 * const r = buildReplay([{ role: "user", text: "My name is Ada." },
 *   { role: "assistant", text: "Hello Ada!" }], "What is my name?");
 * r.replayed; // 2
 * r.text;     // "<earlier_conversation>\n...\n</earlier_conversation>\n\nWhat is my name?"
 * ```
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { HistoryMessage, TurnRequest } from "../turns/backend.ts";

/** Most characters of earlier messages replayed (the most recent ones are kept). */
export const HISTORY_MAX_CHARS = 100_000;

/** What a new thread is sent: `replayed` messages (whole or cut), `omitted` for the cap. */
export type Replay = { text: string; replayed: number; omitted: number };

const OPEN = "<earlier_conversation>";
const CLOSE = "</earlier_conversation>";
const INTRO = "The messages below come from earlier in this conversation, before this thread " +
  "started. Treat them as context; answer the message after the transcript.";

const block = (m: HistoryMessage) => `[${m.role}]\n${m.text}\n[/${m.role}]`;

/** The prompt, after a transcript of `history` (at most `maxChars` of text) when there is any. */
export function buildReplay(
  history: readonly HistoryMessage[],
  prompt: string,
  { maxChars: max = HISTORY_MAX_CHARS } = {},
): Replay {
  const kept: HistoryMessage[] = [];
  let used = 0;
  let cutText = false;
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i];
    if (used + m.text.length <= max) {
      kept.unshift(m);
      used += m.text.length;
      continue;
    }
    if (kept.length === 0) {
      // The newest message alone is over the cap: keep its end, the part nearest the prompt.
      kept.unshift({ role: m.role, text: `[…] ${m.text.slice(m.text.length - max)}` });
      cutText = true;
    }
    break;
  }
  if (kept.length === 0) return { text: prompt, replayed: 0, omitted: history.length };
  const omitted = history.length - kept.length;
  const notes: string[] = [];
  if (omitted > 0) {
    notes.push(
      `[${omitted} earlier message${omitted === 1 ? " was" : "s were"} left out: ` +
        `the transcript keeps the most recent ${max} characters]`,
    );
  }
  if (cutText) notes.push(`[the first message below was cut to its last ${max} characters]`);
  const transcript = [OPEN, INTRO, ...notes, ...kept.map(block), CLOSE].join("\n\n");
  return { text: `${transcript}\n\n${prompt}`, replayed: kept.length, omitted };
}

/**
 * The text a turn sends Codex, the same on both backends: the prompt, after
 * the replayed history for a new thread (not with `reset`, not without
 * `enabled`: config `replay_history`). A history cut for the cap is logged.
 */
export function turnText(
  req: Pick<TurnRequest, "prompt" | "history" | "reset" | "workspace">,
  o: { newThread: boolean; enabled: boolean; log: Logger },
): Replay {
  const replay = o.newThread && !req.reset && o.enabled && req.history?.length
    ? buildReplay(req.history, req.prompt)
    : { text: req.prompt, replayed: 0, omitted: 0 };
  if (replay.omitted > 0) {
    o.log.info("history longer than the replay cap; the oldest messages were left out", {
      workspace: req.workspace,
      omitted: replay.omitted,
    });
  }
  return replay;
}
