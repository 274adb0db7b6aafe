// The $batch framing, as LEARN/webapi/execute-batch-operations-using-web-api describes it:
// multipart/mixed, application/http parts, changesets (nested multipart/mixed) that are atomic,
// Content-ID and $n references, stop at the first error unless `Prefer: odata.continue-on-error`.
// Line endings (web-api-client-errors, "Stream was not readable"): CRLF as documented, or LF, as
// long as the body ends with a line ending after the close delimiter (CRLF, or two LFs as that page
// advises); otherwise the last operation's content cannot be read and that operation fails with
// 400 0x80048d19. Parsing and formatting are pure; `executeBatch` drives a
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
  /** The body ended before this (last) operation's content could be read (see BatchParse.truncated). */
  readonly unreadable?: true;
}

export type BatchItem =
  | { readonly kind: "request"; readonly part: BatchPart }
  | { readonly kind: "changeset"; readonly parts: readonly BatchPart[] };

export interface BatchError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export type BatchParse =
  | {
      readonly ok: true;
      readonly items: readonly BatchItem[];
      /**
       * The body ends without the line ending the reader needs after the close delimiter, so the
       * last operation's content cannot be read (web-api-client-errors: "Stream was not readable").
       */
      readonly truncated: boolean;
    }
  | ({ readonly ok: false } & BatchError);

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

/** Position of `delimiter` at or after `from` where it starts a line and is not the prefix of a longer word; -1 if none. */
function findDelimiter(body: string, delimiter: string, from: number): number {
  for (let i = body.indexOf(delimiter, from); i >= 0; i = body.indexOf(delimiter, i + 1)) {
    if (i !== 0 && body[i - 1] !== "\n") continue;
    const next = body[i + delimiter.length];
    if (next === undefined || next === "-" || next === "\r" || next === "\n" || next === " " || next === "\t") return i;
  }
  return -1;
}

/** One line ending (CRLF or LF) removed from the end of `text`, if it has one. */
function dropLineEnding(text: string): string {
  return text.endsWith("\r\n") ? text.slice(0, -2) : text.endsWith("\n") ? text.slice(0, -1) : text;
}

/**
 * Splits a multipart body into the raw texts of its parts (between delimiters) and the text after
 * the close delimiter. Lines may end in CRLF or LF.
 */
function splitMultipart(body: string, boundary: string): { parts: string[]; epilogue: string } | undefined {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  // The body may start directly with the delimiter or with a preamble.
  let pos = findDelimiter(body, delimiter, 0);
  if (pos < 0) return undefined;
  for (;;) {
    const afterDelimiter = pos + delimiter.length;
    if (body.startsWith("--", afterDelimiter)) return { parts, epilogue: body.slice(afterDelimiter + 2) };
    // Transport padding (spaces/tabs) then a line ending.
    const lineEnd = body.indexOf("\n", afterDelimiter);
    if (lineEnd < 0) return undefined;
    if (body.slice(afterDelimiter, lineEnd).trim() !== "") return undefined;
    const start = lineEnd + 1;
    const next = findDelimiter(body, delimiter, start);
    if (next < 0) return undefined;
    // The line ending before the next delimiter belongs to the delimiter.
    parts.push(dropLineEnding(body.slice(start, next)));
    pos = next;
  }
}

