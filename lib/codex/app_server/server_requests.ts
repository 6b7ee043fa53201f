/**
 * Answers to the requests a `codex app-server` sends its client. Nobody sits
 * behind the plugin to approve a command or fill in a form, and a request
 * left unanswered stalls its turn for good, so each one is answered at once:
 * approvals are declined, elicitations and questions cancelled, tools we did
 * not register refused, and anything else (auth refresh, attestation, kinds
 * a later release adds) gets a JSON-RPC error.
 *
 * With approval policy `never` and sandbox `danger-full-access` (what the
 * plugin asks for) neither 0.135.0 nor 0.169.0 sent any request in our runs;
 * these answers are the safety net. Response shapes were checked against
 * `codex app-server generate-ts` of 0.135.0 and 0.169.0. The legacy
 * `execCommandApproval`/`applyPatchApproval` get an error: their "deny"
 * value changed shape between those releases, an error means "not approved"
 * on both.
 *
 * @example
 * ```ts
 * import { answerServerRequest } from "./server_requests.ts";
 * answerServerRequest("item/commandExecution/requestApproval", {});
 * // { result: { decision: "decline" }, summary: "declined" }
 * ```
 *
 * @module
 */

/** What to send back, plus a word for the log. */
export type ServerRequestAnswer =
  | { result: Record<string, unknown>; summary: string }
  | { error: { code: number; message: string }; summary: string };

/** JSON-RPC "method not found", for kinds this plugin does not know. */
const METHOD_NOT_FOUND = -32601;
/** What the other refusals carry. */
const REFUSED = -32000;

const refuse = (message: string): ServerRequestAnswer => ({
  error: { code: REFUSED, message },
  summary: "refused",
});

/** The answer to server request `method` (see the module doc). */
export function answerServerRequest(
  method: string,
  _params: Record<string, unknown>,
): ServerRequestAnswer {
  switch (method) {
    case "item/commandExecution/requestApproval":
    case "item/fileChange/requestApproval":
      return { result: { decision: "decline" }, summary: "declined" };
    case "item/permissions/requestApproval":
      // Nothing granted, for this turn only.
      return { result: { permissions: {}, scope: "turn" }, summary: "declined" };
    case "mcpServer/elicitation/request":
      return { result: { action: "cancel", content: null, _meta: null }, summary: "cancelled" };
    case "item/tool/requestUserInput":
      return { result: { answers: {} }, summary: "cancelled" };
    case "item/tool/call":
      return {
        result: {
          contentItems: [{
            type: "inputText",
            text: "This client provides no tools: the call was not run.",
          }],
          success: false,
        },
        summary: "refused",
      };
    case "execCommandApproval":
    case "applyPatchApproval":
      return refuse("not approved: plexum-openai-provider-plugin approves nothing");
    case "account/chatgptAuthTokens/refresh":
      return refuse(
        "plexum-openai-provider-plugin holds no ChatGPT tokens: log codex in (codex login)",
      );
    case "attestation/generate":
      return refuse("plexum-openai-provider-plugin cannot attest");
    default:
      return {
        error: {
          code: METHOD_NOT_FOUND,
          message: `plexum-openai-provider-plugin does not handle ${method}`,
        },
        summary: "unknown kind",
      };
  }
}
