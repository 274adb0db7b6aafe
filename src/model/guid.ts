// The one GUID pattern: Dataverse row ids, lookup values and owner ids, in the 8-4-4-4-12 hex form.

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for the 8-4-4-4-12 hex form (no braces), in either case. */
export function isGuid(value: string): boolean {
  return GUID.test(value);
}
