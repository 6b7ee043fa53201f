/**
 * The params of a `chat` request, validated field by field (one error per
 * bad field, as `-32602` `data.errors` wants them) and reduced to what a turn
 * needs: the prompt (the last user message, its text and images), the
 * developer instructions (the system messages, joined) and the history (user
 * and assistant messages before the prompt, which a new Codex thread gets as
 * a transcript; a resumed thread has them already).
 *
 * A message's `content` is a string or text and image parts; each bad part is
 * reported on its own (`messages[i].content[j]`). Images are checked before
 * any turn starts (base64, type, size, and bytes that start as the type
 * does: a JPEG labelled PNG reaches the model as garbage); only the prompt's
 * are kept, earlier ones become placeholder text. Every text is made
 * well-formed UTF-16 once for both backends: the shared app-server never
 * answers a request holding a lone surrogate (issue 19.1).
 *
 * @example
 * ```ts
 * import { parseChatParams } from "./chat_params.ts";
 * const params = { turn_id: "t1", agent: { id: "a", workspace: "/srv/agent" }, messages: [] };
 * const r = parseChatParams(params, { models: ["codex"], inFlight: () => false });
 * if (!r.ok) console.error(r.error); // [{ field: "messages", message: "…" }]
 * else console.log(r.value.prompt);
 * ```
 *
 * @module
 */
import { err, ok, type Result } from "../result.ts";
import type { FieldError } from "../config.ts";
import { addError, addErrors } from "./field_errors.ts";
import {
  type HistoryMessage,
  IMAGE_MIME_TYPES,
  type ImageInput,
  type ImageMimeType,
} from "../turns/backend.ts";
import { parseTurnOptions, type TurnOptions } from "./turn_options.ts";

/** A valid chat request, ready to run (`model`: the first advertised when it names none). */
export interface ChatParams extends TurnOptions {
  turnId: string;
  workspace: string;
  prompt: string;
  images?: ImageInput[];
  history?: HistoryMessage[];
  system?: string;
  model: string;
  reset: boolean;
}

