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

/** Undoes one change; run newest first when a transaction rolls back. */
type UndoEntry = () => void;

/**
 * The rows of a many-to-many relationship's intersect table: pairs of ids, indexed from both sides
 * so either table's collection-valued navigation property is one Map get.
 */
export class IntersectStore {
  readonly #fromEntity1 = new Map<string, Set<string>>();
  readonly #fromEntity2 = new Map<string, Set<string>>();
  #size = 0;

  constructor(
    readonly schemaName: string,
    readonly entity1: string,
    readonly entity2: string,
  ) {}

  get size(): number {
    return this.#size;
  }

  has(id1: string, id2: string): boolean {
    return this.#fromEntity1.get(id1)?.has(id2) === true;
  }

  /** Ids related to `id` seen from side 1 (entity1's row) or side 2. */
  related(side: 1 | 2, id: string): ReadonlySet<string> {
    return (side === 1 ? this.#fromEntity1 : this.#fromEntity2).get(id) ?? EMPTY;
  }

  setRaw(id1: string, id2: string, present: boolean): void {
    if (present === this.has(id1, id2)) return;
    if (present) {
      addTo(this.#fromEntity1, id1, id2);
      addTo(this.#fromEntity2, id2, id1);
      this.#size++;
    } else {
      this.#fromEntity1.get(id1)?.delete(id2);
      this.#fromEntity2.get(id2)?.delete(id1);
      this.#size--;
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function addTo(index: Map<string, Set<string>>, key: string, value: string): void {
  const set = index.get(key);
  if (set) set.add(value);
  else index.set(key, new Set([value]));
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
// One tuple per key and row: a one-column key is its collated value itself, a longer key its
// parts length-prefixed (so no two tuples run together). Either way one flat string, not a tree
// of concatenations kept per stored row.
function keyTuple(attributes: readonly string[], values: Readonly<Record<string, Value>>, collation: Collation): string | undefined {
  if (attributes.length === 1) return keyPart(values[attributes[0] as string], collation);
  const parts: string[] = [];
  for (const a of attributes) {
    const part = keyPart(values[a], collation);
    if (part === undefined) return undefined;
    parts.push(`${part.length}:${part}`);
  }
  return parts.join("|");
}

function keyPart(v: Value | undefined, collation: Collation): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === "string" ? collation.key(v) : isLookup(v) ? v.id : String(v);
}

export class Store {
  private readonly tables = new Map<string, TableStore>();
  private readonly intersects = new Map<string, IntersectStore>();
  private undo: UndoEntry[] | undefined;
  private version = 1_000_000;

  constructor(models: Iterable<TableModel>, collation: Collation) {
    for (const m of models) {
      this.tables.set(m.logicalName, new TableStore(m, collation));
      for (const side of m.manyToMany.values()) {
        const r = side.relationship;
        if (!this.intersects.has(r.schemaName)) this.intersects.set(r.schemaName, new IntersectStore(r.schemaName, r.entity1, r.entity2));
      }
    }
  }

  intersect(schemaName: string): IntersectStore | undefined {
    return this.intersects.get(schemaName);
  }

  /** Adds or removes one pair of an intersect table, undoably. */
  relate(intersect: IntersectStore, id1: string, id2: string, present: boolean): void {
    const before = intersect.has(id1, id2);
    if (before === present) return;
    this.undo?.push(() => intersect.setRaw(id1, id2, before));
    intersect.setRaw(id1, id2, present);
  }

  table(logicalName: string): TableStore | undefined {
    return this.tables.get(logicalName);
  }

  nextVersion(): number {
    return ++this.version;
  }

  put(table: TableStore, row: Row): void {
    const before = table.rows.get(row.id);
    this.undo?.push(() => table.setRaw(row.id, before));
    table.setRaw(row.id, row);
  }

  /** Deletes a row and, as Dataverse does, the intersect rows that name it. */
  remove(table: TableStore, id: string): void {
    const before = table.rows.get(id);
    this.undo?.push(() => table.setRaw(id, before));
    table.setRaw(id, undefined);
    const name = table.model.logicalName;
    for (const intersect of this.intersects.values()) {
      if (intersect.entity1 === name) for (const other of [...intersect.related(1, id)]) this.relate(intersect, id, other, false);
      if (intersect.entity2 === name) for (const other of [...intersect.related(2, id)]) this.relate(intersect, other, id, false);
    }
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
        for (let i = log.length - 1; i >= 0; i--) log[i]?.();
      } else if (outer) {
        // A nested transaction that commits still belongs to the enclosing one.
        for (const e of log) outer.push(e);
      }
    }
  }
}
