// The $batch framing, as LEARN/webapi/execute-batch-operations-using-web-api
// describes it: multipart/mixed with CRLF line endings, application/http parts, changesets (nested
// multipart/mixed) that are atomic, Content-ID and $n references, stop at the first error unless
// `Prefer: odata.continue-on-error`. Parsing and formatting are pure; `executeBatch` drives a
// DataService-like callback so it can be tested without a server.
import { randomUUID } from "node:crypto";
import type { ServiceResponse } from "./types.js";

export interface BatchPart {
  readonly method: string;
  /** The request target as written in the part: absolute URL, absolute path, relative path or "$n...". */
  readonly url: string;
  /** Inner request headers, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Content-ID of the MIME part, if any. */
  readonly contentId?: string;
}

export type BatchItem =
  | { readonly kind: "request"; readonly part: BatchPart }
  | { readonly kind: "changeset"; readonly parts: readonly BatchPart[] };

export interface BatchError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export type BatchParse = { readonly ok: true; readonly items: readonly BatchItem[] } | ({ readonly ok: false } & BatchError);

/** Documented limit: "Batch requests can contain up to 1000 individual requests". */
export const MAX_BATCH_OPERATIONS = 1000;

const PAYLOAD_ERROR = "0x80048d19";

/** Reads `boundary=` from a Content-Type value (quoted or not). */
export function boundaryOf(contentType: string): string | undefined {
  const match = /(?:^|;)\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

function isMultipartMixed(contentType: string | undefined): boolean {
  return contentType !== undefined && /^\s*multipart\/mixed\b/i.test(contentType);
}

function notReadable(): BatchParse {
  // What Dataverse answers for LF-only bodies (web-api-client-errors); the text after the code is the
  // .NET exception Microsoft quotes.
  return {
    ok: false,
    status: 400,
    code: PAYLOAD_ERROR,
    message:
      "Error identified in Payload provided by the user for Entity :'' ---->  InnerException : System.ArgumentException: Stream was not readable.",
  };
}

function badBatch(message: string): BatchParse {
  return { ok: false, status: 400, code: "0x0", message };
}

/** Splits a multipart body into the raw texts of its parts (between delimiters). */
function splitMultipart(body: string, boundary: string): string[] | undefined {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  // The body may start directly with the delimiter or with a preamble followed by CRLF.
  let pos = 0;
  if (!body.startsWith(delimiter)) {
    const first = body.indexOf(`\r\n${delimiter}`);
    if (first < 0) return undefined;
    pos = first + 2;
  }
  for (;;) {
    const afterDelimiter = pos + delimiter.length;
    if (body.startsWith("--", afterDelimiter)) return parts; // close delimiter; epilogue ignored
    // Transport padding (spaces/tabs) then CRLF.
    const lineEnd = body.indexOf("\r\n", afterDelimiter);
    if (lineEnd < 0) return undefined;
    if (body.slice(afterDelimiter, lineEnd).trim() !== "") return undefined;
    const start = lineEnd + 2;
    const next = body.indexOf(`\r\n${delimiter}`, start - 2);
    if (next < 0) return undefined;
    parts.push(next < start ? "" : body.slice(start, next));
    pos = next + 2;
  }
}

/** Splits "headers CRLF CRLF body"; header names lower-cased. */
function splitHeaders(text: string): { headers: Record<string, string>; body: string } | undefined {
  let headerText: string;
  let body: string;
  if (text.startsWith("\r\n")) {
    headerText = "";
    body = text.slice(2);
  } else {
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) {
      headerText = text;
      body = "";
    } else {
      headerText = text.slice(0, end);
      body = text.slice(end + 4);
    }
  }
  const headers: Record<string, string> = {};
  if (headerText !== "") {
    for (const line of headerText.split("\r\n")) {
      // A header block may end right at the next delimiter, leaving an empty last line.
      if (line === "") continue;
      const colon = line.indexOf(":");
      if (colon <= 0) return undefined;
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  return { headers, body };
}

function parseHttpPart(text: string, contentId: string | undefined): BatchPart | { error: string } {
  const lineEnd = text.indexOf("\r\n");
  const requestLine = lineEnd < 0 ? text : text.slice(0, lineEnd);
  const match = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine.trim());
  if (match === null) return { error: "The request line of a batch part is not valid." };
  const rest = lineEnd < 0 ? "" : text.slice(lineEnd + 2);
  const split = splitHeaders(rest === "" ? "\r\n" : rest);
  if (split === undefined) return { error: "The headers of a batch part are not valid." };
  // A body ends where the next delimiter's CRLF begins; one trailing CRLF belongs to the framing
  // in some writers' output, which JSON bodies tolerate either way.
  const body = split.body.endsWith("\r\n") ? split.body.slice(0, -2) : split.body;
  return {
    method: match[1] ?? "",
    url: match[2] ?? "",
    headers: split.headers,
    body,
    ...(contentId === undefined ? {} : { contentId }),
  };
}

export function parseBatch(contentType: string | undefined, body: string): BatchParse {
  if (!isMultipartMixed(contentType)) {
    return badBatch("The content type of the batch request must be multipart/mixed.");
  }
  const boundary = boundaryOf(contentType ?? "");
  if (boundary === undefined) return badBatch("The batch request must have a boundary specification in the Content-Type header.");
  // Only the framing must be CRLF: the bodies inside parts are opaque (pretty-printed JSON with LF is fine).
  if (!body.includes("\r\n") && body.includes("\n")) return notReadable();
  const rawParts = splitMultipart(body, boundary);
  if (rawParts === undefined) return notReadable();

  const items: BatchItem[] = [];
  let operations = 0;
  for (const raw of rawParts) {
    const mime = splitHeaders(raw);
    if (mime === undefined) return notReadable();
    const type = mime.headers["content-type"];
    if (isMultipartMixed(type)) {
      const changesetBoundary = boundaryOf(type ?? "");
      if (changesetBoundary === undefined) return badBatch("A changeset must have a boundary specification.");
      const inner = splitMultipart(mime.body, changesetBoundary);
      if (inner === undefined) return notReadable();
      const parts: BatchPart[] = [];
      for (const innerRaw of inner) {
        const innerMime = splitHeaders(innerRaw);
        if (innerMime === undefined) return notReadable();
        if (isMultipartMixed(innerMime.headers["content-type"])) {
          return badBatch("Changesets cannot be nested.");
        }
        const part = parseHttpPart(innerMime.body, innerMime.headers["content-id"]);
        if ("error" in part) return badBatch(part.error);
        if (part.method === "GET") {
          // The docs state GET is not allowed in a changeset but do not quote the error; this is
          // the OData library's wording for the case.
          return badBatch("The HTTP method 'GET' is invalid for a request in a change set. Only DELETE, PATCH, POST, and PUT requests can be included in a change set.");
        }
        parts.push(part);
      }
      operations += parts.length;
      items.push({ kind: "changeset", parts });
    } else {
      const part = parseHttpPart(mime.body, mime.headers["content-id"]);
      if ("error" in part) return badBatch(part.error);
      operations++;
      items.push({ kind: "request", part });
    }
    if (operations > MAX_BATCH_OPERATIONS) {
      // Reported wording (DynamicsWebApi commit ba2f241): Microsoft's docs state the limit only.
      return badBatch(
        `The current change set contains too many operations. A maximum number of '${MAX_BATCH_OPERATIONS}' operations are allowed in a change set.`,
      );
    }
  }
  return { ok: true, items };
}

const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Payload Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "Unknown";
}

