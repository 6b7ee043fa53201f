/**
 * Issue 13, points 4, 8, 9 and 10, end to end (main.ts as the host runs it):
 * error replies stay small and memory bounded whatever the request, pseudo
 * filesystems as a workspace are named for what they are, host strings are
 * cut in the log, and `params: null` is an invalid request. No codex runs:
 * every request here is refused before a turn would start.
 */
import assert from "node:assert/strict";
import { logLines, waitForLog } from "./support/logs.ts";
import { type Msg, type Plugin, pluginArgs, startPlugin } from "../dev/plugin.ts";
import { memory, mib } from "./support/proc.ts";
import { parseMessage } from "../lib/jsonrpc/message.ts";
import { closePlugin } from "./support/rig.ts";
import { MAX_LOG_FIELD } from "../lib/log.ts";

async function plugin(host: Record<string, unknown> = { name: "test", version: "0" }) {
  const p = startPlugin();
  const init = await p.request("initialize", {
    protocol_version: 1,
    host,
    config: { backend: "exec", binary: "/nonexistent/codex" },
  });
  assert.equal(init.error, undefined, JSON.stringify(init));
  return p;
}

/**
 * The plugin with our own pipes: dev/plugin.ts checks every line against the
 * protocol's schema, which takes minutes on a line of a million elements.
 */
