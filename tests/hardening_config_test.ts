/**
 * Issue 13, point 7: `--config` reads only a regular file up to 1 MiB. A FIFO
 * hung start-up forever and `/dev/zero` was read without limit; a UTF-8 BOM
 * was refused as an invalid symbol.
 */
import assert from "node:assert/strict";
import { loadConfigFile, MAX_CONFIG_BYTES } from "../lib/config_file.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "config-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** loadConfigFile, failing (not hanging) after 10 s. */
async function load(path: string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`loadConfigFile(${path}) still running after 10 s`)),
      10_000,
    );
  });
  try {
    return await Promise.race([loadConfigFile(path), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a FIFO as --config is refused at once, naming what it is", async () => {
  await withDir(async (dir) => {
    const fifo = `${dir}/config.jsonc`;
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    try {
      const r = await load(fifo);
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.error : "", /is a FIFO; a regular file is needed/);
    } finally {
      // Release a reader that (before the fix) waits for a writer.
      const w = new Deno.Command("sh", { args: ["-c", `exec 3<>'${fifo}'`] }).output();
      await w;
    }
  });
});

Deno.test("/dev/zero and a directory as --config are refused without reading them", async () => {
  for (const [path, what] of [["/dev/zero", "character device"], ["/tmp", "directory"]]) {
    const r = await load(path);
    assert.equal(r.ok, false, path);
    assert.match(!r.ok ? r.error : "", new RegExp(`is a ${what}`), path);
  }
});

Deno.test("a config file over the documented size is refused", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/big.jsonc`;
    await Deno.writeTextFile(path, `{${" ".repeat(MAX_CONFIG_BYTES)}}`);
    const r = await load(path);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : "", new RegExp(`over the ${MAX_CONFIG_BYTES} byte limit`));
  });
});

Deno.test("a config file starting with a UTF-8 BOM is accepted", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/bom.jsonc`;
    await Deno.writeTextFile(path, '\uFEFF{ "log_level": "debug" } // with a BOM\n');
    const r = await load(path);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.ok && r.value.log_level, "debug");
  });
});