/** Canonical casing for the headers Dataverse writes inside batch parts. */
function headerName(lower: string): string {
  switch (lower) {
    case "odata-version":
      return "OData-Version";
    case "odata-entityid":
      return "OData-EntityId";
    case "req_id":
      return "REQ_ID";
    case "etag":
      return "ETag";
    case "preference-applied":
      return "Preference-Applied";
    default:
      return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  }
}

export interface PartResponse {
  readonly response: ServiceResponse;
  readonly contentId?: string;
}

export type BatchResponseItem =
  | { readonly kind: "response"; readonly part: PartResponse }
  | { readonly kind: "changeset"; readonly parts: readonly PartResponse[] };

function formatPart(part: PartResponse): string {
  const lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (part.contentId !== undefined) lines.push(`Content-ID: ${part.contentId}`);
  lines.push("", `HTTP/1.1 ${part.response.status} ${reasonPhrase(part.response.status)}`);
  const headers = part.response.headers;
  for (const [name, value] of Object.entries(headers)) {
    if (name === "content-length") continue;
    lines.push(`${headerName(name)}: ${value}`);
  }
  // Dataverse writes Location beside OData-EntityId on 204 parts.
  if (part.response.status === 204 && headers["odata-entityid"] !== undefined && headers["location"] === undefined) {
    lines.push(`Location: ${headers["odata-entityid"]}`);
  }
  lines.push("", part.response.body ?? "");
  return lines.join("\r\n");
}

export function formatBatchResponse(items: readonly BatchResponseItem[]): { contentType: string; body: string } {
  const boundary = `batchresponse_${randomUUID()}`;
  const chunks: string[] = [];
  for (const item of items) {
    chunks.push(`--${boundary}\r\n`);
    if (item.kind === "response") {
      chunks.push(formatPart(item.part), "\r\n");
    } else {
      const cs = `changesetresponse_${randomUUID()}`;
      chunks.push(`Content-Type: multipart/mixed; boundary=${cs}\r\n\r\n`);
      for (const part of item.parts) chunks.push(`--${cs}\r\n`, formatPart(part), "\r\n");
      chunks.push(`--${cs}--\r\n`);
    }
  }
  chunks.push(`--${boundary}--\r\n`);
  return { contentType: `multipart/mixed; boundary=${boundary}`, body: chunks.join("") };
}

