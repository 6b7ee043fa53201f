/**
 * The `content` of one chat message: a string, or text and image parts
 * (`{type: "image", mime_type, data}`, base64). Each bad part is reported on
 * its own (`messages[i].content[j]`). Images are checked before any turn
 * starts: base64, mime type, size, and that the bytes start as that type
 * does (a JPEG labelled PNG reaches the model as garbage). Only the prompt's
 * images are kept; earlier ones become placeholder text (history is text).
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

/** A message's text (parts joined with newlines), its images (with `decode`) and their count. */
export interface Content {
  text: string;
  images: ImageInput[];
  imageCount: number;
}

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
  const bytes = (data.length / 4) * 3 - (data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0);
  if (bytes > MAX_IMAGE_BYTES) {
    return err(`image is ${bytes} bytes; at most ${MAX_IMAGE_BYTES} (20 MiB) are accepted`);
  }
  // The first 16 characters give the 12 bytes the signatures need.
  if (!MAGIC[mime as ImageMimeType](atob(data.slice(0, 16)))) {
    return err(`data is not a ${mime.slice("image/".length).toUpperCase()} image`);
  }
  return ok({ mime: mime as ImageMimeType, bytes, base64: decode ? data : undefined });
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
