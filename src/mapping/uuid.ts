// Name-based UUIDs (RFC 9562 §5.5, formerly RFC 4122 §4.3): SHA-1 of namespace bytes + name bytes,
// version nibble 5, variant 10. Used for deterministic row ids, so a re-run creates no duplicates.
import { createHash } from "node:crypto";
import { isGuid } from "../model/guid.js";

/**
 * Accepts the forms Dataverse and .NET print ("{...}", upper case) and returns the lower-case
 * 8-4-4-4-12 form, or undefined when it is not a GUID.
 */
export function normalizeGuid(value: string): string | undefined {
  let s = value.trim();
  if (s.startsWith("{") && s.endsWith("}")) s = s.slice(1, -1);
  return isGuid(s) ? s.toLowerCase() : undefined;
}

/** UUIDv5 of `name` (UTF-8) in `namespace` (a GUID). Throws only on a malformed namespace, which
 * planStream rejects before any record is mapped. */
export function uuidv5(name: string, namespace: string): string {
  const ns = normalizeGuid(namespace);
  if (ns === undefined) throw new TypeError("uuidv5: namespace is not a GUID");
  const nsBytes = Buffer.from(ns.replace(/-/g, ""), "hex");
  const hash = createHash("sha1").update(nsBytes).update(Buffer.from(name, "utf8")).digest();
  const b = hash.subarray(0, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x50;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The name hashed for a deterministic id: the JSON text of the array of the key values, each
 * turned into a string first. JSON keeps the join unambiguous (["a,b"] ≠ ["a","b"]), and the
 * string step makes 42 and "42" the same row, since warehouses disagree on key column types.
 */
export function deterministicName(values: readonly (string | number | boolean)[]): string {
  return JSON.stringify(values.map((v) => String(v)));
}

export function deterministicId(values: readonly (string | number | boolean)[], namespace: string): string {
  return uuidv5(deterministicName(values), namespace);
}
