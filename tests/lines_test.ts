/** LineStream: bytes to text lines (TextLineStream semantics), strict UTF-8 per line, bounded. */
import assert from "node:assert/strict";
import { LineStream } from "../lib/lines.ts";

const enc = new TextEncoder();

/** What the tests show for a line that was not valid UTF-8. */
const INVALID = "<invalid UTF-8>";

/** Feed `chunks` through a LineStream; the lines it yields. */
async function lines(
  chunks: (string | Uint8Array)[],
  opts: ConstructorParameters<typeof LineStream>[0] = {},
): Promise<string[]> {
  const bytes = chunks.map((c) => typeof c === "string" ? enc.encode(c) : c);
  const out: string[] = [];
  for await (const l of ReadableStream.from(bytes).pipeThrough(new LineStream(opts))) {
    out.push(l ?? INVALID);
  }
  return out;
}

Deno.test("lines end at \\n and \\r\\n; the \\r of \\r\\n is dropped", async () => {
  assert.deepEqual(await lines(["a\nb\r\nc\n"]), ["a", "b", "c"]);
});

Deno.test("a lone \\r is part of the line", async () => {
  assert.deepEqual(await lines(["a\rb\n\r\r\n"]), ["a\rb", "\r"]);
});

Deno.test("a last line without a newline is still emitted", async () => {
  assert.deepEqual(await lines(["a\nlast"]), ["a", "last"]);
  assert.deepEqual(await lines(["a\n", "la", "st"]), ["a", "last"]);
  assert.deepEqual(await lines(["only\r"]), ["only"]);
});

Deno.test("no input gives no lines; a trailing newline gives no extra empty line", async () => {
  assert.deepEqual(await lines([]), []);
  assert.deepEqual(await lines(["a\n"]), ["a"]);
});

Deno.test("empty lines come out as empty lines", async () => {
  assert.deepEqual(await lines(["\n\na\n\r\n\nb\n"]), ["", "", "a", "", "", "b"]);
});

Deno.test("chunks split anywhere (inside \\r\\n and inside a UTF-8 sequence) give the same lines", async () => {
  const text = '{"a":1}\r\n\n{"emoji":"🦀 é"}\r\nlast\r\nx';
  const bytes = enc.encode(text);
  const want = ['{"a":1}', "", '{"emoji":"🦀 é"}', "last", "x"];
  for (let i = 0; i <= bytes.length; i++) {
    for (const j of [i, Math.min(bytes.length, i + 1), Math.min(bytes.length, i + 3)]) {
      const got = await lines([bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]);
      assert.deepEqual(got, want, `split at ${i}/${j}`);
    }
  }
  // One byte at a time.
  assert.deepEqual(await lines([...bytes].map((b) => Uint8Array.of(b))), want);
});

Deno.test("a 64 MiB line (in 64 KiB chunks) comes out whole and parses", async () => {
  const size = 64 * 1024 * 1024;
  const prefix = enc.encode('{"type":"item.completed","item":{"text":"');
  const suffix = enc.encode('"}}\n');
  const line = new Uint8Array(size);
  line.fill(0x61);
  line.set(prefix, 0);
  line.set(suffix, size - suffix.length);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < size; at += 64 * 1024) chunks.push(line.subarray(at, at + 64 * 1024));
  chunks.push(enc.encode('{"next":true}\n'));
  const out: (string | undefined)[] = [];
  for await (const l of ReadableStream.from(chunks).pipeThrough(new LineStream())) out.push(l);
  assert.equal(out.length, 2);
  assert.equal(out[0]!.length, size - 1);
  const ev = JSON.parse(out[0]!);
  assert.equal(ev.item.text.length, size - prefix.length - suffix.length);
  assert.deepEqual(JSON.parse(out[1]!), { next: true });
});

Deno.test("a line over the limit is dropped, reported with its size, and the next line still comes out", async () => {
  const long = "x".repeat(50);
  for (
    const chunks of [
      [`short\n${long}\nnext\n`],
      ["short\n", long.slice(0, 20), long.slice(20), "\nnext\n"],
      ["short\nxx", long.slice(2), "\n", "ne", "xt\n"],
    ]
  ) {
    const reported: number[] = [];
    const got = await lines(chunks, { maxLineBytes: 10, onOverflow: (n) => reported.push(n) });
    assert.deepEqual(got, ["short", "next"], JSON.stringify(chunks));
    assert.deepEqual(reported, [50]);
  }
});

