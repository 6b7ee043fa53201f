/**
 * Image parts of chat messages: parsing (lib/protocol/chat_params.ts),
 * the private files of exec (lib/codex/exec/argv.ts) and
 * their argv, and end to end on the real Codex releases against the mock:
 * the image reaches the model as an image, on a new and on a resumed
 * thread, and nothing is left behind in the workspace or the temp directory
 * however the turn ends; a bad image is -32602 naming the part.
 */
import assert from "node:assert/strict";
import { MAX_IMAGE_BYTES, parseContent, parseMessages } from "../lib/protocol/chat_params.ts";
import { execArgs, writeImages } from "../lib/codex/exec/argv.ts";
import { ensureCodex } from "../dev/codex.ts";
import { chat, startRig } from "./support/rig.ts";
import { backendConfig, BACKENDS, EDGE_VERSIONS } from "./support/backends.ts";

/** A 2×2 red PNG. */
const RED_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==";
const GIF = btoa("GIF89a\x01\x00\x01\x00\x00\x00\x00;");
const image = (data = RED_PNG, mime_type = "image/png") => ({ type: "image", mime_type, data });

Deno.test("content: a string, or text and image parts in order", () => {
  assert.deepEqual(parseContent("hi", "c", true), {
    ok: true,
    value: { text: "hi", images: [], imageCount: 0 },
  });
  const r = parseContent(
    [{ type: "text", text: "a" }, image(), { type: "text", text: "b" }],
    "c",
    true,
  );
  assert.ok(r.ok);
  assert.equal(r.value.text, "a\nb");
  assert.equal(r.value.images.length, 1);
  assert.equal(r.value.images[0].mime_type, "image/png");
  assert.equal(r.value.images[0].base64, RED_PNG); // kept as sent: only exec decodes it
});

Deno.test("content: an image not decoded (an earlier message) becomes a placeholder", () => {
  const r = parseContent([{ type: "text", text: "see" }, image(GIF, "image/gif")], "c", false);
  assert.ok(r.ok);
  assert.deepEqual(r.value.images, []);
  assert.equal(r.value.text, "see\n[image: image/gif, 14 bytes; not available in this thread]");
});

Deno.test("content: each bad part is named messages[i].content[j] with what is wrong", () => {
  const big = "A".repeat(Math.ceil((MAX_IMAGE_BYTES + 3) / 3) * 4);
  const r = parseContent(
    [
      { type: "text", text: "ok" },
      image("not base64!"),
      image(RED_PNG, "image/bmp"),
      { type: "audio" },
      image(GIF, "image/png"),
      image(big),
      "text",
      { type: "text", text: 5 },
      image("iVBORw0KGgo"), // unpadded
    ],
    "messages[2].content",
    true,
  );
  assert.ok(!r.ok);
  assert.deepEqual(r.error, [
    {
      field: "messages[2].content[1]",
      message: "data is not valid base64 (standard alphabet, padded, no line breaks)",
    },
    {
      field: "messages[2].content[2]",
      message: "mime_type must be one of image/png, image/jpeg, image/gif, image/webp",
    },
    { field: "messages[2].content[3]", message: 'type must be "text" or "image"' },
    { field: "messages[2].content[4]", message: "data is not a PNG image" },
    {
      field: "messages[2].content[5]",
      message: "image is 20971524 bytes; at most 20971520 (20 MiB) are accepted",
    },
    { field: "messages[2].content[6]", message: "must be an object {type, ...}" },
    { field: "messages[2].content[7]", message: "text must be a string" },
    {
      field: "messages[2].content[8]",
      message: "data is not valid base64 (standard alphabet, padded, no line breaks)",
    },
  ]);
  assert.deepEqual(parseContent(5, "m.content", true), {
    ok: false,
    error: [{
      field: "m.content",
      message: "must be a string or an array of text and image parts",
    }],
  });
});

Deno.test("messages: prompt images decoded, earlier ones placeholders, images only from users", () => {
  const r = parseMessages([
    { role: "user", content: [{ type: "text", text: "first" }, image()] },
    { role: "assistant", content: "seen" },
    { role: "user", content: [image(GIF, "image/gif"), { type: "text", text: "and this?" }] },
  ]);
  assert.ok(r.ok);
  assert.equal(r.value.prompt, "and this?");
  assert.deepEqual(r.value.images.map((i) => i.mime_type), ["image/gif"]);
  assert.deepEqual(r.value.history, [
    { role: "user", text: "first\n[image: image/png, 73 bytes; not available in this thread]" },
    { role: "assistant", text: "seen" },
  ]);
  const bad = parseMessages([
    { role: "assistant", content: [image()] },
    { role: "user", content: [image()] }, // an image but no text: no prompt
  ]);
  assert.ok(!bad.ok);
  assert.deepEqual(bad.error.map((e) => e.field), [
    "messages[0].content[0]",
    "messages[1].content",
  ]);
  const many = parseMessages([{
    role: "user",
    content: [{ type: "text", text: "x" }, ...Array(17).fill(image())],
  }]);
  assert.ok(!many.ok);
  assert.deepEqual(many.error, [{
    field: "messages",
    message: "carry 17 images; at most 16 are accepted",
  }]);
});