async function rawPlugin() {
  const child = new Deno.Command(Deno.execPath(), {
    args: pluginArgs(),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  const messages: Msg[] = [];
  const reading = (async () => {
    let buf = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) {
        messages.push(JSON.parse(buf.slice(0, nl)));
      }
    }
  })();
  const enc = new TextEncoder();
  const rp = {
    pid: child.pid,
    async reply(line: string, id: number | null, timeoutMs = 300_000): Promise<Msg> {
      await writer.write(enc.encode(line + "\n"));
      const t0 = performance.now();
      for (;;) {
        const m = messages.find((m) => m.id === id);
        if (m) return m;
        if (performance.now() - t0 > timeoutMs) throw new Error(`no reply to ${id}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await writer.close().catch(() => {});
      await child.status;
      await reading;
      return await stderr;
    },
  };
  const init = await rp.reply(
    JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocol_version: 1, config: { backend: "exec", binary: "/nonexistent/codex" } },
    }),
    1,
  );
  assert.ok(init.result, JSON.stringify(init));
  return rp;
}

/** Send one raw line and wait for the response to `id`. */
async function raw(p: Plugin, line: string, id: number, timeoutMs = 120_000) {
  await p.sendLine(line);
  return p.waitFor((m) => m.id === id && !("method" in m), timeoutMs);
}

const chatLine = (id: number, messages: string) =>
  `{"jsonrpc":"2.0","id":${id},"method":"chat","params":{"turn_id":"t${id}",` +
  `"agent":{"id":"a","workspace":"/tmp"},"messages":${messages}}}`;

Deno.test("params: null is -32600, as PROTOCOL.md says; omitted params are still {}", async () => {
  const parsed = parseMessage('{"jsonrpc":"2.0","id":1,"method":"models","params":null}');
  assert.ok(!parsed.ok);
  const p = await plugin();
  try {
    const r = await raw(p, '{"jsonrpc":"2.0","id":7,"method":"models","params":null}', 7);
    assert.equal(r.error?.code, -32600, JSON.stringify(r));
    assert.match(r.error.message, /params must be an object/);
    const ok = await raw(p, '{"jsonrpc":"2.0","id":8,"method":"models"}', 8);
    assert.deepEqual(ok.result, { models: ["codex"] });
  } finally {
    await closePlugin(p);
  }
});

Deno.test("a chat whose messages are a million numbers gets a small reply: 20 entries and how many more", async () => {
  const p = await rawPlugin();
  try {
    const n = 1_000_000;
    const line = chatLine(2, `[${Array(n).fill("1").join(",")}]`);
    const r = await p.reply(line, 2);
    const size = JSON.stringify(r).length;
    assert.equal(r.error?.code, -32602);
    assert.equal(r.error.data.errors.length, 20);
    assert.deepEqual(r.error.data.errors[0], {
      field: "messages[0]",
      message: "must be an object {role, content}",
    });
    assert.ok(r.error.data.errors_omitted >= n - 20, JSON.stringify(r.error.data.errors_omitted));
    assert.match(r.error.message, new RegExp(`; and ${r.error.data.errors_omitted} more$`));
    assert.ok(size < 8 * 1024, `reply of ${size} bytes to a request of ${line.length}`);
    console.log(`request ${mib(line.length / 1024)} → reply ${size} bytes`);
  } finally {
    await p.close();
  }
});

Deno.test("a 64 MiB line of bad messages: one small reply, peak memory bounded, the plugin keeps serving", async () => {
  const p = await rawPlugin();
  try {
    const head = chatLine(3, "[").slice(0, -2); // up to and including "messages":[
    const n = Math.floor((64 * 1024 * 1024 - head.length - 100) / 2);
    const line = `${head}${"1,".repeat(n)}1]}}`;
    assert.ok(line.length <= 64 * 1024 * 1024);
    const before = memory(p.pid);
    const r = await p.reply(line, 3);
    const after = memory(p.pid);
    assert.equal(r.error?.code, -32602, JSON.stringify(r).slice(0, 500));
    assert.equal(r.error.data.errors.length, 20);
    assert.ok(JSON.stringify(r).length < 8 * 1024);
    const models = await p.reply('{"jsonrpc":"2.0","id":4,"method":"models"}', 4);
    assert.deepEqual(models.result, { models: ["codex"] }, "still serving");
    console.log(
      `64 MiB line (${n + 1} elements): reply ${JSON.stringify(r).length} bytes; plugin RSS ` +
        `${mib(before.rssKiB)} before, peak (VmHWM) ${mib(after.hwmKiB)}`,
    );
    assert.ok(after.hwmKiB < 1024 * 1024, `peak ${mib(after.hwmKiB)} stays under 1 GiB`);
  } finally {
    await p.close();
  }
});

Deno.test("a 64 MiB line of 22 million empty objects is refused before it is parsed; a prompt full of brackets is not", async () => {
  const p = await rawPlugin();
  try {
    const head = chatLine(5, "[").slice(0, -2);
    const n = Math.floor((64 * 1024 * 1024 - head.length - 100) / 3);
    const line = `${head}${"{},".repeat(n)}{}]}}`;
    const r = await p.reply(line, null);
    const after = memory(p.pid);
    assert.equal(r.error?.code, -32700, JSON.stringify(r));
    assert.match(r.error.message, /at most 1000000 JSON objects and arrays/);
    console.log(`${n + 1} empty objects: refused; peak (VmHWM) ${mib(after.hwmKiB)}`);
    assert.ok(after.hwmKiB < 1024 * 1024, `peak ${mib(after.hwmKiB)} stays under 1 GiB`);
    // Brackets inside strings are text: a 16 MiB prompt of them is a request like any other.
    const prompt = "{[".repeat(8 * 1024 * 1024);
    const ok = await p.reply(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 6,
        method: "chat",
        params: {
          turn_id: "t6",
          agent: { id: "a", workspace: "/tmp" },
          messages: [{ role: "user", content: prompt }],
        },
      }),
      6,
    );
    assert.equal(ok.result?.stop_reason, "error", JSON.stringify(ok).slice(0, 300));
  } finally {
    await p.close();
  }
});

Deno.test("/proc, /sys, /dev and /dev/shm as agent.workspace: said to be pseudo filesystems, not missing", async () => {
  const p = await plugin();
  try {
    for (const ws of ["/proc", "/sys", "/dev", "/dev/shm", "/proc/self/cwd", "/tmp/../proc"]) {
      const r = await p.request("chat", {
        turn_id: `t-${ws}`,
        agent: { id: "a", workspace: ws },
        messages: [{ role: "user", content: "hi" }],
      });
      assert.equal(r.error?.code, -32602, ws);
      const [e] = r.error.data.errors;
      assert.equal(e.field, "agent.workspace");
      assert.doesNotMatch(e.message, /does not exist/, ws);
      assert.match(e.message, /pseudo filesystem|device tree/, ws);
      assert.match(e.message, /not a workspace directory/, ws);
    }
    const missing = await p.request("chat", {
      turn_id: "t-missing",
      agent: { id: "a", workspace: "/nonexistent/workspace" },
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(missing.error.data.errors[0].message, "does not exist");
  } finally {
    await closePlugin(p);
  }
});

Deno.test("a 1 MiB host.name is cut in the log to the documented length", async () => {
  const name = "h".repeat(1024 * 1024);
  const p = await plugin({ name, version: "v".repeat(100_000) });
  await closePlugin(p);
  await waitForLog(p, (l) => l.includes("cut from 1048576 characters"));
  const lines = logLines(p);
  const longest = Math.max(...lines.map((l) => l.length));
  assert.ok(longest < 3 * MAX_LOG_FIELD + 500, `longest log line: ${longest} characters`);
});
