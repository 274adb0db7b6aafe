// The outcome of one operation from the answer to its $batch part: done (written, already so, or
// refused), worth another attempt, or a failure of the whole run.
import type { Operation } from "../model/operation.js";
import type { WriteOutcome } from "../model/writer.js";
import type { Answer } from "./answer.js";
import type { DataverseError } from "./errors.js";
import { reject } from "./write-item.js";

export type Verdict =
  | { readonly kind: "done"; readonly result: WriteOutcome }
  | { readonly kind: "retry"; readonly retryAfterMs?: number }
  | { readonly kind: "fatal"; readonly error: DataverseError };

/** 404 codes that mean "no such row": none, by id (0x80040217), by alternate key (0x80060891). */
const ROW_MISSING_CODES: ReadonlySet<string> = new Set(["", "0x80040217", "0x80060891"]);
/** 412 codes on a create-only write that mean "that row exists": none (Learn's example), duplicate key. */
const ROW_EXISTS_CODES: ReadonlySet<string> = new Set(["", "0x80040237"]);

export function verdict(op: Operation, method: string, url: string, answer: Answer): Verdict {
  const s = answer.status;
  if (answer.ok) return { kind: "done", result: s === 201 || op.kind === "create" ? { ok: true, created: true } : { ok: true } };
  const { code, message } = answer.error;
  // The row is gone already, by id or by key; any other 404 (an unknown entity set, say) is not.
  if (s === 404 && (op.kind === "delete" || op.kind === "deactivate") && ROW_MISSING_CODES.has(code)) return { kind: "done", result: { ok: true, unchanged: true } };
  // A replayed create-with-id meets the row it created before: already done, not a rejection.
  // Learn shows If-None-Match's 412 with an empty code; a duplicate-key code means the same row.
  if (s === 412 && op.kind === "create" && op.ref.kind !== "none" && ROW_EXISTS_CODES.has(code)) return { kind: "done", result: { ok: true, created: false, unchanged: true } };
  const retry = answer.retry;
  if (retry.retryable) return retry.retryAfterMs === undefined ? { kind: "retry" } : { kind: "retry", retryAfterMs: retry.retryAfterMs };
  if (answer.runLevel) return { kind: "fatal", error: answer.toError(method, url, false) };
  if (s === 404 && op.kind === "update") return { kind: "done", result: reject(404, code, message || "row does not exist") };
  return { kind: "done", result: reject(s, code, message) };
}
