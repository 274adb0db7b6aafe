// Splits the resource path after the service root into segments with optional key predicates.
import { errors } from "../errors.js";
import { type KeyPart, LiteralSyntaxError, parseKeyPredicate } from "./literal.js";

export interface PathSegment {
  /** Decoded identifier, e.g. "contacts", "Microsoft.Dynamics.CRM.UpsertMultiple", "$ref". */
  readonly name: string;
  /** Present when the segment had a key predicate `(...)`; `()` gives an empty array. */
  readonly keys?: readonly KeyPart[];
  /** The decoded text inside the parentheses, for messages. */
  readonly keyText?: string;
}

// Learn (define-alternate-keys-entity, "Unicode characters in key value"): if a key column's data
// contains / < > * % & : \ ? +, "retrieve (GET), update, or upsert (PATCH) actions don't work";
// uniqueness still does. DELETE goes through the same URL handling, so it fails too. The docs name
// no status or message. The list is ASP.NET's default requestPathInvalidCharacters (< > * % & : \ ?),
// which answers 400 "A potentially dangerous Request.Path value was detected from the client (x).";
// '+' is refused by IIS request filtering (double escaping, a 404.11) and an encoded '/' splits the
// path so no resource matches. We answer the same way: 400, or 404 for '+' and '/'.
const DANGEROUS = ["<", ">", "*", "%", "&", ":", "\\", "?"] as const;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw errors.invalidUrl();
  }
}

export function parsePath(rawPath: string): PathSegment[] {
  const path = rawPath.startsWith("/") ? rawPath.slice(1) : rawPath;
  if (path === "") return [];
  const rawSegments = splitOutsideQuotes(path);
  const segments: PathSegment[] = [];
  for (const raw of rawSegments) {
    const text = decode(raw);
    const open = text.indexOf("(");
    if (open < 0 || !text.endsWith(")")) {
      segments.push({ name: text });
      continue;
    }
    const name = text.slice(0, open);
    const inner = text.slice(open + 1, -1);
    if (inner.trim() === "") {
      segments.push({ name, keys: [], keyText: "" });
      continue;
    }
    let keys: KeyPart[];
    try {
      keys = parseKeyPredicate(inner);
    } catch (cause) {
      if (cause instanceof LiteralSyntaxError) {
        throw errors.querySyntax();
      }
      throw cause;
    }
    segments.push({ name, keys, keyText: inner });
  }
  return segments;
}

/** Throws the way IIS/ASP.NET in front of Dataverse refuses a key value (see DANGEROUS). */
export function assertUsableKeyValues(keys: readonly KeyPart[]): void {
  for (const k of keys) {
    if (k.value.kind !== "string") continue;
    const v = k.value.value;
    // Dataverse would quote the URL or its last segment here; both hold the key value, which must
    // not reach a log (house rule), so the message names neither.
    if (v.includes("+") || v.includes("/")) {
      throw errors.noRouteForKey();
    }
    const bad = DANGEROUS.find((c) => v.includes(c));
    if (bad !== undefined) {
      throw errors.dangerousPath(bad);
    }
  }
}

// A raw (still encoded) path can hold '/' only as a separator, or inside a quoted literal if the
// client forgot to encode it; splitting outside quotes keeps the latter in its segment so it
// reaches the key check above.
function splitOutsideQuotes(path: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inQuote = false;
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] ?? "";
    if (ch === "'" || (ch === "%" && path.slice(i, i + 3) === "%27")) {
      inQuote = !inQuote;
    }
    if (ch === "/" && !inQuote) {
      out.push(cur);
      cur = "";
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out;
}
