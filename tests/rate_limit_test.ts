/**
 * Usage and rate limits (lib/codex/codex_errors.ts): what each release printed
 * for them (fixtures/<version>/usage_limit*.jsonl, rate_limit.jsonl,
 * quota.jsonl, recorded with TZ=UTC) becomes `rate_limited` with
 * `retry_after_s` when a reset time was printed; on the app-server the reset
 * `account/rateLimits/updated` reports (each release's schema shape) wins
 * over the words. End to end on the real releases against the mock
 * answering 429, the turn's one error says so.
 */
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { isLimitInfo, limitReset, rateLimitOf, resetTime } from "../lib/codex/codex_errors.ts";
import { AppServerTurnMapper } from "../lib/codex/app_server/notifications.ts";
import { type CodexEvent, TurnMapper } from "../lib/codex/exec/jsonl.ts";
import type { FixtureMeta } from "../scripts/record_fixtures.ts";
import { CODEX_VERSIONS, ensureCodex } from "../dev/codex.ts";
import { hermetic } from "../dev/hermetic.ts";
import { chat, startRig } from "./support/rig.ts";
import { backendConfig, BACKENDS, EDGE_VERSIONS } from "./support/backends.ts";

/** A UTC instant as the same wall-clock time in this process's zone (fixtures are UTC). */
const wallClock = (epochS: number) => {
  const d = new Date(epochS * 1000);
  return new Date(
    d.getUTCFullYear(),
    d.getUTCMonth(),
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  );
};

/** The failure message of a recorded fixture and the reset the mock sent with it. */
async function fixture(version: string, name: string) {
  const dir = new URL(`../fixtures/${version}/`, import.meta.url);
  const m = new TurnMapper({ emitActivity: false });
  for (const l of (await Deno.readTextFile(new URL(`${name}.jsonl`, dir))).split("\n")) {
    if (l) m.push(JSON.parse(l) as CodexEvent);
  }
  const meta: FixtureMeta = JSON.parse(await Deno.readTextFile(new URL(`${name}.meta.json`, dir)));
  const body = JSON.parse((meta.mock_script[0] as { body: string }).body);
  return {
    failure: m.failure!,
    error: body.error as { resets_at?: number; resets_in_seconds?: number },
  };
}

for (const version of CODEX_VERSIONS) {
  Deno.test(`rate limit fixtures ${version}: a usage limit with its reset time`, async () => {
    for (const name of ["usage_limit", "usage_limit_later_day"]) {
      const { failure, error } = await fixture(version, name);
      assert.match(failure, /^You.ve hit your usage limit\./);
      const recorded = error.resets_at! - error.resets_in_seconds!;
      const r = rateLimitOf(failure, wallClock(recorded));
      // Codex prints the reset's minute (cut, not rounded): we wait for that minute's end.
      const expected = (Math.floor(error.resets_at! / 60) + 1) * 60 - recorded;
      assert.deepEqual(r, { retry_after_s: expected }, `${name}: ${failure}`);
      assert.ok(r!.retry_after_s! >= error.resets_in_seconds!);
      assert.ok(r!.retry_after_s! <= error.resets_in_seconds! + 60);
    }
  });

  Deno.test(`rate limit fixtures ${version}: no reset time, a plain 429, an exhausted quota`, async () => {
    const noReset = await fixture(version, "usage_limit_no_reset");
    assert.match(noReset.failure, /try again later\.$/);
    assert.deepEqual(rateLimitOf(noReset.failure), {});
    const plain = await fixture(version, "rate_limit");
    assert.equal(plain.failure, "exceeded retry limit, last status: 429 Too Many Requests");
    assert.deepEqual(rateLimitOf(plain.failure), {});
    const quota = await fixture(version, "quota");
    if (version === "0.135.0") {
      // 0.135.0 words an exhausted quota like any other 429: indistinguishable.
      assert.equal(quota.failure, "exceeded retry limit, last status: 429 Too Many Requests");
    } else {
      assert.equal(quota.failure, "Quota exceeded. Check your plan and billing details.");
      assert.equal(rateLimitOf(quota.failure), undefined);
    }
  });
}

