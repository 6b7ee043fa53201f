/**
 * What one `codex exec` turn is started with: its argv and its images. The
 * prompt is never in argv: it goes to stdin and argv ends with `-`, so no
 * message text can become a flag. The sandbox flags come from ../sandbox.ts.
 *
 * `codex exec` takes images only as paths, so they are written to one
 * private directory per turn (0700, in the system temp directory, never the
 * workspace), removed when the turn ends (`await using`). No comma in the
 * paths: Codex splits `--image` values at commas (0.135.0, 0.169.0), and a
 * path it cannot read is no error, just a note to the model.
 *
 * @example
 * ```ts
 * import { execArgs, writeImages } from "./argv.ts";
 * await using files = await writeImages([{ mime_type: "image/png", base64: "iVBORw0KGgo=" }]);
 * execArgs({ extraArgs: [], threadId: "0199...", images: files.paths });
 * // ["exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
 * //  "--json", "--image=/tmp/plexum-images-ab12cd/image-1.png", "resume", "0199...", "-"]
 * ```
 *
 * @module
 */
import type { ImageInput } from "../../turns/backend.ts";
import { execSandboxArgs, type SandboxConfig } from "../sandbox.ts";

/** What varies between turns. */
export interface ExecArgsInput {
  /** `--model`; undefined: Codex's default. */
  model?: string;
  /** `-c model_reasoning_effort=...`, for this run only; undefined: Codex's own. */
  reasoningEffort?: string;
  /** `--output-schema` file (../output_schema.ts), for this run only. */
  outputSchema?: string;
  /** System text for a new thread (`-c developer_instructions=...`). */
  developerInstructions?: string;
  extraArgs: string[];
  /** Each one `--image=PATH` (`--image PATH -` would take the final `-` for an image). */
  images?: string[];
  /** Resume this thread; undefined starts a new one. */
  threadId?: string;
  /** Undefined: `danger-full-access`. */
  sandbox?: SandboxConfig;
}

/** argv for `codex` (without the binary itself). */
export function execArgs(i: ExecArgsInput): string[] {
  const args = [
    "exec",
    "--skip-git-repo-check",
    ...execSandboxArgs(i.sandbox ?? { sandbox: "danger-full-access", network_access: false }),
    "--json",
  ];
  if (i.model) args.push("--model", i.model);
  if (i.developerInstructions) {
    // A TOML basic string; JSON string escaping is a valid subset of it.
    args.push("-c", `developer_instructions=${JSON.stringify(i.developerInstructions)}`);
  }
  if (i.reasoningEffort) {
    args.push("-c", `model_reasoning_effort=${JSON.stringify(i.reasoningEffort)}`);
  }
  if (i.outputSchema) args.push(`--output-schema=${i.outputSchema}`);
  for (const path of i.images ?? []) args.push(`--image=${path}`);
  args.push(...i.extraArgs);
  if (i.threadId) args.push("resume", i.threadId);
  args.push("-");
  return args;
}

/** The files of one turn's images: absolute paths, in order; dispose of it to delete them. */
export type ImageFiles = AsyncDisposable & { paths: string[] };

const EXT = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

/** Write `images` (standard base64, checked by the protocol layer) to a new private directory. */
export async function writeImages(images: readonly ImageInput[]): Promise<ImageFiles> {
  if (images.length === 0) return { paths: [], [Symbol.asyncDispose]: () => Promise.resolve() };
  let dir = await Deno.makeTempDir({ prefix: "plexum-images-" });
  if (dir.includes(",")) { // from TMPDIR: Codex would split the paths there
    await Deno.remove(dir).catch(() => {});
    dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "plexum-images-" });
  }
  const dispose = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    await Deno.chmod(dir, 0o700);
    const paths: string[] = [];
    for (const [i, img] of images.entries()) {
      const path = `${dir}/image-${i + 1}.${EXT[img.mime_type]}`;
      const bytes = Uint8Array.from(atob(img.base64), (c) => c.charCodeAt(0));
      await Deno.writeFile(path, bytes, { createNew: true, mode: 0o600 });
      paths.push(path);
    }
    return { paths, [Symbol.asyncDispose]: dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
