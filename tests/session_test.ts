/**
 * The workspace's thread file and the small-file rules (lib/codex/session.ts),
 * and the usage totals file that follows them (lib/codex/usage.ts).
 */
import assert from "node:assert/strict";
import {
  isThreadId,
  readThreadId,
  SESSION_FILE,
  writeAtomic,
  writeThreadId,
} from "../lib/codex/session.ts";
import { readTotals, USAGE_FILE, writeTotals } from "../lib/codex/usage.ts";

const ID = "019a5c1e-7d2f-7a31-9e4b-2c8d0f6a1b3c";
const OTHER = "01a20e38-6aa3-7ba0-aefd-97ed8ecc36b8";

async function withWorkspace(fn: (ws: string) => Promise<void>) {
  const ws = await Deno.makeTempDir({ prefix: "session-test-" });
  try {
    await fn(ws);
  } finally {
    await Deno.remove(ws, { recursive: true });
  }
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("writeThreadId writes 'id\\n' atomically, mode 0600, no .tmp left behind", async () => {
  await withWorkspace(async (ws) => {
    await writeThreadId(ws, ID);
    await writeThreadId(ws, OTHER);
    assert.equal(await Deno.readTextFile(`${ws}/${SESSION_FILE}`), `${OTHER}\n`);
    assert.equal((await Deno.stat(`${ws}/${SESSION_FILE}`)).mode! & 0o777, 0o600);
    assert.deepEqual(names(ws), [SESSION_FILE]);
    assert.equal(await readThreadId(ws), OTHER);
  });
});

Deno.test("a failed atomic write leaves neither the file nor a .tmp", async () => {
  await withWorkspace(async (ws) => {
    await Deno.mkdir(`${ws}/target`); // rename over a directory fails
    await Deno.writeTextFile(`${ws}/target/keep`, "");
    await assert.rejects(writeAtomic(`${ws}/target`, "x"));
    assert.deepEqual(names(ws), ["target"]);
  });
});

Deno.test("writing replaces a symlinked session file instead of writing through it", async () => {
  await withWorkspace(async (ws) => {
    await Deno.writeTextFile(`${ws}/outside`, "precious\n");
    await Deno.symlink(`${ws}/outside`, `${ws}/${SESSION_FILE}`);
    await writeThreadId(ws, ID);
    assert.equal(await Deno.readTextFile(`${ws}/outside`), "precious\n");
    assert.equal((await Deno.lstat(`${ws}/${SESSION_FILE}`)).isFile, true);
    assert.equal(await readThreadId(ws), ID);
  });
});

Deno.test("the Go plugin's format ('id\\n') and surrounding whitespace are read", async () => {
  await withWorkspace(async (ws) => {
    for (const text of [`${ID}\n`, ID, `  ${ID}\r\n`, ID.toUpperCase() + "\n"]) {
      await Deno.writeTextFile(`${ws}/${SESSION_FILE}`, text);
      assert.equal(await readThreadId(ws), text.trim(), JSON.stringify(text));
    }
  });
});

Deno.test("contents that are not a thread id are ignored", async () => {
  await withWorkspace(async (ws) => {
    for (
      const text of [
        "hello\n",
        "--help\n",
        `${ID} extra\n`,
        `${ID}\n${OTHER}\n`,
        `"${ID}"\n`,
        ID.slice(0, -1) + "g\n",
        "../../etc/passwd\n",
        JSON.stringify({ thread_id: ID }),
      ]
    ) {
      await Deno.writeTextFile(`${ws}/${SESSION_FILE}`, text);
      assert.equal(await readThreadId(ws), undefined, JSON.stringify(text));
    }
  });
});

Deno.test("no file, an empty file, a directory or a huge file is no session", async () => {
  await withWorkspace(async (ws) => {
    const path = `${ws}/${SESSION_FILE}`;
    assert.equal(await readThreadId(ws), undefined);
    await Deno.writeTextFile(path, "");
    assert.equal(await readThreadId(ws), undefined);
    await Deno.writeTextFile(path, `${ID}\n` + " ".repeat(1024 * 1024));
    assert.equal(await readThreadId(ws), undefined);
    await Deno.remove(path);
    await Deno.mkdir(path);
    assert.equal(await readThreadId(ws), undefined);
  });
});

Deno.test("a symlinked session file is never followed", async () => {
  await withWorkspace(async (ws) => {
    await Deno.writeTextFile(`${ws}/real`, `${ID}\n`);
    await Deno.symlink(`${ws}/real`, `${ws}/${SESSION_FILE}`);
    assert.equal(await readThreadId(ws), undefined);
    await Deno.remove(`${ws}/${SESSION_FILE}`);
    await Deno.symlink("/dev/zero", `${ws}/${SESSION_FILE}`);
    assert.equal(await readThreadId(ws), undefined);
  });
});

Deno.test("a FIFO as session file is not opened (the read does not block)", async () => {
  await withWorkspace(async (ws) => {
    const mk = await new Deno.Command("mkfifo", { args: [`${ws}/${SESSION_FILE}`] }).output();
    assert.equal(mk.code, 0);
    const read = readThreadId(ws);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"blocked">((r) => timer = setTimeout(() => r("blocked"), 5000));
    const first = await Promise.race([read, late]);
    clearTimeout(timer);
    if (first === "blocked") {
      // Unblock the reader so the test ends, then fail.
      await Deno.writeTextFile(`${ws}/${SESSION_FILE}`, `${ID}\n`);
      await read;
      assert.fail("reading a FIFO session file blocked");
    }
    assert.equal(first, undefined);
  });
});

Deno.test("usage totals round-trip per thread; other threads and junk give undefined", async () => {
  await withWorkspace(async (ws) => {
    const totals = { input_tokens: 240, cached_input_tokens: 40, output_tokens: 14 };
    assert.equal(await readTotals(ws, ID), undefined);
    await writeTotals(ws, ID, totals);
    assert.deepEqual(await readTotals(ws, ID), totals);
    assert.equal(await readTotals(ws, OTHER), undefined);
    assert.deepEqual(names(ws), [USAGE_FILE]);
    // This process also keeps them in memory: junk in the file does not lose them.
    await Deno.writeTextFile(`${ws}/${USAGE_FILE}`, "not json");
    assert.deepEqual(await readTotals(ws, ID), totals);
  });
  // The file alone, in a workspace this process never stored totals for.
  await withWorkspace(async (ws) => {
    for (const junk of ["not json", "null", `{"thread_id":"${ID}","totals":5}`, "[]"]) {
      await Deno.writeTextFile(`${ws}/${USAGE_FILE}`, junk);
      assert.equal(await readTotals(ws, ID), undefined, junk);
    }
    await Deno.remove(`${ws}/${USAGE_FILE}`);
    const totals = { input_tokens: 240, cached_input_tokens: 40, output_tokens: 14 };
    await Deno.writeTextFile(`${ws}/elsewhere`, JSON.stringify({ thread_id: ID, totals }));
    await Deno.symlink(`${ws}/elsewhere`, `${ws}/${USAGE_FILE}`);
    assert.equal(await readTotals(ws, ID), undefined);
  });
});

Deno.test("isThreadId accepts UUIDs only", () => {
  assert.equal(isThreadId(ID), true);
  assert.equal(isThreadId(crypto.randomUUID()), true);
  for (const s of ["", "abc", `${ID}\n`, ` ${ID}`, ID.replaceAll("-", ""), `${ID}0`]) {
    assert.equal(isThreadId(s), false, JSON.stringify(s));
  }
});
