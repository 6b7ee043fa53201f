/**
 * Never a turn under less confinement than the operator asked for, and never
 * a turn that silently runs nothing. Under `sandbox` `workspace-write` or
 * `read-only`, Codex itself never runs a command unconfined (approvals are
 * `never`, so it cannot ask to): when its sandbox cannot start on the host,
 * every command fails with `bwrap: ...` as its output, and the turn goes on
 * without effect. So before the first turn of a confining config the sandbox
 * is probed (sandbox_probe.ts); while it does not work, each turn fails with
 * ONE `turn_failed` error saying what is missing, and is probed again (an
 * operator's fix takes effect without a restart). Once it worked, the answer
 * stands for the life of the process. The default, `danger-full-access`, is
 * passed through untouched.
 *
 * Wraps whichever backend lib/codex/select.ts chose; the same answer for both.
 *
 * @example
 * ```ts
 * import { sandboxGuarded } from "./sandbox_guard.ts";
 * import { selectBackend } from "./select.ts";
 * import { DEFAULTS } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const backend = sandboxGuarded(selectBackend)({ ...DEFAULTS, sandbox: "read-only" }, createLogger());
 * await backend.close();
 * ```
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Backend, TurnRequest, TurnResult } from "../turns/backend.ts";
import { launchEnv } from "./launch_env.ts";
import { locateBinary } from "./locate.ts";
import { type ProbeOptions, type ProbeResult, probeSandbox } from "./sandbox_probe.ts";

/** A backend factory, as the server takes one. */
export type BackendFactory = (config: Config, log: Logger) => Backend;

/** `factory`, its backends guarded when the config confines commands. */
export function sandboxGuarded(factory: BackendFactory): BackendFactory {
  return (config, log) => {
    const backend = factory(config, log);
    return config.sandbox === "danger-full-access"
      ? backend
      : new SandboxGuard(backend, config, log);
  };
}

/** See the module doc. */
export class SandboxGuard implements Backend {
  #verified = false;
  #probing: Promise<ProbeResult> | undefined;

  constructor(
    private inner: Backend,
    private config: Config,
    private log: Logger,
    private probe: (o: ProbeOptions) => Promise<ProbeResult> = probeSandbox,
  ) {}

  async runTurn(req: TurnRequest): Promise<TurnResult> {
    if (!this.#verified) {
      // A missing binary is the backend's to report (codex_not_found).
      const bin = locateBinary(this.config.binary);
      if (!bin.ok) return this.inner.runTurn(req);
      // Turns that start together share one probe.
      this.#probing ??= this.probe({
        binary: bin.value.path,
        config: this.config,
        env: launchEnv(bin.value.path),
      }).finally(() => (this.#probing = undefined));
      const r = await this.#probing;
      if (req.signal.aborted) return { stop_reason: "cancelled", thread_id: null, usage: null };
      if (!r.ok) {
        const message = `sandbox "${this.config.sandbox}" cannot run on this host, so the turn ` +
          `was not started: ${r.why}. \`plexum-openai-provider-plugin doctor\` checks it`;
        this.log.error("codex sandbox unavailable; turn refused", {
          sandbox: this.config.sandbox,
          why: r.why,
        });
        req.emit({ type: "error", code: "turn_failed", message });
        return { stop_reason: "error", thread_id: null, usage: null };
      }
      if (!this.#verified) this.log.info("codex sandbox works", { sandbox: this.config.sandbox });
      this.#verified = true;
    }
    return this.inner.runTurn(req);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