export interface BatchRunner {
  /** Runs one operation; refs holds the Content-ID → URL map of the enclosing changeset. */
  run(part: BatchPart, refs: ReadonlyMap<string, string> | undefined): ServiceResponse;
  /** Runs fn atomically (DataService.transaction). */
  transaction(fn: () => boolean): void;
}

export interface BatchOutcome {
  /** 200, or the status of the first failure when the batch stopped there. */
  readonly status: number;
  readonly items: readonly BatchResponseItem[];
  /** Service responses in order, for cost accounting. */
  readonly responses: readonly ServiceResponse[];
}

function failed(response: ServiceResponse): boolean {
  return response.status >= 400;
}

function referenceError(ref: string): ServiceResponse {
  // The docs show the answer as "HTTP 400 Bad Request / Content-ID Reference: '$1' does not exist in
  // the batch context." without a JSON wrapper; we wrap it in the usual error shape.
  return {
    status: 400,
    headers: { "content-type": "application/json; odata.metadata=minimal", "odata-version": "4.0" },
    body: JSON.stringify({ error: { code: "0x0", message: `Content-ID Reference: '${ref}' does not exist in the batch context.` } }),
  };
}

/** `$1`, `$1/lastname`: the reference at the start of a part's URL, if any. */
function urlReference(url: string): string | undefined {
  return /^\$([A-Za-z0-9_.-]+)/.exec(url)?.[0];
}

/**
 * `"$2"` values of a body's `…@odata.bind` and `@odata.id` properties, the only places Learn
 * (execute-batch-operations-using-web-api, "Reference URIs in an operation") puts a Content-ID
 * reference. Any other string that starts with "$" ("$100" in a name) is data.
 */
function bodyReferences(body: string): string[] {
  // Most parts hold no "$…" string at all: skip parsing a body the part's own run parses anyway.
  if (!body.includes('"$')) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return []; // not JSON: the part itself reports that when it runs
  }
  const found: string[] = [];
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return found;
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key === "@odata.id" || key.endsWith("@odata.bind"))) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === "string" && /^\$[A-Za-z0-9_.-]+$/.test(v)) found.push(v);
    }
  }
  return found;
}

function runChangeset(parts: readonly BatchPart[], runner: BatchRunner): PartResponse[] {
  const results: PartResponse[] = [];
  runner.transaction(() => {
    const refs = new Map<string, string>();
    for (const part of parts) {
      const missing = [urlReference(part.url), ...bodyReferences(part.body)].find(
        (ref) => ref !== undefined && ref !== "$batch" && !refs.has(ref),
      );
      const response = missing !== undefined ? referenceError(missing) : runner.run(part, refs);
      results.push({ response, ...(part.contentId === undefined ? {} : { contentId: part.contentId }) });
      if (failed(response)) return false;
      const uri = response.headers["odata-entityid"] ?? response.headers["location"];
      if (part.contentId !== undefined && uri !== undefined) refs.set(`$${part.contentId}`, uri);
    }
    return true;
  });
  return results;
}

export function executeBatch(items: readonly BatchItem[], runner: BatchRunner, continueOnError: boolean): BatchOutcome {
  const out: BatchResponseItem[] = [];
  const responses: ServiceResponse[] = [];
  for (const item of items) {
    if (item.kind === "request") {
      let response: ServiceResponse | undefined;
      const part = item.part;
      runner.transaction(() => {
        response = runner.run(part, undefined);
        return !failed(response);
      });
      const r = response ?? referenceError("$");
      responses.push(r);
      const partResponse: PartResponse = { response: r, ...(part.contentId === undefined ? {} : { contentId: part.contentId }) };
      if (failed(r) && !continueOnError) {
        out.push({ kind: "response", part: partResponse });
        return { status: r.status, items: out, responses };
      }
      out.push({ kind: "response", part: partResponse });
    } else {
      const results = runChangeset(item.parts, runner);
      for (const r of results) responses.push(r.response);
      const failure = results.find((r) => failed(r.response));
      if (failure !== undefined) {
        // A failed changeset is rolled back as a whole and answered with the failing part only,
        // as ExecuteTransaction reports the one fault.
        out.push({ kind: "response", part: failure });
        if (!continueOnError) return { status: failure.response.status, items: out, responses };
      } else {
        out.push({ kind: "changeset", parts: results });
      }
    }
  }
  return { status: 200, items: out, responses };
}
