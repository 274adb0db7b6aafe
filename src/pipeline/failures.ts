// Errors from the Dataverse and HTTP layers → one ConnectorError with a failure_type and an
// actionable message. Messages are rebuilt from codes and table names: a DataverseError's path
// can hold an alternate-key value, and Dataverse's own message can quote record values.
import { AuthError } from "../dataverse/auth.js";
import { DataverseError, ForeignHostError } from "../dataverse/errors.js";
import { explainCode } from "../dataverse/refusal-codes.js";
import { TransportError } from "../http/transport.js";
import { RetryBudgetExhaustedError } from "../http/retry.js";
import { ConnectorError } from "../protocol/errors.js";
import type { ErrorContext } from "../protocol/errors.js";
import { PipelineError } from "./errors.js";

/** "/api/data/v9.2/contacts(emailaddress1='x')" → "contacts"; never the key segment. */
export function resourceOf(path: string): string {
  const afterVersion = path.replace(/^.*\/api\/data\/v[0-9.]+\//, "");
  const first = afterVersion.split("/")[0] ?? "";
  const name = first.split("(")[0] ?? "";
  return /^[A-Za-z0-9_.$]+$/.test(name) ? name : "(resource)";
}

/**
 * Special privileges a config option needs, with the option's name. Microsoft documents the
 * requirement (bypass-custom-business-logic: prvBypassCustomBusinessLogic;
 * impersonate-another-user-web-api: prvActOnBehalfOfAnotherUser, part of the Delegate role) but
 * not the text of the 403 it causes.
 */
export const OPTION_PRIVILEGES: Readonly<Record<string, string>> = {
  prvBypassCustomBusinessLogic: "bypass_business_logic",
  prvActOnBehalfOfAnotherUser: "impersonate_caller_object_id",
};

/** Which privilege-needing options the request carried; lets a 403 name its likely cause. */
export interface FailureHints {
  readonly bypassBusinessLogic?: boolean;
  readonly impersonating?: boolean;
}

/**
 * The privilege a 403 names ("... Missing privilege: prvCreateContact"). Only a `prv` identifier
 * is taken from Dataverse's message, never the rest of it, which could quote values.
 */
export function missingPrivilege(serverMessage: string): string | undefined {
  const m = /\b(prv[A-Z][A-Za-z0-9_]{1,80})\b/.exec(serverMessage);
  return m?.[1];
}

function privilegeMessage(err: DataverseError, where: string, http: string, hints: FailureHints): { code: string; message: string } {
  const named = missingPrivilege(err.serverMessage);
  const option = named !== undefined ? OPTION_PRIVILEGES[named] : undefined;
  if (named !== undefined && option !== undefined) {
    const role = named === "prvActOnBehalfOfAnotherUser" ? " (the Delegate security role includes it)" : "";
    return {
      code: "dataverse_option_privilege",
      message: `The application user lacks ${named}, which the option ${option} needs (${http} on ${where}); give its security role that privilege${role}, or remove ${option} from the config`,
    };
  }
  if (named !== undefined) {
    return { code: "dataverse_privilege", message: `The application user lacks the privilege ${named} for ${where} (${http}); give its security role that privilege` };
  }
  // Dataverse did not name the privilege: list the options in play as possible causes.
  const suspects: string[] = [];
  if (hints.bypassBusinessLogic === true) suspects.push("prvBypassCustomBusinessLogic (needed by bypass_business_logic)");
  if (hints.impersonating === true) suspects.push("prvActOnBehalfOfAnotherUser (needed by impersonate_caller_object_id)");
  const also = suspects.length > 0 ? `; if the role already has it, the missing one may be ${suspects.join(" or ")}` : "";
  return { code: "dataverse_privilege", message: `The application user lacks a privilege for ${where} (${http}); give its security role the missing privilege on that table${also}` };
}

/** ": <meaning>; <fix>" for a code the connector knows. */
function explained(code: string): string {
  const text = explainCode(code);
  return text === undefined ? "" : `: ${text}`;
}

export function toConnectorError(err: unknown, context: ErrorContext = {}, hints: FailureHints = {}): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (err instanceof AuthError) {
    // AuthError messages are written by dataverse/auth.ts to name the field, never the secret.
    return new PipelineError(`auth_${err.code.toLowerCase()}`, `Sign-in failed: ${err.message}`, err.retryable ? "transient_error" : "config_error", context, {
      cause: err,
    });
  }
  if (err instanceof DataverseError) {
    const where = `${err.method} ${resourceOf(err.path)}`;
    const ctx: ErrorContext = { ...context, dataverseCode: err.code };
    const http = err.code === "" ? `HTTP ${err.status}` : `HTTP ${err.status} ${err.code}`;
    switch (err.kind) {
      case "unauthorized":
        return new PipelineError("dataverse_unauthorized", `Dataverse refused the access token (${http}) on ${where}; check that web_api_endpoint is the environment the app registration has access to`, "config_error", ctx, { cause: err });
      case "not_member":
        return new PipelineError("dataverse_not_application_user", `The app (client_id) is not an application user in this environment (${http}); add it in the Power Platform admin center under Application users and give it a security role`, "config_error", ctx, { cause: err });
      case "forbidden": {
        const p = privilegeMessage(err, where, http, hints);
        return new PipelineError(p.code, p.message, "config_error", ctx, { cause: err });
      }
      case "not_found":
        return new PipelineError("dataverse_not_found", `Dataverse answered not found for ${where} (${http}); check the table name and web_api_endpoint`, "config_error", ctx, { cause: err });
      case "transient":
        return new PipelineError("dataverse_unavailable", `Dataverse stayed throttled or unavailable for ${where} until the retry budget was spent (${http})`, "transient_error", ctx, { cause: err });
      case "unexpected":
        return new PipelineError("dataverse_unexpected", `Dataverse gave an unexpected answer for ${where} (${http})${explained(err.code)}`, "system_error", ctx, { cause: err });
    }
  }
  if (err instanceof TransportError) {
    return new PipelineError(`transport_${err.code.toLowerCase()}`, `${err.method} ${resourceOf(err.path)}: ${err.message.replace(/^.*?: /, "")}`, err.retryable ? "transient_error" : "config_error", context, { cause: err });
  }
  if (err instanceof ForeignHostError) {
    return new PipelineError(
      "dataverse_foreign_host",
      `Dataverse answered with a link to ${err.host}, another host than web_api_endpoint's (${err.endpointHost}); the connector does not send its access token there. Set web_api_endpoint to the host the environment's own links use (Power Apps → Settings → Developer resources), or check what proxy or gateway rewrites them`,
      "config_error",
      context,
      { cause: err },
    );
  }
  if (err instanceof RetryBudgetExhaustedError) {
    return new PipelineError("retry_budget_spent", `Dataverse stayed throttled or unavailable until the retry budget (retry_budget_seconds) was spent`, "transient_error", context, { cause: err });
  }
  return new PipelineError("internal", `Internal error (${err instanceof Error ? err.name : typeof err}); please report it`, "system_error", context, { cause: err });
}
