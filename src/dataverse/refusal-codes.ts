// What each Dataverse error code the connector can meet means, and what to do about it, in the
// connector's words. The codes are those of Learn's web-service-error-codes list (by name there);
// the texts never quote a value, so they may go into logs and dead letters whatever
// dead_letter_include_record says. docs/troubleshooting.md has the same table.

export interface RefusalCode {
  /** Learn's name for the code. */
  readonly name: string;
  readonly meaning: string;
  readonly fix: string;
}

export const REFUSAL_CODES: ReadonlyMap<string, RefusalCode> = new Map<string, RefusalCode>([
  ["0x80060892", { name: "DuplicateRecordEntityKey", meaning: "a row with the same alternate key values already exists", fix: "write the stream in upsert mode (append_dedup) to update that row, or remove the duplicate key value in the source" }],
  ["0x80040237", { name: "DuplicateRecord", meaning: "a row with the same id or unique values already exists", fix: "give the stream a key and upsert mode to update existing rows instead of creating them" }],
  ["0x80040333", { name: "DuplicateRecordsFound", meaning: "a duplicate-detection rule matched an existing row", fix: "set duplicate_detection to false, or change the table's duplicate-detection rule" }],
  ["0x80040217", { name: "ObjectDoesNotExist", meaning: "a row the request names does not exist (the row itself in update mode, or a lookup target)", fix: "sync the lookup target's stream first or in the same run, or use upsert mode to create missing rows" }],
  ["0x80060891", { name: "RecordNotFoundByEntityKey", meaning: "a row with the given key values does not exist (the row itself, or a lookup target)", fix: "sync the lookup target's stream first or in the same run, or use upsert mode to create missing rows" }],
  ["0x80060890", { name: "InvalidEntityKeyOperation", meaning: "the key columns sent do not match an alternate key of the table", fix: "check the stream's key: its columns must be exactly an Active alternate key's" }],
  ["0x80044331", { name: "InvalidArgument (validation)", meaning: "a value failed Dataverse's validation (for example, longer than its column allows, or out of its range)", fix: "check the field against the column's limits in Power Apps; set truncate_strings to cut long text" }],
  ["0x8004431a", { name: "PicklistValueOutOfRange", meaning: "a choice value is out of the column's range", fix: "map the field to one of the column's options (by label or value), or add the option to the choice" }],
  ["0x80061005", { name: "OptionSetValidationFailed", meaning: "a choice value is not one of the column's options", fix: "map the field to one of the column's options (by label or value), or add the option to the choice" }],
  ["0x80040239", { name: "InvalidDateTime", meaning: "a date is invalid or out of range", fix: "send dates between 1753-01-01 and 9999-12-31, as ISO 8601 text" }],
  ["0x80040278", { name: "InvalidCharactersInField", meaning: "a text value holds characters Dataverse does not accept", fix: "remove control characters from the field in the source" }],
  ["0x80040265", { name: "IsvAborted", meaning: "a plug-in or real-time workflow refused the row", fix: "read the plug-in's reason in the dead-letter file (with dead_letter_include_record), fix the data, or set bypass_business_logic if the plug-in should not run for this sync" }],
  ["0x80040203", { name: "InvalidArgument", meaning: "a value is not allowed for its column (a required column set to null, a primary id changed)", fix: "send a value for the required column, or set the field's nulls to skip" }],
  ["0x80048408", { name: "InvalidStateCodeStatusCode", meaning: "the status reason does not belong to the status sent with it", fix: "send a statuscode that belongs to the statecode (Power Apps → the table → Status Reason)" }],
  ["0x80048d19", { name: "PayloadError", meaning: "Dataverse could not read the request body for this table (a column it does not know, or a value of the wrong type)", fix: "run check: it names the mapping's columns the table does not have" }],
  ["0x80060882", { name: "ConcurrencyVersionMismatch", meaning: "the row changed since it was read", fix: "rerun; another writer changed the row at the same time" }],
  ["0x8006088a", { name: "ResourceNotFound", meaning: "the table's entity set is not known to this environment", fix: "check the stream's table (its logical name) and web_api_endpoint" }],
  ["0x80060888", { name: "NotFound", meaning: "the table, column or operation is not known to this environment", fix: "check the stream's table and columns against the environment (run check)" }],
  ["0x80040216", { name: "UnexpectedError", meaning: "Dataverse failed with an unexpected error (often a plug-in that crashed)", fix: "rerun; if it stays, look for a failing plug-in on the table, or set bypass_business_logic" }],
  ["0x80040220", { name: "PrivilegeDenied", meaning: "the application user lacks a privilege", fix: "give its security role the privilege (Create, Write, Delete, Append, Append To) on the table" }],
  ["0x80040231", { name: "PrincipalPrivilegeDenied", meaning: "the application user lacks a privilege on this row", fix: "give its security role the privilege at Organization level" }],
  ["0x80072560", { name: "NotAMember", meaning: "the app is not an application user in this environment", fix: "add it in the Power Platform admin center under Application users, with a security role" }],
  ["0x80072322", { name: "Throttling (requests)", meaning: "too many requests in five minutes", fix: "lower max_concurrency or batch_size, or add additional_app_users" }],
  ["0x80072321", { name: "Throttling (execution time)", meaning: "too much execution time in five minutes", fix: "lower max_concurrency or batch_size, set bypass_business_logic if plug-ins are slow, or add additional_app_users" }],
  ["0x80072326", { name: "Throttling (concurrency)", meaning: "too many concurrent requests", fix: "lower max_concurrency" }],
]);

/** "<meaning>; <fix>" for a known code, undefined otherwise. */
export function explainCode(code: string): string | undefined {
  const c = REFUSAL_CODES.get(code.toLowerCase());
  return c === undefined ? undefined : `${c.meaning}; ${c.fix}`;
}
