// What a dead letter says about a row Dataverse refused, when the record itself is left out.
// Dataverse builds its error messages from the request, so they can quote the record's values
// ("... with Id = <key> Does Not Exist", "A record with these values already exists: <values>").
// With dead_letter_include_record off the user asked for no values in the file, so the message is
// ours, chosen by the error code; Dataverse's text is kept only when the record is written too.

// Codes as listed in shared/reference/dataverse-web-api.md §7 (Learn's web-service-error-codes).
const BY_CODE: ReadonlyMap<string, string> = new Map([
  ["0x80060892", "a row with the same alternate key values already exists"],
  ["0x80040237", "a row with the same id or unique values already exists"],
  ["0x80040333", "a duplicate-detection rule matched an existing row"],
  ["0x80040217", "a row the request names does not exist (the row itself in update mode, or a lookup target)"],
  ["0x80060891", "a row with the given key values does not exist (the row itself, or a lookup target)"],
  ["0x80044331", "a value failed Dataverse's validation (for example, longer than its column allows)"],
  ["0x8004431a", "a choice value is out of the column's range"],
  ["0x80061005", "a choice value is not one of the column's options"],
  ["0x80040239", "a date is invalid or out of range"],
  ["0x80040278", "a text value holds characters Dataverse does not accept"],
  ["0x80040265", "a plug-in refused the row"],
]);

/**
 * The dead-letter message for a refusal. `status` 0 means the writer refused the row before sending
 * it: that message is the connector's own and never quotes values, so it is kept.
 */
export function refusalMessage(outcome: { readonly status: number; readonly code: string; readonly message: string }, includeRecord: boolean): string {
  if (outcome.status === 0 || (includeRecord && outcome.message !== "")) return outcome.message;
  // A 404 without a code is the writer's own "not found" while resolving a key or a lookup.
  const known = BY_CODE.get(outcome.code.toLowerCase()) ?? (outcome.status === 404 ? "a row the request names does not exist (the row itself, or a lookup target)" : undefined);
  const what = `Dataverse refused the row (HTTP ${outcome.status}${outcome.code === "" ? "" : ` ${outcome.code}`})`;
  const fallback = includeRecord ? "Dataverse gave no message" : "Dataverse's own message is left out with the record (dead_letter_include_record is false)";
  return `${what}: ${known ?? fallback}.`;
}
