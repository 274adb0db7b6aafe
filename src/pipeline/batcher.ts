// A stream's pending operations, capped by rows and by bytes as they are added.
import type { Operation } from "../mapping/operation.js";
import type { JsonObject } from "../protocol/airbyte.js";
import type { Ticket } from "./ledger.js";

export interface PendingOp {
  readonly operation: Operation;
  readonly ticket: Ticket;
  readonly line: number;
  /** Kept only when dead letters carry records; bounded by the batch caps. */
  readonly record?: JsonObject;
  readonly bytes: number;
  readonly attempt: number;
}

/** Rough size of an operation on the wire: its JSON body plus URL and part headers. */
export function estimateBytes(op: Operation): number {
  return JSON.stringify(op.columns).length + op.bindings.length * 96 + 256;
}

export class Batcher {
  readonly #maxRows: number;
  readonly #maxBytes: number;
  #items: PendingOp[] = [];
  #bytes = 0;

  constructor(maxRows: number, maxBytes: number) {
    this.#maxRows = Math.max(1, maxRows);
    this.#maxBytes = Math.max(1, maxBytes);
  }

  get size(): number {
    return this.#items.length;
  }

  /** Whether adding this item must first send what is pending. */
  wouldOverflow(item: PendingOp): boolean {
    return this.#items.length > 0 && (this.#items.length + 1 > this.#maxRows || this.#bytes + item.bytes > this.#maxBytes);
  }

  add(item: PendingOp): void {
    this.#items.push(item);
    this.#bytes += item.bytes;
  }

  get full(): boolean {
    return this.#items.length >= this.#maxRows || this.#bytes >= this.#maxBytes;
  }

  take(): PendingOp[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