Deno.test("exec images: private files outside the workspace, removed on dispose", async () => {
  const png = Uint8Array.from(atob(RED_PNG), (c) => c.charCodeAt(0));
  let dir: string;
  {
    await using files = await writeImages([
      { mime_type: "image/png", base64: RED_PNG },
      { mime_type: "image/jpeg", base64: btoa("\xff\xd8\xff") },
    ]);
    assert.equal(files.paths.length, 2);
    assert.match(files.paths[0], /\/plexum-images-[^/,]+\/image-1\.png$/);
    assert.match(files.paths[1], /\/image-2\.jpg$/);
    dir = files.paths[0].slice(0, files.paths[0].lastIndexOf("/"));
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(files.paths[0])).mode! & 0o777, 0o600);
    assert.deepEqual(await Deno.readFile(files.paths[0]), png);
  }
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("exec argv: one --image=PATH element per image, so the final - stays the prompt", () => {
  const args = execArgs({
    extraArgs: ["-c", "x=1"],
    images: ["/t/a.png", "/t/b.gif"],
    threadId: "T",
  });
  assert.deepEqual(args.slice(-8), [
    "--json",
    "--image=/t/a.png",
    "--image=/t/b.gif",
    "-c",
    "x=1",
    "resume",
    "T",
    "-",
  ]);
});

// ---- end to end ------------------------------------------------------------

/** The `input_image` URLs of the last user message of a mock request. */
function lastUserImages(body: Record<string, unknown>): string[] {
  const input = (body.input ?? []) as {
    role?: string;
    content?: { type: string; image_url?: string }[];
  }[];
  const last = input.filter((m) => m.role === "user").at(-1);
  return (last?.content ?? []).filter((c) => c.type === "input_image").map((c) =>
    c.image_url ?? ""
  );
}

for (const backend of BACKENDS) {
  // How an image goes to Codex (exec's --image, the app-server's input item) can change by
  // release: the oldest and the newest.
  for (const version of EDGE_VERSIONS) {
    Deno.test(`images e2e (${backend}, codex ${version}): an image part reaches the model as an image, new and resumed thread; no file is left`, async () => {
      await using rig = await startRig([{ text: "Red." }]);
      const tmp = `${rig.root}/tmp`; // the plugin's TMPDIR: must be empty after each turn
      await Deno.mkdir(tmp);
      const ws = await rig.workspace();
      const p = await rig.plugin(
        { ...backendConfig(backend), binary: await ensureCodex(version) },
        { env: { TMPDIR: tmp } },
      );
      const content = [{ type: "text", text: "What colour is this?" }, image()];
      for (const turn of [1, 2]) { // new thread, then resumed
        const r = await chat(p, ws, "", { messages: [{ role: "user", content }] });
        assert.equal(r.response.result?.stop_reason, "end_turn", JSON.stringify(r));
        assert.equal(r.text, "Red.");
        // Codex found every file it was given: nothing (like the `-` ending argv) was taken for one.
        assert.ok(
          !JSON.stringify(rig.api.requests[turn - 1]).includes("could not read the local image"),
        );
        assert.deepEqual(lastUserImages(rig.api.requests[turn - 1]), [
          `data:image/png;base64,${RED_PNG}`,
        ]);
        assert.deepEqual(await Array.fromAsync(Deno.readDir(tmp)), [], "temp dir empty");
        const left = (await Array.fromAsync(Deno.readDir(ws))).map((e) => e.name).sort();
        assert.deepEqual(left.filter((n) => !n.startsWith(".plexum-codex")), [], "workspace clean");
      }
      // A turn that fails removes its images too.
      rig.api.setScript([{ status: 500, body: '{"error":{"message":"boom"}}' }]);
      const failed = await chat(p, ws, "", { messages: [{ role: "user", content }] });
      assert.equal(failed.response.result?.stop_reason, "error");
      assert.equal(failed.errors.length, 1);
      assert.deepEqual(
        await Array.fromAsync(Deno.readDir(tmp)),
        [],
        "temp dir empty after a failure",
      );
    });
  }
  Deno.test(`images e2e (${backend}): a bad image is -32602 naming the part, and nothing runs`, async () => {
    await using rig = await startRig([{ text: "never" }]);
    const ws = await rig.workspace();
    const p = await rig.plugin(backendConfig(backend));
    const r = await p.request("chat", {
      turn_id: "bad-image",
      agent: { id: "a", workspace: ws },
      messages: [{ role: "user", content: [{ type: "text", text: "Look" }, image("not base64!")] }],
    });
    assert.equal(r.error?.code, -32602);
    assert.deepEqual(r.error.data.errors, [{
      field: "messages[0].content[1]",
      message: "data is not valid base64 (standard alphabet, padded, no line breaks)",
    }]);
    assert.equal(rig.api.requests.length, 0);
    assert.deepEqual(p.eventsOf("bad-image"), []);
  });
}
