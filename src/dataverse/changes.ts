// Write only what changed: before a batch of upserts and updates is sent, its rows'
// current values are read by key, one read per request's worth of rows, and each operation is
// narrowed to what the write would change:
//
// - a row that does not exist: an upsert becomes a create (CreateMultiple costs Dataverse about half
//   what UpsertMultiple does per record); an update is left alone (it is refused as before);
// - a row that differs: an update by the row's GUID carrying only the changed columns and lookups;
// - a row already as sent: not written at all, answered as unchanged (no plug-in, no flow, no audit
//   entry, `modifiedon` stays).
//
// Values are compared as Dataverse returns them (mapping/diff.ts). A read that fails, a chunk of
// keys no filter can carry, or an answer that does not account for every key leaves its operations
// as they were: the write then does what it did without this step.
//
// The read itself (one per request's worth of rows, by key) is row-reads.ts's.
import { tableKeyIdentity } from "../model/key-identity.js";
import { lookupValueName } from "../model/lookup.js";
import type { Operation } from "../model/operation.js";
import type { TableLookup } from "../model/table-meta.js";
import type { WriteOutcome } from "../model/writer.js";
import { diffRow, type RowDiff } from "../model/row-diff.js";
import { entityPath } from "./keys.js";
import { NewRowGuess } from "./new-rows.js";
import { groupKey, readChunk, shapeOf, type ReadGroup } from "./row-reads.js";
import type { UserPool } from "./user-pool.js";
import type { Item } from "./write-item.js";
import type { WriteCounters } from "./write-stats.js";

interface Group extends ReadGroup {
  readonly items: Item[];
}

/** What an item was before the change filter narrowed it (to undo on a duplicate-key race). */
export interface Narrowed {
  readonly original: Operation;
  readonly as: "create" | "update";
}

/**
 * The operation as compared: a lookup bound by alternate key whose expanded target has that key is
 * bound by the row's GUID instead, so diffRow sees it unchanged.
 */
function comparable(op: Operation, row: Readonly<Record<string, unknown>>, tables: TableLookup): Operation {
  if (!op.bindings.some((b) => b.target !== null && b.target.ref.kind === "key")) return op;
  const bindings = op.bindings.map((b) => {
    if (b.target === null || b.target.ref.kind !== "key" || b.column === undefined) return b;
    const expanded = row[b.navigationProperty];
    const id = row[lookupValueName(b.column)];
    const target = tables(b.target.table);
    if (typeof expanded !== "object" || expanded === null || typeof id !== "string" || target === undefined) return b;
    const want = tableKeyIdentity(b.target.ref.values, target);
    const have = tableKeyIdentity(
      b.target.ref.values.map(([c]) => [c, (expanded as Record<string, unknown>)[c]] as const),
      target,
    );
    return want !== undefined && want === have ? { ...b, target: { ...b.target, ref: { kind: "id" as const, id } } } : b;
  });
  return { ...op, bindings };
}

export class ChangeFilter {
  readonly #tables: TableLookup;
  readonly #pool: UserPool;
  readonly #counts: WriteCounters;
  readonly #guess = new NewRowGuess();

  constructor(tables: TableLookup, pool: UserPool, counts: WriteCounters) {
    this.#tables = tables;
    this.#pool = pool;
    this.#counts = counts;
  }

  /**
   * Narrows the upserts and updates among `items` to what would change, settling the unchanged
   * ones in `results`; returns what each narrowed item was, by item. Where reads have kept finding
   * no row (new-rows.ts), upserts go as creates marked `unread` instead, unless `guess` is false.
   */
  async apply(items: readonly Item[], results: (WriteOutcome | undefined)[], rowsPerRead: number, guess = true): Promise<Map<Item, Narrowed>> {
    const narrowed = new Map<Item, Narrowed>();
    const groups = new Map<string, Group>();
    // Whether a group's upserts go unread, decided once per group for the whole call.
    const unread = new Map<string, boolean>();
    for (const item of items) {
      if (results[item.index] !== undefined) continue;
      const { op } = item;
      if (op.kind !== "upsert" && op.kind !== "update") continue;
      const meta = this.#tables(op.table);
      const shape = shapeOf(op);
      if (meta === undefined || shape === undefined) continue;
      const key = groupKey(op.entitySet, shape);
      let skip = unread.get(key);
      if (skip === undefined) {
        skip = guess && this.#guess.unread(key);
        unread.set(key, skip);
      }
      if (skip && op.kind === "upsert") {
        item.op = { ...op, kind: "create" };
        item.unread = true;
        narrowed.set(item, { original: op, as: "create" });
        this.#counts.unreadCreate();
        continue;
      }
      let g = groups.get(key);
      if (g === undefined) {
        g = { key, entitySet: op.entitySet, meta, shape, items: [] };
        groups.set(key, g);
      }
      g.items.push(item);
    }
    const reads: Promise<void>[] = [];
    for (const g of groups.values()) {
      for (let start = 0; start < g.items.length; start += rowsPerRead) {
        reads.push(this.#narrow(g, g.items.slice(start, start + rowsPerRead), results, narrowed));
      }
    }
    await Promise.all(reads);
    return narrowed;
  }

  /** Unread creates met rows that were there: their tables need more evidence before the next guess. */
  missed(items: readonly Item[]): void {
    const groups = new Set<string>();
    for (const { op } of items) {
      this.#counts.unreadMiss();
      const shape = shapeOf(op);
      if (shape !== undefined) groups.add(groupKey(op.entitySet, shape));
    }
    for (const g of groups) this.#guess.missed(g);
  }

  async #narrow(g: Group, items: readonly Item[], results: (WriteOutcome | undefined)[], narrowed: Map<Item, Narrowed>): Promise<void> {
    this.#counts.changeRead();
    // A write's operations come from one batch, which never holds two spellings of one row.
    const found = await this.#pool.read((client) => readChunk(client, g, items.map((i) => i.op), true));
    let present = 0;
    let proven = true;
    for (const row of found) {
      if (row === null) proven = false;
      else if (row !== undefined) present++;
    }
    if (proven) this.#guess.read(g.key, found.length, present);
    items.forEach((item, k) => {
      const row = found[k];
      if (row === null) return;
      const original = item.op;
      const diff = row === undefined ? diffRow(original, undefined, g.meta) : diffRow(comparable(original, row, this.#tables), row, g.meta);
      if (diff.action === "unchanged") {
        results[item.index] = { ok: true, unchanged: true };
        this.#counts.unchangedSkipped();
      } else if (diff.action === "create") {
        item.op = { ...original, kind: "create" };
        narrowed.set(item, { original, as: "create" });
      } else if (diff.action === "update" && row !== undefined) {
        const id = row[g.meta.primaryIdAttribute];
        if (typeof id !== "string") return;
        const changed = new Set(diff.changedColumns);
        const columns = Object.fromEntries(Object.entries(original.columns).filter(([c]) => changed.has(c)));
        const bindings = original.bindings.filter((b) => changed.has(b.column ?? b.navigationProperty));
        item.op = { ...original, kind: "update", ref: { kind: "id", id }, columns, bindings };
        item.path = entityPath(original.entitySet, item.op.ref);
        narrowed.set(item, { original, as: "update" });
      }
    });
  }
}

/** What writing `op` would change in `row` (undefined: no such row), lookups by key compared through their expanded key. */
export function diffAgainst(op: Operation, row: Readonly<Record<string, unknown>> | undefined, tables: TableLookup): RowDiff {
  const meta = tables(op.table);
  return row === undefined ? diffRow(op, undefined, meta) : diffRow(comparable(op, row, tables), row, meta);
}
