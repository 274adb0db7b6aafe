// What a dead letter says about a row Dataverse refused, when the record itself is left out.
// Dataverse builds its error messages from the request, so they can quote the record's values
// ("... with Id = <key> Does Not Exist", "A record with these values already exists: <values>").
// With dead_letter_include_record off the user asked for no values in the file, so the message is
// ours, chosen by the error code; Dataverse's text is kept only when the record is written too.
import { explainCode } from "../dataverse/refusal-codes.js";

// Codes as listed in shared/reference/dataverse-web-api.md §7 (Learn's web-service-error-codes),
// with their meaning and fix, in dataverse/refusal-codes.ts.

/**
 * The dead-letter message for a refusal. `status` 0 means the writer refused the row before sending
 * it: that message is the connector's own and never quotes values, so it is kept.
 */
export function refusalMessage(outcome: { readonly status: number; readonly code: string; readonly message: string }, includeRecord: boolean): string {
  if (outcome.status === 0 || (includeRecord && outcome.message !== "")) return outcome.message;
  // A 404 without a code is the writer's own "not found" while resolving a key or a lookup.
  const known = explainCode(outcome.code) ?? (outcome.status === 404 ? explainCode("0x80040217") : undefined);
  const what = `Dataverse refused the row (HTTP ${outcome.status}${outcome.code === "" ? "" : ` ${outcome.code}`})`;
  const fallback = includeRecord ? "Dataverse gave no message" : "Dataverse's own message is left out with the record (dead_letter_include_record is false)";
  return `${what}: ${known ?? fallback}.`;
}

/**
 * The log's words for a row Dataverse refused: what the code means and what to do (the log line
 * adds the code itself). Never Dataverse's own message, which can quote values.
 */
export function refusalSummary(outcome: { readonly status: number; readonly code: string }): string {
  const known = explainCode(outcome.code) ?? (outcome.status === 404 && outcome.code === "" ? explainCode("0x80040217") : undefined);
  if (known !== undefined) return `Dataverse refused the row (HTTP ${outcome.status}): ${known}`;
  const code = outcome.code === "" ? "" : ` ${outcome.code}`;
  return `Dataverse refused the row (HTTP ${outcome.status}${code}); the connector has no explanation for this code: look it up in Microsoft's Dataverse "Web service error codes" list, or keep Dataverse's own message in the dead-letter file (dead_letter_include_record)`;
}
