// Rows in memory: a Map by id per table, a Map per alternate key from value tuple to id, and an
// undo log for transactions (rows are replaced, never mutated, so undo restores the old object).
import type { Collation } from "./collation.js";
import type { TableModel } from "./model.js";

export interface LookupValue {
  readonly id: string;
  readonly table: string;
}

export type Value = string | number | bigint | boolean | LookupValue | null;

export interface Row {
  readonly id: string;
  readonly version: number;
  readonly values: Readonly<Record<string, Value>>;
}

export function isLookup(v: Value | undefined): v is LookupValue {
  return typeof v === "object" && v !== null;
}

interface UndoEntry {
  readonly table: TableStore;
  readonly id: string;
  readonly before: Row | undefined;
}

export class TableStore {
  readonly rows = new Map<string, Row>();
  /** key logical name → tuple → row id */
  readonly keyIndexes = new Map<string, Map<string, string>>();

  constructor(
    readonly model: TableModel,
    private readonly collation: Collation,
  ) {
    for (const k of model.keys) this.keyIndexes.set(k.logicalName, new Map());
  }

  /** Which key (if any) another row already holds with the values of `values`. */
  findKeyConflict(values: Readonly<Record<string, Value>>, selfId: string): string | undefined {
    for (const k of this.model.keys) {
      const tuple = keyTuple(k.attributes, values, this.collation);
      if (tuple === undefined) continue;
      const holder = this.keyIndexes.get(k.logicalName)?.get(tuple);
      if (holder !== undefined && holder !== selfId) return k.logicalName;
    }
    return undefined;
  }

  lookupByKey(keyName: string, values: Readonly<Record<string, Value>>, attributes: readonly string[]): string | undefined {
    const tuple = keyTuple(attributes, values, this.collation);
    return tuple === undefined ? undefined : this.keyIndexes.get(keyName)?.get(tuple);
  }

  setRaw(id: string, row: Row | undefined): void {
    const before = this.rows.get(id);
    if (before) this.unindex(before);
    if (row) {
      this.rows.set(id, row);
      this.index(row);
    } else {
      this.rows.delete(id);
    }
  }

  private index(row: Row): void {
    for (const k of this.model.keys) {
      const tuple = keyTuple(k.attributes, row.values, this.collation);
      if (tuple !== undefined) this.keyIndexes.get(k.logicalName)?.set(tuple, row.id);
    }
  }

  private unindex(row: Row): void {
    for (const k of this.model.keys) {
      const tuple = keyTuple(k.attributes, row.values, this.collation);
      if (tuple === undefined) continue;
      const index = this.keyIndexes.get(k.logicalName);
      if (index?.get(tuple) === row.id) index.delete(tuple);
    }
  }
}

// Dataverse stores keys in SQL Server under the environment's collation (collation.ts), so 'ABC',
// 'abc' and 'abc ' collide and address the same row, and so do 'café' and 'cafe' unless the base
// language is accent-sensitive. A row with a null key column is not in the index, as Dataverse's
// unique index ignores such rows.
function keyTuple(attributes: readonly string[], values: Readonly<Record<string, Value>>, collation: Collation): string | undefined {
  let out = "";
  for (const a of attributes) {
    const v = values[a];
    if (v === undefined || v === null) return undefined;
    const part = typeof v === "string" ? collation.key(v) : isLookup(v) ? v.id : String(v);
    out += part.length + ":" + part + "|";
  }
  return out;
}

export class Store {
  private readonly tables = new Map<string, TableStore>();
  private undo: UndoEntry[] | undefined;
  private version = 1_000_000;

  constructor(models: Iterable<TableModel>, collation: Collation) {
    for (const m of models) this.tables.set(m.logicalName, new TableStore(m, collation));
  }

  table(logicalName: string): TableStore | undefined {
    return this.tables.get(logicalName);
  }

  nextVersion(): number {
    return ++this.version;
  }

  put(table: TableStore, row: Row): void {
    this.undo?.push({ table, id: row.id, before: table.rows.get(row.id) });
    table.setRaw(row.id, row);
  }

  remove(table: TableStore, id: string): void {
    this.undo?.push({ table, id, before: table.rows.get(id) });
    table.setRaw(id, undefined);
  }

  /** Runs fn; rolls back every put/remove made inside when it returns false or throws. */
  atomically<T>(fn: () => T, committed: (result: T) => boolean): T {
    const outer = this.undo;
    const log: UndoEntry[] = [];
    this.undo = log;
    let ok = false;
    try {
      const result = fn();
      ok = committed(result);
      return result;
    } finally {
      this.undo = outer;
      if (!ok) {
        for (let i = log.length - 1; i >= 0; i--) {
          const e = log[i];
          if (e) e.table.setRaw(e.id, e.before);
        }
      } else if (outer) {
        // A nested transaction that commits still belongs to the enclosing one.
        for (const e of log) outer.push(e);
      }
    }
  }
}
