/**
 * The prompt's images as files for `codex exec --image`: one private
 * directory per turn (mode 0700) in the system temp directory, never in the
 * workspace, holding one file per image (mode 0600). The caller removes it
 * when the turn ends, however it ends (`await using`).
 *
 * Why files: `codex exec` takes images only as paths. The images arrive as
 * base64 (the app-server takes them so); they are decoded here, the one
 * place that needs their bytes. Why no comma in the
 * path: Codex splits `--image` values at commas (seen on 0.135.0 and
 * 0.169.0: `--image=/tmp/a,b.png` became `/tmp/a` and `b.png`), and a path
 * it cannot read is not an error, just a note to the model.
 *
 * @example
 * ```ts
 * import { writeImages } from "./images.ts";
 * await using files = await writeImages([{ mime_type: "image/png", base64: "iVBORw0KGgo=" }]);
 * files.paths; // ["/tmp/plexum-images-ab12cd/image-1.png"]
 * ```
 *
 * @module
 */
import type { ImageInput } from "../../turns/backend.ts";

/** The files of one turn's images. */
export interface ImageFiles extends AsyncDisposable {
  /** Absolute paths, in the order of the images. */
  paths: string[];
}

const EXT: Record<ImageInput["mime_type"], string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
};

async function privateDir(): Promise<string> {
  let dir = await Deno.makeTempDir({ prefix: "plexum-images-" });
  if (dir.includes(",")) {
    // TMPDIR has a comma in it: Codex would split the paths there.
    await Deno.remove(dir).catch(() => {});
    dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "plexum-images-" });
  }
  await Deno.chmod(dir, 0o700);
  return dir;
}

/** The bytes of standard base64 (checked by the protocol layer). */
function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Write `images` to a new private directory; dispose of the result to delete it. */
export async function writeImages(images: readonly ImageInput[]): Promise<ImageFiles> {
  if (images.length === 0) return { paths: [], [Symbol.asyncDispose]: () => Promise.resolve() };
  const dir = await privateDir();
  const dispose = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    const paths: string[] = [];
    for (const [i, img] of images.entries()) {
      const path = `${dir}/image-${i + 1}.${EXT[img.mime_type]}`;
      await Deno.writeFile(path, decodeBase64(img.base64), { createNew: true, mode: 0o600 });
      paths.push(path);
    }
    return { paths, [Symbol.asyncDispose]: dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
