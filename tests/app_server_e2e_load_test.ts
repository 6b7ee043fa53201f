/**
 * The app-server under load (issue 11, point 10), on the real codex releases
 * (0.169.0 in `deno task test`, 0.135.0 and 0.171.0 in CI's load stage): 200 turns over 20 workspaces, 20 at a time, through one
 * plugin and one `codex app-server`. Every answer goes to the turn that asked
 * (the mock echoes each turn's tag), same-workspace turns stay on their
 * thread, the plugin's file descriptors stay flat, no child but the
 * app-server is left, and the app-server's resident memory stays bounded.
 * Figures (fds, RSS of plugin and app-server per round) are printed for the
 * report; the bounds are generous on purpose: a leak shows as a trend across
 * ten rounds, not as one number.
 */
import assert from "node:assert/strict";
import { appServers, leftBehind, pluginOn } from "./support/app_server.ts";
import { EDGE_VERSIONS, NEUTRAL_VERSIONS } from "./support/backends.ts";
import { fdCount, memory, mib } from "./support/proc.ts";
import { chat, startRig, userTexts } from "./support/rig.ts";

const WORKSPACES = 20;
const ROUNDS = 10;

const tagOf = (body: Record<string, unknown>) =>
  /TAG-([\w-]+)/.exec(userTexts(body).at(-1) ?? "")?.[1];

/** RSS of the app-server's processes (node wrapper + native codex), in KiB. */
function serverRss(pluginPid: number): number {
  return appServers(pluginPid).reduce((sum, s) => {
    try {
      return sum + memory(s.pid).rssKiB;
    } catch {
      return sum; // exited between the scan and the read
    }
  }, 0);
}

/**
 * `deno task test` runs this on one release (NEUTRAL_VERSIONS); CI's load stage runs it on the
 * oldest and the newest (`PLEXUM_TEST_LOAD=1`, .ci/run).
 */
const VERSIONS = Deno.env.get("PLEXUM_TEST_LOAD") === "1" ? EDGE_VERSIONS : NEUTRAL_VERSIONS;

for (const v of VERSIONS) {
  Deno.test(`app-server ${v}: ${ROUNDS * WORKSPACES} turns over ${WORKSPACES} workspaces: answers never cross, fds flat, RSS bounded`, async () => {
    await using rig = await startRig([{ text: "untagged" }], {
      reply: (body) => ({ text: `answer to ${tagOf(body)}`, chunks: 3 }),
    });
    const p = await pluginOn(rig, v, "app-server");
    const pid = p.child.pid;
    const wss: string[] = [];
    for (let i = 0; i < WORKSPACES; i++) wss.push(await rig.workspace());
    const threads: string[] = [];
    const rows: string[] = [];
    let first: { fds: number; plugin: number; server: number } | undefined;
    let servers = new Set<number>();
    for (let round = 0; round < ROUNDS; round++) {
      const rs = await Promise.all(wss.map((ws, i) => chat(p, ws, `TAG-w${i}r${round}`)));
      for (const [i, r] of rs.entries()) {
        assert.equal(r.response.result?.stop_reason, "end_turn", p.stderr().slice(-3000));
        assert.equal(r.text, `answer to w${i}r${round}`);
        const thread = r.response.result.thread_id;
        if (round === 0) threads.push(thread);
        else assert.equal(thread, threads[i], `workspace ${i} stays on its thread`);
      }
      assert.deepEqual(leftBehind(pid), [], `no child but the app-server after round ${round}`);
      const now = { fds: fdCount(pid), plugin: memory(pid).rssKiB, server: serverRss(pid) };
      servers = new Set([...servers, ...appServers(pid).map((s) => s.pid)]);
      first ??= now;
      rows.push(
        `  after round ${round + 1}: fds ${now.fds}, plugin RSS ${mib(now.plugin)}, ` +
          `app-server RSS ${mib(now.server)}`,
      );
    }
    assert.equal(new Set(threads).size, WORKSPACES, "one thread per workspace");
    // The last round's requests carry their own workspace's history only.
    for (const body of rig.api.requests.slice(-WORKSPACES)) {
      const own = /^(w\d+)r/.exec(tagOf(body) ?? "")?.[1];
      const tags = userTexts(body).flatMap((t) =>
        [...t.matchAll(/TAG-(w\d+)r\d+/g)].map((m) => m[1])
      );
      assert.deepEqual([...new Set(tags)], [own], `history of ${own} holds only its own turns`);
    }
    const last = { fds: fdCount(pid), plugin: memory(pid).rssKiB, server: serverRss(pid) };
    console.log(
      `codex ${v}: ${ROUNDS} rounds x ${WORKSPACES} workspaces, ${servers.size} app-server ` +
        `process(es) over the run\n${rows.join("\n")}`,
    );
    assert.ok(last.fds <= first!.fds + 2, `plugin fds ${first!.fds} -> ${last.fds}`);
    assert.ok(
      last.plugin - first!.plugin < 60 * 1024,
      `plugin RSS ${mib(first!.plugin)} -> ${mib(last.plugin)}`,
    );
    assert.ok(last.server < 1024 * 1024, `app-server RSS ${mib(last.server)} stays under 1 GiB`);
    assert.ok(
      last.server - first!.server < 256 * 1024,
      `app-server RSS ${mib(first!.server)} -> ${mib(last.server)}`,
    );
  });
}
