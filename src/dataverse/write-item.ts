// One operation on its way through the writer, and what the parts of the writer share.
import type { Clock } from "../http/clock.js";
import type { BackoffOptions, RetryBudget } from "../http/retry.js";
import type { ColumnValue, Operation } from "../model/operation.js";
import type { WriteOutcome } from "../model/writer.js";
import { bindUrl, entityPath, isUrlAddressable, KeyLiteralError } from "./keys.js";
import type { UserPool } from "./user-pool.js";
import type { WriteCounters } from "./write-stats.js";

export interface Item {
  /** Its place in the write call's operations, and so in its outcomes. */
  readonly index: number;
  op: Operation;
  /** Key values to put in the body when the row had to be created without a URL key. */
  extraColumns?: Readonly<Record<string, ColumnValue>>;
  readonly budget: RetryBudget;
  /** Sends of this operation as a $batch part that came back unanswered or transient. */
  attempts: number;
  /** The row's entity path (`contacts(emailaddress1='…')`), computed once when validated. */
  path?: string;
  /** Its bulk target as JSON, serialised once when chunking: the size check and every send reuse it. */
  target?: string | undefined;
}

/** What lives as long as the writer. */
export interface WriteContext {
  readonly pool: UserPool;
  readonly counts: WriteCounters;
  readonly clock: Clock;
  readonly backoff: BackoffOptions | undefined;
  /** Failed bulk requests of at most this many operations go to $batch instead of being halved. */
  readonly isolateBelow: number;
}

/** What lives as long as one write call. */
export interface WriteCall {
  /** One outcome per operation, by index; undefined until settled. */
  readonly results: (WriteOutcome | undefined)[];
  /** On every request of the call and on each of its $batch parts. */
  readonly headers: Readonly<Record<string, string>>;
}

export function reject(status: number, code: string, message: string): WriteOutcome {
  return { ok: false, status, code, message };
}

/** A rejection for an operation no request can carry; otherwise keeps its entity path on the item. */
export function validate(item: Item): WriteOutcome | undefined {
  const { op } = item;
  try {
    if (op.ref.kind !== "none") item.path = entityPath(op.entitySet, op.ref);
    for (const b of op.bindings) if (b.target !== null) bindUrl(b.target.entitySet, b.target.ref);
  } catch (err) {
    if (err instanceof KeyLiteralError) return reject(0, err.code, err.message);
    throw err;
  }
  if (op.ref.kind === "none" && (op.kind === "update" || op.kind === "delete" || op.kind === "deactivate")) {
    return reject(0, "NO_KEY", `${op.kind} needs the row's id or key`);
  }
  return undefined;
}

/** True when the row or a lookup target is addressed by a key no URL can carry. */
export function needsResolution(op: Operation): boolean {
  return !isUrlAddressable(op.ref) || op.bindings.some((b) => b.target !== null && !isUrlAddressable(b.target.ref));
}
