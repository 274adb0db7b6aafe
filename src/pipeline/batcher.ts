// A stream's pending operations, capped by rows and by bytes as they are added.
import { tableKeyIdentity } from "../model/key-identity.js";
import type { Operation } from "../model/operation.js";
import type { TableMeta } from "../model/table-meta.js";
import type { JsonObject } from "../protocol/airbyte.js";
import type { Ticket } from "./ledger.js";

export interface PendingOp {
  readonly operation: Operation;
  /** The row this operation addresses (see rowIdentity); undefined for plain creates. */
  readonly rowKey?: string | undefined;
  readonly ticket: Ticket;
  readonly line: number;
  /** Kept only when dead letters carry records; bounded by the batch caps. */
  readonly record?: JsonObject | undefined;
  readonly bytes: number;
  readonly attempt: number;
}

/**
 * Which row an operation addresses, so that two writes of the same row are never in one request
 * or in flight at once (their order would be lost). Alternate keys are one row when Dataverse
 * would match them as one (model/key-identity.ts: the environment's collation, from `table`).
 */
export function rowIdentity(op: Operation, table?: TableMeta): string | undefined {
  const ref = op.ref;
  if (ref.kind === "id") return [op.table, "|id|", ref.id.toLowerCase()].join("");
  if (ref.kind !== "key") return undefined;
  const identity = tableKeyIdentity(ref.values, table);
  // A value that can be no key is refused later; until then it is its own row. Joined rather than
  // concatenated: `+` and template literals make a tree of string pieces (32 bytes a node, six or
  // so per key), and this text lives as long as its row is pending or in flight; join writes it flat.
  return [op.table, identity === undefined ? "|raw|" : "|key|", identity ?? JSON.stringify(ref.values)].join("");
}

/**
 * Rough size of an operation on the wire: its JSON body plus URL and part headers. Summed from
 * the values rather than by serialising them, which per record cost CPU and garbage; the writer
 * caps each request by its real bytes, so this only has to be close.
 */
export function estimateBytes(op: Operation): number {
  let n = 256 + op.bindings.length * 96;
  const columns = op.columns;
  for (const name in columns) {
    const value = columns[name];
    n += name.length + 4;
    n += typeof value === "string" ? value.length + 2 : typeof value === "number" || typeof value === "bigint" ? 24 : 5;
  }
  return n;
}

export class Batcher {
  readonly #maxRows: number;
  readonly #maxBytes: number;
  #items: PendingOp[] = [];
  #bytes = 0;
  #keys = new Set<string>();

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
    if (item.rowKey !== undefined) this.#keys.add(item.rowKey);
  }

  has(rowKey: string): boolean {
    return this.#keys.has(rowKey);
  }

  get full(): boolean {
    return this.#items.length >= this.#maxRows || this.#bytes >= this.#maxBytes;
  }

  take(): PendingOp[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    this.#keys = new Set();
    return items;
  }
}