type Messages = {
  prompt: string;
  images: ImageInput[];
  system?: string;
  history: HistoryMessage[];
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Validate `p`; `models` are the advertised ids, `inFlight` tells a turn id in use. */
export function parseChatParams(
  p: Record<string, unknown>,
  opts: { models: string[]; inFlight: (turnId: string) => boolean },
): Result<ChatParams, FieldError[]> {
  const errors: FieldError[] = [];
  const bad = (field: string, message: string) => addError(errors, { field, message }); // bounded
  if (typeof p.turn_id !== "string" || p.turn_id === "") {
    bad("turn_id", "must be a non-empty string");
  } else if (opts.inFlight(p.turn_id)) bad("turn_id", "is already in flight");
  const agent = p.agent;
  if (!isObject(agent)) {
    bad("agent", "must be an object {id, workspace}");
  } else {
    if (typeof agent.id !== "string" || agent.id === "") {
      bad("agent.id", "must be a non-empty string");
    }
    const wsProblem = workspaceProblem(agent.workspace);
    if (wsProblem) bad("agent.workspace", wsProblem);
  }
  const { models } = opts;
  if (p.model !== undefined && (typeof p.model !== "string" || !models.includes(p.model))) {
    bad("model", `must be one of the advertised models: ${models.join(", ")}`);
  }
  if (p.reset !== undefined && typeof p.reset !== "boolean") bad("reset", "must be a boolean");
  const options = parseTurnOptions(p, bad); // reasoning_effort, output_schema (./turn_options.ts)
  let msgs: Messages | undefined;
  if (!Array.isArray(p.messages)) bad("messages", "must be an array");
  else {
    const m = parseMessages(p.messages);
    if (!m.ok) addErrors(errors, m.error);
    else msgs = m.value;
  }
  if (errors.length) return err(errors);
  const { prompt, images, system, history } = msgs!;
  return ok({
    turnId: p.turn_id as string,
    workspace: (agent as { workspace: string }).workspace,
    prompt,
    ...(images.length > 0 && { images }),
    ...(history.length > 0 && { history }),
    system,
    model: (p.model as string | undefined) ?? models[0],
    reset: p.reset === true,
    ...options,
  });
}

const ROLES = new Set(["system", "user", "assistant"]);

/** Validate `messages` (already known to be an array); one error per bad field or part. */
export function parseMessages(messages: unknown[]): Result<Messages, FieldError[]> {
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
  const history = parsed.slice(0, last).filter((m) =>
    (m.role === "user" || m.role === "assistant") && m.text.trim()
  ) as HistoryMessage[];
  const system = parsed.filter((m) => m.role === "system").map((m) => m.text).join("\n\n");
  return ok({ prompt: parsed[last].text, images, system: system || undefined, history });
}

/** Largest image accepted, decoded (the OpenAI API's own limit is 20 MB). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
/** Most images one chat request may carry, over all its messages. */
export const MAX_IMAGES = 16;

/** A message's text (parts joined with newlines), its images (with `decode`) and their count. */
type Content = { text: string; images: ImageInput[]; imageCount: number };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** How each supported type's bytes begin (`b`: the first 12 bytes, as a binary string). */
const MAGIC: Record<ImageMimeType, (b: string) => boolean> = {
  "image/png": (b) => b.startsWith("\x89PNG\r\n\x1a\n"),
  "image/jpeg": (b) => b.startsWith("\xff\xd8\xff"),
  "image/gif": (b) => b.startsWith("GIF8"),
  "image/webp": (b) => b.startsWith("RIFF") && b.slice(8, 12) === "WEBP",
};

/** The text an image of an earlier message becomes in a replayed transcript. */
function imagePlaceholder(mime: string, n: number): string {
  const size = n < 1024
    ? `${n} bytes`
    : n < 1024 * 1024
    ? `${(n / 1024).toFixed(1)} KiB`
    : `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `[image: ${mime}, ${size}; not available in this thread]`;
}

/** Check one image part: its type and decoded size. */
function parseImage(
  part: Record<string, unknown>,
): Result<{ mime: ImageMimeType; bytes: number }, string> {
  const mime = part.mime_type;
  if (typeof mime !== "string" || !(IMAGE_MIME_TYPES as readonly string[]).includes(mime)) {
    return err(`mime_type must be one of ${IMAGE_MIME_TYPES.join(", ")}`);
  }
  const data = part.data;
  if (typeof data !== "string" || data === "") return err("data must be a non-empty base64 string");
  if (data.length % 4 !== 0 || !BASE64.test(data)) {
    return err("data is not valid base64 (standard alphabet, padded, no line breaks)");
  }
  const bytes = (data.length / 4) * 3 - (data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0);
  if (bytes > MAX_IMAGE_BYTES) {
    return err(`image is ${bytes} bytes; at most ${MAX_IMAGE_BYTES} (20 MiB) are accepted`);
  }
  // The first 16 characters give the 12 bytes the signatures need.
  if (!MAGIC[mime as ImageMimeType](atob(data.slice(0, 16)))) {
    return err(`data is not a ${mime.slice("image/".length).toUpperCase()} image`);
  }
  return ok({ mime: mime as ImageMimeType, bytes });
}

/**
 * Parse a message's `content` (named `field` in errors). `decode`: keep the
 * images (the prompt's); `allowImages`: false for roles that may not carry any.
 */
export function parseContent(
  content: unknown,
  field: string,
  decode: boolean,
  allowImages = true,
): Result<Content, FieldError[]> {
  if (typeof content === "string") return ok({ text: content, images: [], imageCount: 0 });
  if (!Array.isArray(content)) {
    return err([{ field, message: "must be a string or an array of text and image parts" }]);
  }
  const errors: FieldError[] = [];
  const texts: string[] = [];
  const images: ImageInput[] = [];
  let imageCount = 0;
  content.forEach((part, j) => {
    const bad = (message: string) => addError(errors, { field: `${field}[${j}]`, message });
    if (!isObject(part)) return bad("must be an object {type, ...}");
    if (part.type === "text") {
      if (typeof part.text !== "string") bad("text must be a string");
      else texts.push(part.text);
    } else if (part.type === "image") {
      if (!allowImages) return bad("images are accepted in user messages only");
      imageCount++;
      const r = parseImage(part);
      if (!r.ok) return bad(r.error);
      if (decode) images.push({ mime_type: r.value.mime, base64: part.data as string });
      else texts.push(imagePlaceholder(r.value.mime, r.value.bytes));
    } else bad('type must be "text" or "image"');
  });
  if (errors.length) return err(errors);
  return ok({ text: texts.join("\n"), images, imageCount });
}

/** Kernel pseudo filesystems and device trees: never a workspace. */
const PSEUDO: Record<string, string> = {
  "/proc": "/proc, the kernel's pseudo filesystem",
  "/sys": "/sys, the kernel's pseudo filesystem",
  "/dev": "/dev, the device tree",
};

/** The pseudo filesystem `path` is in (`.`, `..`, `//` resolved, no symlinks), described. */
function pseudo(path: string): string | undefined {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") out.pop();
    else if (part !== "" && part !== ".") out.push(part);
  }
  const p = "/" + out.join("/");
  for (const [root, what] of Object.entries(PSEUDO)) {
    if (p === root) return what;
    if (p.startsWith(`${root}/`)) return `${p}, inside ${what}`;
  }
  return undefined;
}

/**
 * What is wrong with `path` as `agent.workspace`, in words an operator can
 * act on, or undefined for an absolute path of an existing directory outside
 * /proc, /sys and /dev (where Deno, without --allow-all, said "does not exist").
 */
export function workspaceProblem(path: unknown): string | undefined {
  if (typeof path !== "string" || !path.startsWith("/")) return "must be an absolute path";
  if (path.includes("\0")) return "must not contain a NUL character";
  const named = pseudo(path);
  if (named) return `is ${named}, not a workspace directory`;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "does not exist";
    if (e instanceof Deno.errors.PermissionDenied) {
      return "cannot be reached: permission denied (the plugin's user needs search access to every directory on the path)";
    }
    if (e instanceof Deno.errors.NotADirectory) {
      return "does not exist (a part of the path is a file)";
    }
    return `cannot be used: ${(e as Error).message}`;
  }
  if (!info.isDirectory) return "is not a directory";
  try {
    const real = pseudo(Deno.realPathSync(path));
    if (real) return `leads to ${real} (through a symlink), not a workspace directory`;
  } catch { /* checked by stat above; a race is harmless here */ }
  return undefined;
}
