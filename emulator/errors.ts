// Dataverse's error answers: {"error":{"code","message"}} with the documented HTTP status.
// Codes and message shapes come from Learn's web-service-error-codes list and the
// web-api-client-errors troubleshooting page unless a comment says otherwise.

export class DataverseError extends Error {
  constructor(
    readonly status: number,
    /** Dataverse's hex error code, e.g. "0x80040217" ("0x0" or "" for OData-level errors). */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "DataverseError";
  }

  /**
   * Rows a bulk action wrote (and rolled back) before this error stopped it: the execution-time
   * model charges them (cost.ts). Undefined for anything else.
   */
  rowsDone: number | undefined;
}

function payload(entitySet: string, inner: string): DataverseError {
  return new DataverseError(
    400,
    "0x80048d19",
    `Error identified in Payload provided by the user for Entity :'${entitySet}'  ---->  InnerException : Microsoft.OData.ODataException: ${inner}`,
  );
}

/** Every error answer of the Web API side, by name; the HTTP status is part of the name's meaning. */
export const errors = {
  resourceNotFound: (segment: string) =>
    new DataverseError(404, "0x8006088a", `Resource not found for the segment '${segment}'.`),
  noHttpResource: (url: string) =>
    new DataverseError(404, "", `No HTTP resource was found that matches the request URI '${url}'.`),
  propertyNotFound: (property: string, table: string) =>
    new DataverseError(
      400,
      "0x0",
      `Could not find a property named '${property}' on type 'Microsoft.Dynamics.CRM.${table}'.`,
    ),
  invalidProperty: (property: string, table: string) =>
    new DataverseError(
      400,
      "0x0",
      `An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property '${property}' was found in entity 'Microsoft.Dynamics.CRM.${table}'. ---> Microsoft.OData.ODataException: Does not support untyped value in non-open type.`,
    ),
  undeclaredProperty: (property: string, entitySet: string) =>
    new DataverseError(
      400,
      "0x80048d19",
      `Error identified in Payload provided by the user for Entity :'${entitySet}'  ---->  InnerException : Microsoft.OData.ODataException: An undeclared property '${property}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
    ),
  payload,
  badRequest: (message: string, code = "0x0") => new DataverseError(400, code, message),
  // IIS/ASP.NET in front of Dataverse refuses these before OData sees the request (odata/path.ts).
  invalidUrl: () => new DataverseError(400, "0x0", "Bad Request - Invalid URL"),
  querySyntax: () => new DataverseError(400, "0x0", "Bad Request - Error in query syntax."),
  /** A key value holding '+' or '/': no route matches. The URL holds the value, so it is not quoted. */
  noRouteForKey: () => new DataverseError(404, "", "No HTTP resource was found that matches the request URI."),
  dangerousPath: (character: string) =>
    new DataverseError(400, "", `A potentially dangerous Request.Path value was detected from the client (${character}).`),
  notFoundById: (table: string, id: string) =>
    new DataverseError(404, "0x80040217", `${table} With Id = ${id} Does Not Exist`),
  notFoundByKey: (table: string) =>
    new DataverseError(
      404,
      "0x80060891",
      `A record with the specified key values does not exist in ${table} entity`,
    ),
  invalidKey: (table: string) =>
    new DataverseError(
      400,
      "0x80060890",
      `The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.${table}'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.${table}'.`,
    ),
  duplicateKey: (keyName: string, columns: readonly string[]) =>
    new DataverseError(
      412,
      "0x80060892",
      `Entity Key ${keyName} violated. A record with the same value for ${columns.join(",")} already exists. A duplicate record cannot be created. Select unique values for ${columns.join(",")} and try again.`,
    ),
  // A create with a primary id already taken. Learn's conditional-operations page shows the outer
  // message "A record with matching key values already exists." over an inner "Cannot insert
  // duplicate key."; clients that captured the POST case record code 0x80040237 (DuplicateRecord)
  // with that outer message.
  duplicateId: () =>
    new DataverseError(412, "0x80040237", "A record with matching key values already exists."),
  alreadyExists: () => new DataverseError(412, "", "A record with matching key values already exists."),
  versionMismatch: () =>
    new DataverseError(
      412,
      "0x80060882",
      "The version of the existing record doesn't match the RowVersion property provided.",
    ),
  /** privilege is the full name, e.g. "prvCreateContact"; otc the table's ObjectTypeCode. */
  privilege: (privilege: string, table: string, otc: number, userId: string) =>
    new DataverseError(
      403,
      "0x80040220",
      `Principal user (Id=${userId}, type=8, roleCount=1, privilegeCount=0, accessMode=0), is missing ${privilege} privilege (Id=${privilegeId(privilege)}) on OTC=${otc} for entity '${table}'. Consider assigning a role with the required privilege to the user.`,
    ),
  unexpected: () => new DataverseError(400, "0x80040216", "An unexpected error occurred."),
  /** A bug or an impossible state inside the emulator: still an answer, never a crash. */
  internal: () => new DataverseError(500, "0x80040216", "An unexpected error occurred."),
  methodNotAllowed: (method: string) =>
    new DataverseError(405, "0x80060888", `The HTTP method '${method}' is not allowed for this resource.`),
  /** Valid Dataverse that the emulator does not do; the message names what. */
  notEmulated: (message: string) => new DataverseError(501, "0x80040216", message),
  // Dataverse refuses oversized requests with 413; the docs do not publish the body.
  tooLarge: () => new DataverseError(413, "0x80040216", "The request is too large."),
  notAMember: () => new DataverseError(403, "0x80072560", "The user is not a member of the organization."),
  /** A special privilege (prvActOnBehalfOfAnotherUser, prvBypassCustomBusinessLogic) the caller lacks. */
  missingSpecialPrivilege: (privilege: string) =>
    new DataverseError(403, "0x80040220", `The user does not hold the necessary privileges. Missing privilege: ${privilege}.`),
  /** Service protection (api-limits); the answer carries Retry-After besides. */
  throttled: (code: string, message: string) => new DataverseError(429, code, message),
  /** A `$batch` body batch.ts refuses; the parser names status, code and message. */
  batchRefused: (refusal: { readonly status: number; readonly code: string; readonly message: string }) =>
    new DataverseError(refusal.status, refusal.code, refusal.message),
  invalidBatchUri: (url: string) => new DataverseError(400, "0x0", `The request URI '${url}' is not valid for this service.`),
  /** UpdateMultiple on missing rows (bulk-operations, troubleshooting: "Contact With Ids = <guid> Do Not Exist"). */
  notFoundByIds: (schemaName: string, id: string) =>
    new DataverseError(404, "0x80040217", `${schemaName} With Ids = ${id} Do Not Exist`),
  // Undocumented for the Web API; the platform's messages for a missing table or column definition.
  entityDefinitionNotFound: (name: string) => new DataverseError(404, "0x80060888", `Could not find entity with name '${name}'.`),
  attributeDefinitionNotFound: (table: string) =>
    new DataverseError(404, "0x80060888", `Could not find attribute with the specified name for entity '${table}'.`),
  // Not in Learn's error list for the Web API; the platform answers InvalidArgument with this text.
  requiredMissing: (column: string) => new DataverseError(400, "0x80040203", `Attribute '${column}' cannot be set to NULL`),
  primaryIdChanged: (primaryId: string) => new DataverseError(400, "0x80040203", `The value of '${primaryId}' can't be changed.`),
  invalidSkipToken: () => new DataverseError(400, "0x80040203", "The $skiptoken value is not valid."),
  // The platform words it "<statuscode> is not a valid status code for state code
  // AccountState.Active on account with Id <id>." with code 0x80048408 (captured answer in Stack
  // Overflow question 65294197; Learn's error list does not name the case); the value is left
  // out (house rule: no record values in messages). The id is there on create too.
  statusNotValidForState: (schemaName: string, stateLabel: string, table: string, id: string) =>
    new DataverseError(400, "0x80048408", `The statuscode is not a valid status code for state code ${schemaName}State.${stateLabel} on ${table} with Id ${id}.`),
  // ---- many-to-many relationships and marketing lists (associations.ts, list-members.ts) ----
  // Associating a pair that is already associated: the intersect table's unique index refuses the
  // row. Learn documents no Web API answer for it; the platform's DuplicateRecord code 0x80040237
  // with "Cannot insert duplicate key." is what clients that handle it match on (e.g. workflow tools'
  // AssociateEntity activity, ExecuteMultiple fault handling); 412 as for the other duplicate errors.
  duplicateAssociation: () => new DataverseError(412, "0x80040237", "Cannot insert duplicate key."),
  // The list rules below are the list table reference's own rules ("Each list can have only one
  // member type", "If Yes is selected, no additional members can be added to the marketing list", a
  // dynamic list's members come from its query); Learn publishes no error for breaking them, so
  // the emulator answers InvalidArgument (0x80040203) with a message naming the rule.
  listMemberTypeMismatch: (memberTable: string) =>
    new DataverseError(400, "0x80040203", `The member type of the marketing list does not match the type of the member being added (${memberTable}).`),
  listLocked: () => new DataverseError(400, "0x80040203", "Members cannot be added to a locked marketing list."),
  listDynamic: () => new DataverseError(400, "0x80040203", "Members of a dynamic marketing list come from its query; they cannot be added or removed."),
  // ---- values (validate.ts) ----
  cannotConvert: (entitySet: string, column: string, edmType: string) =>
    payload(entitySet, `Cannot convert the value of property '${column}' to the expected type '${edmType}'.`),
  /** Not documented as a code of its own: Dataverse reports ranges as a validation error (0x80044331). */
  outOfRange: (column: string, table: string, min: number, max: number) =>
    new DataverseError(
      400,
      "0x80044331",
      `A validation error occurred. The value of '${column}' on record of type '${table}' is outside the valid range. Accepted range: ${min} to ${max}`,
    ),
  tooLong: (column: string, table: string, max: number) =>
    new DataverseError(
      400,
      "0x80044331",
      `A validation error occurred. The length of the '${column}' attribute of the '${table}' entity exceeded the maximum allowed length of '${max}'.`,
    ),
  // invalidcharactersinfield: Learn gives the name, code and description, not the HTTP status; 400
  // as for the other validation errors.
  invalidCharacters: (column: string) =>
    new DataverseError(400, "0x80040278", `The field '${column}' contains one or more invalid characters.`),
  invalidDate: () =>
    new DataverseError(400, "0x80040239", "The date-time format is invalid, or value is outside the supported range."),
  // OptionSetValidationFailed (0x80061005) per the error-code list: a multi-select choice value
  // that is not one of the column's options.
  optionSetOutOfRange: () => new DataverseError(400, "0x80061005", "The value is out of range."),
  // PicklistValueOutOfRange (0x8004431A) per the error-code list; the message follows the platform's
  // validation-error shape.
  picklistOutOfRange: (column: string, table: string) =>
    new DataverseError(
      400,
      "0x8004431a",
      `A validation error occurred. The value of '${column}' on record of type '${table}' is outside the valid range.`,
    ),
};

// The real message names the privilege's GUID; a stable fake one per name keeps the shape.
function privilegeId(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const hex = h.toString(16).padStart(8, "0");
  return `${hex}-0000-4000-8000-${hex}0000`;
}

export function errorBody(error: DataverseError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}
