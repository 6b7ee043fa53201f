/**
 * Which of Codex's messages are retry notices (not progress for the idle
 * timer), read from the recorded fixtures of every supported release, and
 * the `timeout` error a turn that timed out while retrying gets.
 */
import assert from "node:assert/strict";
import { CODEX_VERSIONS } from "../dev/codex.ts";
import {
  appServerRetryNotice,
  execRetryNotice,
  idleTimeoutMessage,
  MAX_RETRY_QUOTE,
  RetryWatch,
} from "../lib/codex/codex_errors.ts";

const root = new URL("../fixtures/", import.meta.url).pathname;
const lines = (path: string) =>
  Deno.readTextFileSync(path).split("\n").filter(Boolean).map((l) => JSON.parse(l));

Deno.test("exec: the recorded 'Reconnecting...' error events are retry notices; nothing else is", () => {
  for (const v of CODEX_VERSIONS) {
    const seen: string[] = [];
    for (const name of ["reconnect", "failed", "plain", "quota", "usage_limit"]) {
      for (const ev of lines(`${root}${v}/${name}.jsonl`)) {
        const n = execRetryNotice(ev);
        if (n !== undefined) seen.push(`${name}: ${n}`);
      }
    }
    assert.equal(seen.length, 1, `${v}: ${seen.join("\n")}`);
    assert.match(seen[0], /^reconnect: Reconnecting\.\.\. 1\/2 \(stream disconnected/, v);
  }
});

Deno.test("app-server: only error notifications with willRetry: true are retry notices", () => {
  for (const v of CODEX_VERSIONS) {
    const seen: string[] = [];
    for (const name of ["reconnect", "retries_failed", "unauthorized", "http_500"]) {
      for (const rec of lines(`${root}app-server/${v}/${name}.jsonl`)) {
        const msg = rec.msg;
        if (rec.dir !== "in" || typeof msg.method !== "string") continue;
        const n = appServerRetryNotice(msg.method, msg.params ?? {});
        if (n !== undefined) {
          assert.equal(msg.params.willRetry, true);
          seen.push(n);
        } else if (msg.method === "error") assert.notEqual(msg.params.willRetry, true);
      }
    }
    assert.ok(seen.length >= 1, v);
    for (const n of seen) assert.match(n, /^Reconnecting\.\.\. \d\/\d \(.+\)$/, v);
  }
});

Deno.test("RetryWatch: a notice is not progress; anything else is, and forgets the notice", () => {
  const w = new RetryWatch();
  assert.equal(w.progress("Reconnecting... 1/5"), false);
  assert.equal(w.progress("Reconnecting... 2/5"), false);
  assert.equal(w.last, "Reconnecting... 2/5");
  assert.equal(w.progress(undefined), true);
  assert.equal(w.last, undefined);
});

Deno.test("idle timeout message: plain silence keeps its wording; silence with retries names the cause, quote bounded", () => {
  assert.equal(
    idleTimeoutMessage({ idleS: 600, silence: "printed nothing" }),
    "codex printed nothing for 600s; turn ended",
  );
  const m = idleTimeoutMessage({
    idleS: 10,
    silence: "sent nothing",
    lastRetry: "Reconnecting... waiting for network\n" + "x".repeat(5000),
  });
  assert.match(
    m,
    /^codex could not reach the API: no progress for 10s, only retries \(last: "Reconnecting\.\.\. waiting for network x+…"\); turn ended/,
  );
  assert.ok(m.length < MAX_RETRY_QUOTE + 200, `${m.length}`);
});
