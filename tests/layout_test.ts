/**
 * The layering rules of README's "Where things live", checked on the import
 * statements of every module, so a shortcut across layers fails here instead
 * of growing into a tangle:
 * - lib/turns imports neither lib/protocol nor lib/codex;
 * - lib/protocol imports nothing from lib/codex (the server receives its backend);
 * - lib/codex imports only the contract (lib/turns/backend.ts) and how a turn
 *   ends (lib/turns/outcome.ts) from lib/turns, and nothing from lib/protocol
 *   or lib/cli;
 * - lib/jsonrpc (generic JSON-RPC) knows no protocol on top of it: it imports
 *   only the leaves in lib/, and every layer may use it;
 * - the leaves in lib/ import no layer;
 * - nothing outside tests/ imports tests/.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

function* walk(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(`${root}${dir}`)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(p);
    else if (p.endsWith(".ts")) yield p;
  }
}

/** Repository-relative paths that `file` imports (relative specifiers only). */
function importsOf(file: string): string[] {
  const src = Deno.readTextFileSync(`${root}${file}`);
  // Outside comments: module docs hold examples whose imports are not the module's.
  const code = src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of code.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    out.push(new URL(m[1], `file://${root}${file}`).pathname.slice(root.length));
  }
  return out;
}

const files = [...walk("lib"), ...walk("dev"), ...walk("scripts"), "main.ts"];
const graph = new Map(files.map((f) => [f, importsOf(f)]));

function offenders(from: (f: string) => boolean, bad: (to: string) => boolean): string[] {
  return [...graph].flatMap(([f, tos]) => from(f) ? tos.filter(bad).map((t) => `${f} → ${t}`) : []);
}

Deno.test("lib/turns imports neither lib/protocol nor lib/codex", () => {
  assert.deepEqual(
    offenders((f) => f.startsWith("lib/turns/"), (t) => /^lib\/(protocol|codex|cli)\//.test(t)),
    [],
  );
});

Deno.test("lib/protocol imports nothing from lib/codex or lib/cli: the server receives its backend", () => {
  assert.deepEqual(
    offenders((f) => f.startsWith("lib/protocol/"), (t) => /^lib\/(codex|cli)\//.test(t)),
    [],
  );
});

Deno.test("lib/codex imports only the backend contract and the turn outcome from lib/turns, nothing from protocol or cli", () => {
  assert.deepEqual(
    offenders(
      (f) => f.startsWith("lib/codex/"),
      (t) =>
        /^lib\/(protocol|cli)\//.test(t) ||
        (t.startsWith("lib/turns/") && t !== "lib/turns/backend.ts" &&
          t !== "lib/turns/outcome.ts"),
    ),
    [],
  );
});

Deno.test("lib/jsonrpc imports only the leaves in lib/: it knows no protocol on top of it", () => {
  assert.deepEqual(
    offenders((f) => f.startsWith("lib/jsonrpc/"), (t) => /^lib\/(?!jsonrpc\/)[^/]+\//.test(t)),
    [],
  );
});

Deno.test("the leaves directly in lib/ import no layer", () => {
  assert.deepEqual(
    offenders((f) => /^lib\/[^/]+\.ts$/.test(f), (t) => /^lib\/[^/]+\//.test(t)),
    [],
  );
});

Deno.test("nothing outside tests/ imports tests/", () => {
  assert.deepEqual(offenders(() => true, (t) => t.startsWith("tests/")), []);
});

Deno.test("the rules see real imports (the checker is not vacuous)", () => {
  assert.ok(graph.get("lib/protocol/server.ts")!.includes("lib/turns/scheduler.ts"));
  assert.ok(graph.get("lib/codex/exec/driver.ts")!.includes("lib/turns/backend.ts"));
  assert.ok(graph.get("main.ts")!.includes("lib/codex/select.ts"));
  assert.ok(graph.get("lib/jsonrpc/peer.ts")!.includes("lib/async.ts"));
});

Deno.test("no import cycle: every module can be read after the ones it imports", () => {
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      cycles.push([...path.slice(path.indexOf(f)), f].join(" → "));
      return;
    }
    state.set(f, "open");
    for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
    state.set(f, "done");
  };
  for (const f of graph.keys()) visit(f, []);
  assert.deepEqual(cycles, []);
});