Deno.test("an over-limit last line without newline is dropped and reported", async () => {
  const reported: number[] = [];
  const got = await lines(["ok\n", "y".repeat(30)], {
    maxLineBytes: 10,
    onOverflow: (n) => reported.push(n),
  });
  assert.deepEqual(got, ["ok"]);
  assert.deepEqual(reported, [30]);
});

Deno.test("a line of exactly the limit passes", async () => {
  const reported: number[] = [];
  const got = await lines(["0123456789\n", "01234", "56789"], {
    maxLineBytes: 10,
    onOverflow: (n) => reported.push(n),
  });
  assert.deepEqual(got, ["0123456789", "0123456789"]);
  assert.deepEqual(reported, []);
});

Deno.test("a producer reusing its chunk buffer does not corrupt a pending line", async () => {
  const ls = new LineStream();
  const w = ls.writable.getWriter();
  const reading = (async () => {
    const out: string[] = [];
    for await (const l of ls.readable) out.push(l ?? INVALID);
    return out;
  })();
  const buf = enc.encode("abc");
  await w.write(buf);
  buf.set(enc.encode("XYZ"));
  await w.write(enc.encode("def\n"));
  await w.close();
  assert.deepEqual(await reading, ["abcdef"]);
});

Deno.test("valid UTF-8 lines decode; each invalid UTF-8 line comes out as undefined, alone", async () => {
  assert.deepEqual(await lines(['{"t":"🦀 é 中"}\n', "\n"]), ['{"t":"🦀 é 中"}', ""]);
  for (
    const bad of [
      [0xff],
      [0x7b, 0xe2, 0x82], // truncated 3-byte sequence
      [0xc0, 0xaf], // overlong "/"
      [0xed, 0xa0, 0x80], // UTF-16 surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0x61, 0x80, 0x62], // stray continuation byte
    ]
  ) {
    const got = await lines(["before\n", Uint8Array.from([...bad, 0x0a]), "after\n"]);
    assert.deepEqual(got, ["before", INVALID, "after"], JSON.stringify(bad));
    // At the end of input, without a newline, too.
    assert.deepEqual(await lines(["before\n", Uint8Array.from(bad)]), ["before", INVALID]);
  }
});

Deno.test("a U+FFFD that the line really encodes is kept", async () => {
  // A replacement character in Codex's output (e.g. a command printed one) is valid UTF-8.
  assert.deepEqual(await lines(['{"out":"a\uFFFDb"}\n']), ['{"out":"a\uFFFDb"}']);
  assert.deepEqual(await lines([Uint8Array.from([0xef, 0xbf, 0xbd, 0xff, 0x0a])]), [INVALID]);
});

Deno.test("validity is judged across chunk boundaries, split anywhere", async () => {
  const cases: [number[], string][] = [
    [[0x61, 0xef, 0xbf, 0xbd, 0x62], "a\uFFFDb"], // genuine U+FFFD
    [[0x61, 0xf0, 0x9f, 0xa6, 0x80, 0x62], "a🦀b"],
    [[0x61, 0xe2, 0x82, 0x62], INVALID], // sequence cut short by "b"
    [[0x61, 0xe2, 0x82], INVALID], // sequence cut short by the line's end
    [[0x61, 0x80], INVALID],
  ];
  for (const [bytes, want] of cases) {
    for (let i = 0; i <= bytes.length; i++) {
      const got = await lines([
        Uint8Array.from(bytes.slice(0, i)),
        Uint8Array.from([...bytes.slice(i), 0x0a]),
        "z\n",
      ]);
      assert.deepEqual(got, [want, "z"], `${JSON.stringify(bytes)} split at ${i}`);
    }
  }
});

Deno.test("with onInvalidUtf8, an invalid line comes out with U+FFFD after the callback, never as undefined", async () => {
  const calls: number[] = [];
  const got = await lines(
    [Uint8Array.of(0x61, 0xff, 0xfe, 0x0a, 0x62, 0xc0, 0xaf, 0x0a), "ok\n"],
    { onInvalidUtf8: (n) => calls.push(n) },
  );
  assert.deepEqual(got, ["a\uFFFD\uFFFD", "b\uFFFD\uFFFD", "ok"]);
  assert.deepEqual(calls, [3, 3]);
});
