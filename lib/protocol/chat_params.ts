/**
 * The params of a `chat` request, validated field by field (one error per
 * bad field, as `-32602` `data.errors` wants them) and reduced to what a turn
 * needs: the prompt (the last user message, its text and images), the
 * developer instructions (the system messages, joined) and the history (user
 * and assistant messages before the prompt, which a new Codex thread gets as
 * a transcript; a resumed thread has them already).
 *
 * Every text is made well-formed UTF-16 (a lone surrogate becomes U+FFFD)
 * once for both backends: the shared app-server never answers a request
 * holding one (issue 19.1), which stalled every workspace's turns.
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
import type { HistoryMessage, ImageInput } from "../turns/backend.ts";
import { MAX_IMAGES, parseContent } from "./content.ts";

/** A valid chat request, ready to run. */
export interface ChatParams {
  turnId: string;
  /** Absolute path of an existing directory. */
  workspace: string;
  prompt: string;
  /** Images of the last user message. */
  images?: ImageInput[];
  /** User and assistant messages before the prompt, oldest first, images as placeholders. */
  history?: HistoryMessage[];
  system?: string;
  /** An advertised model id (the first advertised when the request names none). */
  model: string;
  reset: boolean;
}

type Messages = Pick<ChatParams, "prompt" | "system"> & {
  images: ImageInput[];
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