/** Splits "headers, empty line, body"; header names lower-cased. */
function splitHeaders(text: string): { headers: Record<string, string>; body: string } | undefined {
  let headerText: string;
  let body: string;
  const leading = /^\r?\n/.exec(text);
  if (leading !== null) {
    headerText = "";
    body = text.slice(leading[0].length);
  } else {
    const end = /\r?\n\r?\n/.exec(text);
    if (end === null) {
      headerText = text;
      body = "";
    } else {
      headerText = text.slice(0, end.index);
      body = text.slice(end.index + end[0].length);
    }
  }
  const headers: Record<string, string> = {};
  if (headerText !== "") {
    for (const line of headerText.split(/\r?\n/)) {
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
  const lineEnd = /\r?\n/.exec(text);
  const requestLine = lineEnd === null ? text : text.slice(0, lineEnd.index);
  const match = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine.trim());
  if (match === null) return { error: "The request line of a batch part is not valid." };
  const rest = lineEnd === null ? "" : text.slice(lineEnd.index + lineEnd[0].length);
  const split = splitHeaders(rest === "" ? "\r\n" : rest);
  if (split === undefined) return { error: "The headers of a batch part are not valid." };
  // A body ends where the next delimiter's line ending begins; one trailing line ending belongs to
  // the framing in some writers' output, which JSON bodies tolerate either way.
  const body = dropLineEnding(split.body);
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
  const split = splitMultipart(body, boundary);
  if (split === undefined) return notReadable();

  const items: BatchItem[] = [];
  let operations = 0;
  for (const raw of split.parts) {
    const mime = splitHeaders(raw);
    if (mime === undefined) return notReadable();
    const type = mime.headers["content-type"];
    if (isMultipartMixed(type)) {
      const changesetBoundary = boundaryOf(type ?? "");
      if (changesetBoundary === undefined) return badBatch("A changeset must have a boundary specification.");
      const inner = splitMultipart(mime.body, changesetBoundary);
      if (inner === undefined) return notReadable();
      const parts: BatchPart[] = [];
      for (const innerRaw of inner.parts) {
        const innerMime = splitHeaders(innerRaw);
        if (innerMime === undefined) return notReadable();
        if (isMultipartMixed(innerMime.headers["content-type"])) {
          return badBatch("Changesets cannot be nested.");
        }
        const part = parseHttpPart(innerMime.body, innerMime.headers["content-id"]);
        if ("error" in part) return badBatch(part.error);
        if (part.contentId === undefined || part.contentId === "") {
          // OData 4.0/4.01 (Multipart Batch Request Body): each operation of a change set MUST
          // carry a Content-ID. Learn is silent; a Dataverse client's changelog reports this
          // refusal as 0x80060888 "Content-ID header not present".
          return { ok: false, status: 400, code: "0x80060888", message: "Content-ID header not present for a request in a change set." };
        }
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
  // After the close delimiter the reader needs a line ending (CRLF, or two LFs) to finish the last
  // operation's content; web-api-client-errors shows the failure and that remedy.
  const truncated = !/^(\r\n|\n\r?\n)/.test(split.epilogue);
  // What fails is reading the last operation's content ("deserialization error", Learn says; the
  // reports are of a POST last), so an operation without a body, such as a GET, still runs.
  const last = items[items.length - 1];
  const lastPart = last === undefined ? undefined : last.kind === "request" ? last.part : last.parts[last.parts.length - 1];
  if (truncated && last !== undefined && lastPart !== undefined && lastPart.body.trim() !== "") {
    items[items.length - 1] =
      last.kind === "request"
        ? { kind: "request", part: { ...last.part, unreadable: true } }
        : { kind: "changeset", parts: last.parts.map((p, i) => (i === last.parts.length - 1 ? { ...p, unreadable: true as const } : p)) };
  }
  return { ok: true, items, truncated };
}

/** The last operation's content when the body ends too early, as web-api-client-errors shows it. */
export function streamNotReadable(part: BatchPart): ServiceResponse {
  const path = part.url.replace(/^[a-z]+:\/\/[^/]+/i, "").replace(/^\/?api\/data\/v9\.[0-9]\//, "");
  const entity = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path)?.[0] ?? "";
  return {
    status: 400,
    headers: { "content-type": "application/json; odata.metadata=minimal", "odata-version": "4.0" },
    body: JSON.stringify({
      error: {
        code: PAYLOAD_ERROR,
        message: `Error identified in Payload provided by the user for Entity :'${entity}', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : System.ArgumentException: Stream was not readable.`,
      },
    }),
  };
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
      const response =
        part.unreadable === true
          ? streamNotReadable(part)
          : missing !== undefined
            ? referenceError(missing)
            : runner.run(part, refs);
      results.push({ response, ...(part.contentId === undefined ? {} : { contentId: part.contentId }) });
      if (failed(response)) return false;
      const uri = response.headers["odata-entityid"] ?? response.headers["location"];
      if (part.contentId !== undefined && uri !== undefined) refs.set(`$${part.contentId}`, uri);
    }
    return true;
  });
  return results;
}

/**
 * Runs the items in order. An operation marked `unreadable` (a truncated body, see BatchParse) fails
 * without running, after the operations before it ran as the reader reached them.
 */
export function executeBatch(items: readonly BatchItem[], runner: BatchRunner, continueOnError: boolean): BatchOutcome {
  const out: BatchResponseItem[] = [];
  const responses: ServiceResponse[] = [];
  for (const item of items) {
    if (item.kind === "request") {
      let response: ServiceResponse | undefined;
      const part = item.part;
      if (part.unreadable === true) {
        response = streamNotReadable(part);
      } else {
        runner.transaction(() => {
          response = runner.run(part, undefined);
          return !failed(response);
        });
      }
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
