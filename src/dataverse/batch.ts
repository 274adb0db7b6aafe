// OData 4.0 multipart $batch: build request bodies and read `batchresponse` bodies back.
// Dataverse requires CRLF line endings (LF alone: 400 0x80048d19 "Stream was not readable").
import { randomUUID } from "node:crypto";

const CRLF = "\r\n";

export interface BatchRequestPart {
  readonly method: string;
  /** Absolute path including the service root, e.g. "/api/data/v9.2/contacts(…)". Already encoded. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON text; sent with `Content-Type: application/json; type=entry`. */
  readonly body?: string;
}

export interface BuiltBatch {
  readonly contentType: string;
  readonly body: string;
  readonly boundary: string;
}

export interface BuildOptions {
  /** Wrap all parts in one changeset (atomic, Content-ID per part). Default: no changeset. */
  readonly changeset?: boolean;
  readonly boundary?: string;
}

function partText(part: BatchRequestPart, contentId: number | undefined): string {
  const lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (contentId !== undefined) lines.push(`Content-ID: ${contentId}`);
  lines.push("", `${part.method} ${part.url} HTTP/1.1`);
  const headers: Record<string, string> = { ...(part.headers ?? {}) };
  if (part.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
    headers["Content-Type"] = "application/json; type=entry";
  }
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push("", part.body ?? "");
  return lines.join(CRLF);
}

export function buildBatch(parts: readonly BatchRequestPart[], options: BuildOptions = {}): BuiltBatch {
  const boundary = options.boundary ?? `batch_${randomUUID()}`;
  let body = "";
  if (options.changeset === true) {
    const cs = `changeset_${randomUUID()}`;
    body += `--${boundary}${CRLF}Content-Type: multipart/mixed; boundary="${cs}"${CRLF}${CRLF}`;
    parts.forEach((p, i) => {
      body += `--${cs}${CRLF}${partText(p, i + 1)}${CRLF}`;
    });
    body += `--${cs}--${CRLF}`;
  } else {
    for (const p of parts) body += `--${boundary}${CRLF}${partText(p, undefined)}${CRLF}`;
  }
  body += `--${boundary}--${CRLF}`;
  return { contentType: `multipart/mixed; boundary="${boundary}"`, body, boundary };
}

export interface BatchPartResponse {
  readonly status: number;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Content-ID echoed by the server (changesets). */
  readonly contentId?: string;
}

export class BatchParseError extends Error {
  override readonly name = "BatchParseError";
  readonly code = "BATCH_RESPONSE_MALFORMED";
}

export function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

function splitHead(text: string): { head: string; rest: string } {
  const crlf = text.indexOf("\r\n\r\n");
  const lf = text.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { head: text.slice(0, crlf), rest: text.slice(crlf + 4) };
  if (lf >= 0) return { head: text.slice(0, lf), rest: text.slice(lf + 2) };
  return { head: text, rest: "" };
}

function parseHeaderLines(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function parseMultipart(body: string, boundary: string): BatchPartResponse[] {
  const delimiter = `--${boundary}`;
  const out: BatchPartResponse[] = [];
  const segments = body.split(delimiter);
  // segments[0] is the preamble; a segment starting with "--" follows the close delimiter.
  for (const raw of segments.slice(1)) {
    if (raw.startsWith("--")) break;
    const segment = raw.replace(/^\r?\n/, "").replace(/\r?\n$/, "");
    if (segment.trim() === "") continue;
    const { head, rest } = splitHead(segment);
    const partHeaders = parseHeaderLines(head);
    const type = partHeaders["content-type"] ?? "";
    if (/^multipart\/mixed/i.test(type)) {
      const inner = boundaryOf(type);
      if (inner === undefined) throw new BatchParseError("changeset response without a boundary");
      out.push(...parseMultipart(rest, inner));
      continue;
    }
    const { head: httpHead, rest: httpBody } = splitHead(rest);
    const [statusLine = "", ...headerLines] = httpHead.split(/\r?\n/);
    const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(statusLine.trim());
    if (m === null) throw new BatchParseError("batch response part without an HTTP status line");
    const contentId = partHeaders["content-id"];
    out.push({
      status: Number(m[1]),
      headers: parseHeaderLines(headerLines.join("\r\n")),
      body: httpBody,
      ...(contentId === undefined ? {} : { contentId }),
    });
  }
  return out;
}

/** Every response part, flattened out of changesets, in the order the server wrote them. */
export function parseBatchResponse(contentType: string, body: string): BatchPartResponse[] {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) throw new BatchParseError("batch response without a multipart boundary");
  return parseMultipart(body, boundary);
}

/**
 * Lines the responses up with the `count` request parts. Without changesets the server answers in
 * request order and stops at the first failure unless continue-on-error was honoured; parts after
 * the last answer were not attempted (undefined). Changeset answers are matched by Content-ID.
 */
export function matchResponses(count: number, responses: readonly BatchPartResponse[]): (BatchPartResponse | undefined)[] {
  const out: (BatchPartResponse | undefined)[] = new Array<BatchPartResponse | undefined>(count).fill(undefined);
  const byId = responses.every((r) => r.contentId !== undefined);
  if (byId && responses.length > 0) {
    // A failed changeset answers with one part (the failure) that may carry its Content-ID.
    for (const r of responses) {
      const i = Number(r.contentId) - 1;
      if (Number.isInteger(i) && i >= 0 && i < count) out[i] = r;
    }
    return out;
  }
  for (let i = 0; i < Math.min(count, responses.length); i++) out[i] = responses[i];
  return out;
}
