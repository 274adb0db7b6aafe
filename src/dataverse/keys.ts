// OData literals for row addresses: keys in URLs, @odata.bind targets and $filter expressions.
import { isGuid } from "../model/guid.js";
import { lookupOfValueName } from "../model/lookup.js";
import type { RowRef } from "../model/operation.js";

/**
 * Characters Microsoft documents as unusable in an alternate key addressed through the URL, even
 * percent-encoded (define-alternate-keys-entity: "/ < > * % & : \ ? +"). Rows whose key holds one
 * must be found another way ($filter to the GUID).
 */
const UNUSABLE_IN_URL = /[/<>*%&:\\?+]/;

export class KeyLiteralError extends Error {
  override readonly name = "KeyLiteralError";
  readonly code = "INVALID_KEY_VALUE";
  constructor(
    readonly column: string,
    reason: string,
  ) {
    super(`key column ${column}: ${reason}`);
  }
}

/** A number as an OData literal: finite, no exponent (OData's Edm.Decimal has none). */
function numberLiteral(column: string, value: number): string {
  if (!Number.isFinite(value)) throw new KeyLiteralError(column, "number is not finite");
  const text = String(value);
  if (/e/i.test(text)) {
    // 1e21 and 1e-7 style: spell out digits; toFixed handles up to 100 fraction digits.
    if (Math.abs(value) >= 1e21) throw new KeyLiteralError(column, "number is too large for a key");
    return value.toFixed(20).replace(/\.?0+$/, "");
  }
  return text;
}

/** Percent-encodes for a URL query value; keeps the quote so literals stay readable. */
function encodePathChars(text: string): string {
  return encodeURIComponent(text).replace(/[!*()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Percent-encodes a key value for an entity path, which also goes unparsed into `@odata.id` and
 * `@odata.bind` values in JSON bodies. "@" stays as it is: RFC 3986 allows it in a path segment, and
 * Microsoft's own examples and SDKs write e-mail keys that way, so the most common key (an e-mail
 * address) means the same to the server whether or not it unescapes a bind target.
 */
function encodeKeyChars(text: string): string {
  return encodePathChars(text).replace(/%40/g, "@");
}

/**
 * Half a UTF-16 surrogate pair has no UTF-8 form, so no URL can carry it (encodeURIComponent
 * throws URIError). The mapping refuses such text first (invalid_text); this keeps a value that
 * got past it a rejection of its row, never a failed run.
 */
function checkText(column: string, value: string): void {
  if (/\p{Cs}/u.test(value)) throw new KeyLiteralError(column, "text holds half of a UTF-16 surrogate pair");
}

/** Lookup columns inside a key (`_parentid_value`) take a bare GUID, like the primary key. */
function isLookupValueColumn(column: string): boolean {
  return lookupOfValueName(column) !== undefined;
}

const URL_PLAIN = /^[A-Za-z0-9._~@-]*$/;

/** One key value as it goes in the URL: strings quoted with '' doubled, then percent-encoded. */
export function keyValueLiteral(column: string, value: string | number): string {
  if (typeof value === "number") return numberLiteral(column, value);
  if (isLookupValueColumn(column) && isGuid(value)) return value.toLowerCase();
  // Letters, digits and - . _ ~ @ need no quote doubling and no percent-encoding (the common e-mail
  // or code key); the long way below gives the same text for them.
  if (URL_PLAIN.test(value)) return `'${value}'`;
  checkText(column, value);
  return `'${encodeKeyChars(value.replace(/'/g, "''"))}'`;
}

/** The parenthesised part of an entity URL: `(guid)` or `(col='v',col2=2)`. */
export function keySegment(ref: RowRef): string {
  switch (ref.kind) {
    case "id":
      if (!isGuid(ref.id)) throw new KeyLiteralError("id", "not a GUID");
      return `(${ref.id.toLowerCase()})`;
    case "key":
      if (ref.values.length === 0) throw new KeyLiteralError("key", "no key columns");
      return `(${ref.values.map(([c, v]) => `${c}=${keyValueLiteral(c, v)}`).join(",")})`;
    case "none":
      throw new KeyLiteralError("key", "a row without a key has no URL");
  }
}

/**
 * Throws what keySegment would throw for `ref`, without building the text: the writer checks every
 * operation up front but needs the URL of few of them (bulk targets carry their key in the body).
 */
export function checkRef(ref: RowRef): void {
  if (ref.kind !== "key") {
    keySegment(ref);
    return;
  }
  if (ref.values.length === 0) throw new KeyLiteralError("key", "no key columns");
  for (const [column, value] of ref.values) {
    if (typeof value === "number") numberLiteral(column, value);
    else if (!URL_PLAIN.test(value)) checkText(column, value);
  }
}

/** `contacts(emailaddress1='a@b.com')`, relative to the service root. */
export function entityPath(entitySet: string, ref: RowRef): string {
  return `${entitySet}${keySegment(ref)}`;
}

/** The value of `<nav>@odata.bind`: `/accounts(accountnumber='A-1')` or `/accounts(<guid>)`. */
export function bindUrl(entitySet: string, ref: RowRef): string {
  return `/${entityPath(entitySet, ref)}`;
}

/** False when a key value holds a character Dataverse cannot take in a URL key. */
export function isUrlAddressable(ref: RowRef): boolean {
  if (ref.kind !== "key") return true;
  for (const [, v] of ref.values) if (typeof v !== "number" && UNUSABLE_IN_URL.test(v)) return false;
  return true;
}

/** A value in a $filter expression (not yet URL-encoded: encode the whole filter once). */
export function filterLiteral(column: string, value: string | number): string {
  if (typeof value === "number") return numberLiteral(column, value);
  if (isLookupValueColumn(column) && isGuid(value)) return value.toLowerCase();
  checkText(column, value);
  return `'${value.replace(/'/g, "''")}'`;
}

/** `col eq 'v' and col2 eq 2` for a key ref (filter by key columns to find the row's GUID). */
export function keyFilter(ref: RowRef): string {
  if (ref.kind !== "key") throw new KeyLiteralError("key", "only alternate keys have a filter form");
  return ref.values.map(([c, v]) => `${c} eq ${filterLiteral(c, v)}`).join(" and ");
}

/** A query string value percent-encoded for the URL. */
export function encodeQueryValue(value: string): string {
  checkText("query", value);
  return encodePathChars(value);
}
