// One operation on its way through the writer, and what the parts of the writer share.
import type { Clock } from "../http/clock.js";
import type { BackoffOptions, RetryBudget } from "../http/retry.js";
import type { ColumnValue, Operation } from "../model/operation.js";
import type { WriteOutcome } from "../model/writer.js";
import { checkRef, entityPath, isUrlAddressable, KeyLiteralError } from "./keys.js";
import type { UserPool } from "./user-pool.js";
import type { WriteCounters } from "./write-stats.js";

/**
 * Every field is set when the item is made (newItem), so items share one shape and keep their
 * fields in the object: a field added later moves them to a separate store, per row in flight.
 */
export interface Item {
  /** Its place in the write call's operations, and so in its outcomes. */
  readonly index: number;
  op: Operation;
  /** Key values to put in the body when the row had to be created without a URL key. */
  extraColumns: Readonly<Record<string, ColumnValue>> | undefined;
  readonly budget: RetryBudget;
  /** Sends of this operation as a $batch part that came back unanswered or transient. */
  attempts: number;
  /** The row's entity path (`contacts(emailaddress1='…')`) when set for its current op; else built on use (assemble.ts). */
  path: string | undefined;
  /**
   * The upsert this create was narrowed from (changes.ts: its row was not there when read). A create
   * refused because the row appeared meanwhile goes back to being this upsert.
   */
  fallback: Operation | undefined;
  /** Its bulk target as JSON, serialised once when chunking: the size check and every send reuse it. */
  target: string | undefined;
  /**
   * A create narrowed from an upsert without reading its row (new-rows.ts): refused because the row
   * was there, it is read and narrowed again rather than sent as the upsert.
   */
  unread: boolean;
}

export function newItem(index: number, op: Operation, budget: RetryBudget): Item {
  return { index, op, extraColumns: undefined, budget, attempts: 0, path: undefined, fallback: undefined, target: undefined, unread: false };
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

/** A rejection for an operation no request can carry, else undefined. */
export function validate(item: Item): WriteOutcome | undefined {
  const { op } = item;
  try {
    // The path itself is built when a request needs it (assemble.ts).
    if (op.ref.kind !== "none") checkRef(op.ref);
    for (const b of op.bindings) if (b.target !== null) checkRef(b.target.ref);
  } catch (err) {
    if (err instanceof KeyLiteralError) return reject(0, err.code, err.message);
    throw err;
  }
  if (op.ref.kind === "none" && (op.kind === "update" || op.kind === "delete" || op.kind === "deactivate")) {
    return reject(0, "NO_KEY", `${op.kind} needs the row's id or key`);
  }
  return undefined;
}

/** Dataverse's answers to a create whose row (by id or by alternate key) exists already. */
const DUPLICATE_CODES: ReadonlySet<string> = new Set(["", "0x80040237", "0x80060892"]);

export function isDuplicateRefusal(status: number, code: string): boolean {
  return status === 412 && DUPLICATE_CODES.has(code);
}

/** Puts a narrowed create back to the upsert it was (its row appeared between the read and the create). */
export function restoreFallback(item: Item): boolean {
  if (item.fallback === undefined) return false;
  item.op = item.fallback;
  item.fallback = undefined;
  item.unread = false;
  item.target = undefined;
  item.path = item.op.ref.kind === "none" ? undefined : entityPath(item.op.entitySet, item.op.ref);
  return true;
}

/** True when the row or a lookup target is addressed by a key no URL can carry. */
export function needsResolution(op: Operation): boolean {
  return !isUrlAddressable(op.ref) || op.bindings.some((b) => b.target !== null && !isUrlAddressable(b.target.ref));
}