for (const version of CODEX_VERSIONS) {
  Deno.test(`rate limit app-server fixture ${version}: the same words, and codexErrorInfo usageLimitExceeded`, async () => {
    const path = new URL(`../fixtures/app-server/${version}/usage_limit.jsonl`, import.meta.url);
    const msgs = (await Deno.readTextFile(path)).split("\n").filter(Boolean)
      .map((l) => JSON.parse(l).msg).filter((m) => typeof m.method === "string" && m.params);
    const m = new AppServerTurnMapper({ emitActivity: false });
    for (const msg of msgs) assert.deepEqual(m.push(msg.method, msg.params), []);
    assert.equal(m.status, "failed");
    // Recorded without rate-limit headers: a snapshot without windows, so no reset from it.
    assert.deepEqual(m.errorInfo, { codexErrorInfo: "usageLimitExceeded", resetsAt: undefined });
    assert.match(
      m.failure!,
      /^You.ve hit your usage limit\. .* try again at \d{1,2}:\d\d [AP]M\.$/,
    );
    const meta = JSON.parse(
      await Deno.readTextFile(new URL(path.href.replace(/\.jsonl$/, ".meta.json"))),
    );
    const error = JSON.parse(meta.mock_script[0].body).error;
    const recorded = error.resets_at - error.resets_in_seconds;
    const expected = (Math.floor(error.resets_at / 60) + 1) * 60 - recorded;
    assert.deepEqual(rateLimitOf(m.failure!, wallClock(recorded), m.errorInfo), {
      retry_after_s: expected,
    });
    // The error info alone is enough, whatever the words.
    assert.deepEqual(rateLimitOf("something else", new Date(), m.errorInfo), {});
  });
}

