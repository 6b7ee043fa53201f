/**
 * The reasoning effort of an app-server turn. An `effort` given to
 * `turn/start` sticks to the thread, for its later turns and across
 * `thread/resume` (seen on 0.135.0, 0.169.0 and 0.171.0), while exec takes
 * it per run. So that a turn without one gets the configured default or
 * Codex's own again, as on exec, `turn/start` carries:
 *
 * - the turn's effort, else config `reasoning_effort`;
 * - else nothing on a thread known to have Codex's own: started by this turn,
 *   resumed with no `reasoningEffort` of its own ({@linkcode noteLoadedEffort}),
 *   or already restored on this process;
 * - else Codex's own, named: `config/read`'s `model_reasoning_effort` for
 *   the workspace (config.toml, `-c`), else `model/list`'s
 *   `defaultReasoningEffort` of the model; each asked once per app-server.
 *   When neither tells (a model Codex does not list) nothing is sent.
 *
 * @example
 * ```ts
 * import { turnEffort } from "./effort.ts";
 * import type { TurnContext } from "./calls.ts";
 * import type { TurnRequest } from "../../turns/backend.ts";
 * declare const ctx: TurnContext;
 * declare const req: TurnRequest;
 * const e = await turnEffort(ctx, req, "0199a0b1-0000-7000-8000-000000000001", false);
 * // turn/start with { ...params, ...e.params }, then, once Codex has started it:
 * e.started();
 * ```
 *
 * @module
 */
import { abortable } from "../../async.ts";
import type { TurnRequest } from "../../turns/backend.ts";
import { modelArg } from "../turn_runner.ts";
import { type Connection, deadlineOf, type TurnContext } from "./calls.ts";

type Json = Record<string, unknown>;

/** Per app-server: each thread's effort as we left it (null: Codex's own; absent: unknown), and
 * the answers of `config/read` (per workspace) and `model/list`, each asked once. */
const state = new WeakMap<
  Connection,
  { threads: Map<string, string | null>; asked: Map<string, Promise<Json | undefined>> }
>();
const stateOf = (conn: Connection) =>
  state.get(conn) ?? state.set(conn, { threads: new Map(), asked: new Map() }).get(conn)!;

/** What `turn/start` gets for the effort, and what to note once Codex has started the turn. */
export interface TurnEffort {
  params: { effort?: string };
  started(): void;
}

/** `threadId` was just loaded (`thread/start`, `thread/resume`) with this `reasoningEffort`. */
export function noteLoadedEffort(conn: Connection, threadId: string, effort: unknown): void {
  if (effort === null) stateOf(conn).threads.set(threadId, null); // none of its own: Codex's
  else stateOf(conn).threads.delete(threadId); // Codex's config, or what a turn left: unknown
}

/** The effort of `req`'s turn on `threadId` (`fresh`: started by this turn); see the module doc. */
export async function turnEffort(
  ctx: TurnContext,
  req: TurnRequest,
  threadId: string,
  fresh: boolean,
): Promise<TurnEffort> {
  const { threads } = stateOf(ctx.conn);
  const note = (effort: string | null) => () => void threads.set(threadId, effort);
  const want = req.reasoningEffort ?? ctx.config.reasoning_effort;
  if (want) return { params: { effort: want }, started: note(want) };
  if (fresh || threads.get(threadId) === null) return { params: {}, started: note(null) };
  const own = await abortable(codexOwn(ctx, req), req.signal).catch(() => undefined);
  ctx.log.debug("restoring codex's own reasoning effort", { thread_id: threadId, effort: own });
  return own ? { params: { effort: own }, started: note(null) } : { params: {}, started() {} };
}

/** Codex's own effort for `req`'s workspace and model; undefined when it cannot be told. */
async function codexOwn(ctx: TurnContext, req: TurnRequest): Promise<string | undefined> {
  const config = (await ask(ctx, "config/read", { cwd: req.workspace }))?.config as Json | null;
  const set = config?.model_reasoning_effort;
  if (typeof set === "string" && set) return set;
  const model = modelArg(ctx.config, req.model) ?? config?.model;
  const list = (await ask(ctx, "model/list", { includeHidden: true }))?.data;
  const m = (Array.isArray(list) ? list as Json[] : []).find((m) =>
    model ? m.model === model || m.id === model : m.isDefault === true
  );
  return typeof m?.defaultReasoningEffort === "string" ? m.defaultReasoningEffort : undefined;
}

/** `method` asked once per app-server (and params); undefined when it failed. */
function ask(ctx: TurnContext, method: string, params: Json): Promise<Json | undefined> {
  const { asked } = stateOf(ctx.conn);
  const key = `${method} ${JSON.stringify(params)}`;
  const ms = deadlineOf(ctx, method); // config/read, model/list: answered at once, or failed
  const log = (e: unknown) =>
    void ctx.log.debug(`codex app-server ${method} failed`, { error: `${e}` });
  if (!asked.has(key)) {
    asked.set(key, ctx.conn.proc.client.request<Json>(method, params, ms).catch(log));
  }
  return asked.get(key)!;
}
