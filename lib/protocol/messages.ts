/**
 * A chat request's `messages`, reduced to what a turn needs: the prompt (the
 * last user message: its text and its images), the developer instructions
 * (the system messages, joined) and the history (the user and assistant
 * messages before the prompt, which a new Codex thread gets as a transcript;
 * a resumed thread already has them).
 *
 * Every text is made well-formed UTF-16 here (a lone surrogate, e.g. half of
 * a cut emoji, becomes U+FFFD), once for both backends: exec's stdin would
 * encode it so anyway, but the shared app-server never answers a request
 * holding one (issue 19.1), which stalled the turn and then, restarted, every
 * other workspace's.
 *
 * @example
 * ```ts
 * import { parseMessages } from "./messages.ts";
 * const r = parseMessages([
 *   { role: "user", content: "Hi" },
 *   { role: "assistant", content: "Hello!" },
 *   { role: "user", content: "What did I say?" },
 * ]);
 * if (r.ok) console.log(r.value.prompt, r.value.history.length); // "What did I say?" 2
 * ```
 *
 * @module
 */
import { addError, addErrors } from "./field_errors.ts";
import type { FieldError } from "../config.ts";
import { err, ok, type Result } from "../result.ts";
import type { HistoryMessage, ImageInput } from "../turns/backend.ts";
import { MAX_IMAGES, parseContent } from "./content.ts";

/** What the messages of a valid chat request hold. */
export interface ParsedMessages {
  prompt: string;
  /** Images of the last user message. */
  images: ImageInput[];
  system?: string;
  /** User and assistant messages before the prompt, oldest first, images as placeholders. */
  history: HistoryMessage[];
}

const ROLES = new Set(["system", "user", "assistant"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validate `messages` (already known to be an array); one error per bad field or part. */
export function parseMessages(messages: unknown[]): Result<ParsedMessages, FieldError[]> {
  const errors: FieldError[] = [];
  const bad = (field: string, message: string) => addError(errors, { field, message }); // bounded
  const last = messages.findLastIndex((m) => isObject(m) && m.role === "user");
  const parsed: { role: string; text: string }[] = [];
  let images: ImageInput[] = [];
  let imageCount = 0;
  messages.forEach((m, i) => {
    if (!isObject(m)) return bad(`messages[${i}]`, "must be an object {role, content}");
    if (!ROLES.has(m.role as string)) {
      bad(`messages[${i}].role`, "must be system, user or assistant");
    }
    const c = parseContent(m.content, `messages[${i}].content`, i === last, m.role === "user");
    if (!c.ok) return addErrors(errors, c.error);
    imageCount += c.value.imageCount;
    if (i === last) images = c.value.images;
    parsed[i] = { role: m.role as string, text: c.value.text.toWellFormed() };
  });
  if (last < 0) bad("messages", "must contain a user message");
  else if (parsed[last] && !parsed[last].text.trim()) {
    // Codex refuses an empty prompt ("No prompt provided"): say so before starting it.
    bad(`messages[${last}].content`, "must not be empty: the last user message is the prompt");
  }
  if (imageCount > MAX_IMAGES) {
    bad("messages", `carry ${imageCount} images; at most ${MAX_IMAGES} are accepted`);
  }
  if (errors.length) return err(errors);
  const history: HistoryMessage[] = [];
  for (const m of parsed.slice(0, last)) {
    if ((m.role === "user" || m.role === "assistant") && m.text.trim()) {
      history.push({ role: m.role, text: m.text });
    }
  }
  return ok({
    prompt: parsed[last].text,
    images,
    system: parsed.filter((m) => m.role === "system").map((m) => m.text).join("\n\n") ||
      undefined,
    history,
  });
}
