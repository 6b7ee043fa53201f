/**
 * The `content` of one chat message: a string, or an array of parts
 * (`{type: "text", text}`, `{type: "image", mime_type, data}` with `data` in
 * base64). Each bad part is reported on its own, named
 * `messages[i].content[j]`, so a host can tell which image it got wrong.
 *
 * Images are checked here, before any turn starts: base64 syntax, a
 * supported mime type, the size cap, and that the bytes start the way that
 * type does (a JPEG labelled PNG would reach the model as garbage). Only
 * the prompt's images are kept, as base64 ({@linkcode parseContent}'s
 * `decode`); images of earlier messages become a placeholder text, since a
 * replayed history is text.
 *
 * @example
 * ```ts
 * import { parseContent } from "./content.ts";
 * const r = parseContent([{ type: "text", text: "What is this?" }], "messages[0].content", true);
 * if (r.ok) console.log(r.value.text); // "What is this?"
 * ```
 *
 * @module
 */
import type { FieldError } from "../config.ts";
import { err, ok, type Result } from "../result.ts";
import { addError } from "./field_errors.ts";
import { IMAGE_MIME_TYPES, type ImageInput, type ImageMimeType } from "../turns/backend.ts";

/** Largest image accepted, decoded (the OpenAI API's own limit is 20 MB). */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
/** Most images one chat request may carry, over all its messages. */
export const MAX_IMAGES = 16;

/** A message's content, reduced to text and images. */
export interface Content {
  /** Text parts joined with newlines; images of a non-`decode` message as placeholders. */
  text: string;
  /** The images, as base64 (only with `decode`). */
  images: ImageInput[];
  /** Number of image parts. */
  imageCount: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** How each supported type's bytes begin. */
const MAGIC: Record<ImageMimeType, (b: Uint8Array) => boolean> = {
  "image/png": (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  "image/jpeg": (b) => startsWith(b, [0xff, 0xd8, 0xff]),
  "image/gif": (b) => startsWith(b, [0x47, 0x49, 0x46, 0x38]), // "GIF8"
  "image/webp": (b) =>
    startsWith(b, [0x52, 0x49, 0x46, 0x46]) && // "RIFF"
    startsWith(b.subarray(8), [0x57, 0x45, 0x42, 0x50]), // "WEBP"
};

function startsWith(b: Uint8Array, prefix: number[]): boolean {
  return b.length >= prefix.length && prefix.every((x, i) => b[i] === x);
}

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Decoded size of valid base64 `s`, without decoding it. */
function decodedSize(s: string): number {
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/** "2.5 KiB": sizes in placeholders and messages. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The text an image of an earlier message becomes in a replayed transcript. */
export function imagePlaceholder(mime: string, bytes: number): string {
  return `[image: ${mime}, ${formatBytes(bytes)}; not available in this thread]`;
}

/** Check one image part; its base64 when `decode`, else just its size. */
function parseImage(
  part: Record<string, unknown>,
  decode: boolean,
): Result<{ mime: ImageMimeType; bytes: number; base64?: string }, string> {
  const mime = part.mime_type;
  if (typeof mime !== "string" || !(IMAGE_MIME_TYPES as readonly string[]).includes(mime)) {
    return err(`mime_type must be one of ${IMAGE_MIME_TYPES.join(", ")}`);
  }
  const data = part.data;
  if (typeof data !== "string" || data === "") return err("data must be a non-empty base64 string");
  if (data.length % 4 !== 0 || !BASE64.test(data)) {
    return err("data is not valid base64 (standard alphabet, padded, no line breaks)");
  }
  const bytes = decodedSize(data);
  if (bytes > MAX_IMAGE_BYTES) {
    return err(`image is ${bytes} bytes; at most ${MAX_IMAGE_BYTES} (20 MiB) are accepted`);
  }
  // The first 16 characters give the 12 bytes the signatures need.
  const head = decodeBase64(data.slice(0, 16));
  if (!MAGIC[mime as ImageMimeType](head)) {
    return err(`data is not a ${mime.slice("image/".length).toUpperCase()} image`);
  }
  return ok({ mime: mime as ImageMimeType, bytes, base64: decode ? data : undefined });
}

/**
 * Parse a message's `content` (named `field` in errors). `decode`: keep the
 * images' bytes (the prompt); otherwise images become placeholder text.
 * `allowImages`: false for roles that may not carry images.
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
    const f = `${field}[${j}]`;
    if (typeof part !== "object" || part === null || Array.isArray(part)) {
      return addError(errors, { field: f, message: "must be an object {type, ...}" });
    }
    const p = part as Record<string, unknown>;
    if (p.type === "text") {
      if (typeof p.text !== "string") {
        addError(errors, { field: f, message: "text must be a string" });
      } else texts.push(p.text);
    } else if (p.type === "image") {
      if (!allowImages) {
        return addError(errors, { field: f, message: "images are accepted in user messages only" });
      }
      imageCount++;
      const r = parseImage(p, decode);
      if (!r.ok) return addError(errors, { field: f, message: r.error });
      if (r.value.base64) images.push({ mime_type: r.value.mime, base64: r.value.base64 });
      else texts.push(imagePlaceholder(r.value.mime, r.value.bytes));
    } else {
      addError(errors, { field: f, message: 'type must be "text" or "image"' });
    }
  });
  if (errors.length) return err(errors);
  return ok({ text: texts.join("\n"), images, imageCount });
}
