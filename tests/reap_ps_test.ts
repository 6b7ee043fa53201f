/**
 * Issue 19, point 7: the `ps` scan that finds a run's processes is bounded:
 * one that stops itself is killed after PS_TIMEOUT_MS and finds nothing, so
 * ending a run never waits on it. This file puts a stopping `ps` first on the
 * process's PATH, which every file running beside it would see: dev/suite.ts
 * runs it alone (SERIAL).
 */
import assert from "node:assert/strict";
import { ProcessTree, PS_TIMEOUT_MS, runMarker } from "../lib/codex/reap.ts";

Deno.test("a ps scan that stops itself is killed after its bound: the tree's signal returns", async () => {
  const dir = await Deno.makeTempDir({ prefix: "stopping-ps-" });
  await Deno.writeTextFile(`${dir}/ps`, "#!/bin/sh\nkill -STOP $$\n", { mode: 0o755 });
  const path = Deno.env.get("PATH") ?? "";
  Deno.env.set("PATH", `${dir}:${path}`);
  try {
    const t0 = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<"hung">((r) => timer = setTimeout(() => r("hung"), 3 * PS_TIMEOUT_MS));
    const found = await Promise.race([
      new ProcessTree(undefined, runMarker().marker).refresh(),
      hung,
    ]);
    clearTimeout(timer);
    assert.equal(found, 0, "a scan that could not finish finds nothing");
    const ms = performance.now() - t0;
    assert.ok(ms >= PS_TIMEOUT_MS - 50 && ms < 2 * PS_TIMEOUT_MS, `returned after ${ms} ms`);
  } finally {
    Deno.env.set("PATH", path);
    await Deno.remove(dir, { recursive: true });
  }
});
