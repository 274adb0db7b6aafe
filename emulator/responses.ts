// The answers of the Web API side, by kind: JSON, no content, plain text, and the error answer of a
// DataverseError. Every answer carries OData-Version: 4.0.
import type { ServiceResponse } from "./types.js";
import { type DataverseError, errorBody } from "./errors.js";
import { HELP_LINK, INNER_ERROR_MESSAGE, annotationFilter } from "./annotations.js";
import { stringifyWithInt64 } from "./int64.js";

export const JSON_CONTENT_TYPE = "application/json; odata.metadata=minimal";

const JSON_HEADERS = {
  "content-type": JSON_CONTENT_TYPE,
  "odata-version": "4.0",
} as const;

export function json(status: number, body: unknown, extra: Record<string, string> = {}): ServiceResponse {
  return { status, headers: { ...JSON_HEADERS, ...extra }, body: stringifyWithInt64(body) };
}

/** 204: a write without data returned, or a null value read. */
export function noContent(extra: Record<string, string> = {}): ServiceResponse {
  return { status: 204, headers: { "odata-version": "4.0", ...extra } };
}

/** A bare value as `text/plain` (`$count`, `$value`). */
export function plainText(body: string): ServiceResponse {
  return { status: 200, headers: { "content-type": "text/plain", "odata-version": "4.0" }, body };
}

/**
 * compose-http-requests-handle-errors, "Include additional details with errors": with
 * `Prefer: odata.include-annotations` asking for them, the error carries a help link and the inner
 * error's message. Learn's example is a plug-in error, which also carries OperationStatus,
 * SubErrorCode and TraceText; the emulator runs no plug-ins, so it adds the two that apply to any
 * platform error. The help link has Learn's shape, with the code's hex digits.
 */
export function errorResponse(e: DataverseError, includeAnnotations?: string, extra: Record<string, string> = {}): ServiceResponse {
  const wants = annotationFilter(includeAnnotations);
  if (wants === undefined || (!wants(HELP_LINK) && !wants(INNER_ERROR_MESSAGE))) {
    return { status: e.status, headers: { ...JSON_HEADERS, ...extra }, body: errorBody(e) };
  }
  const error: Record<string, string> = { code: e.code, message: e.message };
  if (wants(HELP_LINK)) {
    const hex = e.code.replace(/^0x/i, "");
    error[`@${HELP_LINK}`] = `http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a${hex}&client=platform`;
  }
  if (wants(INNER_ERROR_MESSAGE)) error[`@${INNER_ERROR_MESSAGE}`] = e.message;
  return { status: e.status, headers: { ...JSON_HEADERS, ...extra }, body: JSON.stringify({ error }) };
}