/** Release `version`'s JSON Schema of `account/rateLimits/updated`, generated by that release. */
async function rateLimitsSchema(version: string) {
  using h = hermetic();
  const out = await new Deno.Command(await ensureCodex(version), {
    args: ["app-server", "generate-json-schema", "--out", h.root + "/schema"],
    clearEnv: true,
    env: h.env(),
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const file = `${h.root}/schema/v2/AccountRateLimitsUpdatedNotification.json`;
  const schema = JSON.parse(await Deno.readTextFile(file));
  return new Ajv({ strict: false }).compile(schema);
}

for (const version of CODEX_VERSIONS) {
  Deno.test(`rate limit app-server ${version}: the reset account/rateLimits/updated reports wins over the words`, async () => {
    const valid = await rateLimitsSchema(version);
    const now = Math.floor(Date.now() / 1000);
    const window = (usedPercent: number, inS: number) => ({
      usedPercent,
      windowDurationMins: 300,
      resetsAt: now + inS,
    });
    const snapshot = (primary: unknown, secondary: unknown = null) => ({
      rateLimits: {
        limitId: "codex",
        limitName: null,
        primary,
        secondary,
        credits: null,
        planType: "plus",
        rateLimitReachedType: null,
        ...(version !== "0.135.0" && { individualLimit: null, spendControlReached: null }),
      },
    });
    const sent = [
      snapshot(window(40, 9000), window(10, 90000)),
      snapshot(window(100, 1500), window(20, 90000)),
      snapshot(null), // sparse (0.171.0 says so): a null window keeps the last
    ];
    for (const n of sent) assert.ok(valid(n), JSON.stringify(valid.errors));
    const m = new AppServerTurnMapper({ emitActivity: false });
    for (const n of sent) assert.deepEqual(m.push("account/rateLimits/updated", n), []);
    const error = {
      message: "You've hit your usage limit. Upgrade to Pro or try again later.",
      codexErrorInfo: "usageLimitExceeded",
      additionalDetails: null,
    };
    m.push("error", { error, willRetry: false, threadId: "th", turnId: "t" });
    m.push("turn/completed", { threadId: "th", turn: { id: "t", status: "failed", error } });
    assert.equal(m.errorInfo?.resetsAt, now + 1500);
    const r = rateLimitOf(m.failure!, new Date(now * 1000), m.errorInfo);
    assert.deepEqual(r, { retry_after_s: 1500 });
    // Words naming a reset lose to the snapshot's second; without a limit error there is none.
    assert.deepEqual(
      rateLimitOf("Rate limit reached. Please try again in 9s.", new Date(now * 1000), {
        resetsAt: now + 77,
      }),
      { retry_after_s: 77 },
    );
    assert.equal(rateLimitOf("boom", new Date(), { resetsAt: now + 5 }), undefined);
  });
}

Deno.test("rate limit: which windows of a snapshot are reached, latest reset first", () => {
  const w = (usedPercent: number, resetsAt: number) => ({ usedPercent, resetsAt });
  assert.equal(limitReset([]), undefined);
  assert.equal(limitReset([{ primary: w(99, 10), secondary: w(50, 20) }]), undefined);
  assert.equal(limitReset([{ primary: w(100, 10), secondary: w(100, 20) }]), 20);
  assert.equal(limitReset([{ primary: w(100, 10) }, { primary: w(30, 400) }]), undefined);
  assert.equal(limitReset([{ primary: w(100, 10) }, { primary: null }, null]), 10);
  // 0.169.0+: a spend-control limit counts down.
  const individualLimit = { limit: "5", used: "5", remainingPercent: 0, resetsAt: 30 };
  assert.equal(limitReset([{ primary: w(20, 10), individualLimit }]), 30);
  assert.equal(
    limitReset([{ individualLimit: { ...individualLimit, remainingPercent: 3 } }]),
    undefined,
  );
  assert.equal(limitReset([{ primary: { usedPercent: 100, resetsAt: null } }]), undefined);
});

Deno.test("rate limit: codexErrorInfo values that are limits", () => {
  assert.equal(isLimitInfo("usageLimitExceeded"), true);
  assert.equal(isLimitInfo("rateLimitExceeded"), true); // 0.169.0+
  assert.equal(isLimitInfo({ httpConnectionFailed: { httpStatusCode: 429 } }), true);
  assert.equal(isLimitInfo({ httpConnectionFailed: { httpStatusCode: 401 } }), false);
  assert.equal(isLimitInfo("internalServerError"), false);
  assert.equal(isLimitInfo(undefined), false);
});

Deno.test("rate limit: reset times in the forms Codex prints", () => {
  const now = new Date(2026, 10, 27, 23, 50, 10);
  assert.deepEqual(resetTime("try again at 11:58 PM.", now), new Date(2026, 10, 27, 23, 58));
  assert.deepEqual(resetTime("try again at 12:05 AM.", now), new Date(2026, 10, 28, 0, 5)); // past midnight
  assert.deepEqual(resetTime("try again at 12:30 PM.", now), new Date(2026, 10, 28, 12, 30));
  assert.deepEqual(
    resetTime("try again at Jan 2nd, 2027 9:07 AM.", now),
    new Date(2027, 0, 2, 9, 7),
  );
  assert.equal(resetTime("try again later.", now), undefined);
  assert.deepEqual(rateLimitOf("You've hit your usage limit. Try again at 11:58 PM.", now), {
    retry_after_s: 530,
  });
  assert.deepEqual(rateLimitOf("Rate limit reached. Please try again in 1.5s.", now), {
    retry_after_s: 2,
  });
  assert.deepEqual(rateLimitOf("rate limit exceeded; try again in 2 minutes", now), {
    retry_after_s: 120,
  });
  assert.equal(
    rateLimitOf("unexpected status 401 Unauthorized: Incorrect API key", now),
    undefined,
  );
  assert.equal(rateLimitOf("Quota exceeded. Check your plan and billing details.", now), undefined);
});

// ---- end to end ------------------------------------------------------------

const usageLimit = (inS: number) => ({
  status: 429,
  body: JSON.stringify({
    error: {
      type: "usage_limit_reached",
      message: "The usage limit has been reached",
      plan_type: "plus",
      resets_at: Math.floor(Date.now() / 1000) + inS,
      resets_in_seconds: inS,
    },
  }),
});

for (const backend of BACKENDS) {
  // Every release's words are pinned by its fixtures above; end to end, the oldest and the newest.
  for (const version of EDGE_VERSIONS) {
    Deno.test(`rate limit e2e (${backend}, codex ${version}): one rate_limited error, with retry_after_s when Codex printed the reset`, async () => {
      await using rig = await startRig([usageLimit(1234)]);
      const p = await rig.plugin({ ...backendConfig(backend), binary: await ensureCodex(version) });
      const ws = await rig.workspace();
      const r = await chat(p, ws, "Say hello.");
      assert.equal(r.response.result?.stop_reason, "error", JSON.stringify(r));
      assert.equal(r.errors.length, 1, JSON.stringify(r.events));
      const [e] = r.errors;
      assert.equal(e.code, "rate_limited");
      assert.match(e.message, /hit your usage limit/);
      // 1234 s, to the end of the minute Codex printed (a little less once time has passed).
      assert.ok(
        e.retry_after_s >= 1234 - 30 && e.retry_after_s <= 1234 + 60,
        String(e.retry_after_s),
      );

      // No reset in the body, so none in the words: the app-server's is the reset-at header's.
      const inS = 2345;
      rig.api.setScript([{
        ...usageLimit(inS),
        body: JSON.stringify({ error: { type: "usage_limit_reached", message: "limit" } }),
        headers: {
          "x-codex-primary-used-percent": "100",
          "x-codex-primary-window-minutes": "300",
          "x-codex-primary-reset-at": String(Math.floor(Date.now() / 1000) + inS),
        },
      }]);
      const headed = await chat(p, ws, "Say hello.");
      assert.equal(headed.errors.length, 1, JSON.stringify(headed.events));
      assert.equal(headed.errors[0].code, "rate_limited");
      assert.match(headed.errors[0].message, /hit your usage limit/);
      const after = headed.errors[0].retry_after_s;
      if (backend === "app-server") assert.ok(after >= inS - 30 && after <= inS, String(after));
      else assert.equal(after, undefined, "exec: from the words only, as before");

      rig.api.setScript([{
        status: 429,
        body: '{"error":{"type":"requests","code":"rate_limit_exceeded","message":"slow down"}}',
      }]);
      const plain = await chat(p, ws, "Say hello.");
      assert.equal(plain.errors.length, 1);
      assert.deepEqual(plain.errors[0], {
        type: "error",
        code: "rate_limited",
        message: "exceeded retry limit, last status: 429 Too Many Requests",
      });
    });
  }
}
