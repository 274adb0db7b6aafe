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
}

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
  payload: (entitySet: string, inner: string) =>
    new DataverseError(
      400,
      "0x80048d19",
      `Error identified in Payload provided by the user for Entity :'${entitySet}'  ---->  InnerException : Microsoft.OData.ODataException: ${inner}`,
    ),
  badRequest: (message: string, code = "0x0") => new DataverseError(400, code, message),
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
