// Keys Dataverse cannot take in a URL (a value holding "/", "&", "%"...): their rows and lookup
// targets are found by $filter and rewritten to GUIDs before the operations are sent; a row that does
// not exist yet is created with its key columns in the body instead.
import { tableKeyIdentity } from "../model/key-identity.js";
import { lookupOfValueName } from "../model/lookup.js";
import type { ColumnValue, RowRef } from "../model/operation.js";
import type { TableLookup, TableMeta } from "../model/table-meta.js";
import type { WriteOutcome } from "../model/writer.js";
import { DataverseError } from "./errors.js";
import { encodeQueryValue, entityPath, isUrlAddressable, KeyLiteralError, keyFilter } from "./keys.js";
import type { UserPool } from "./user-pool.js";
import { needsResolution, reject, type Item } from "./write-item.js";

/**
 * URL-unusable keys are looked up in groups: one GET whose $filter ORs up to this many key
 * equalities, and whose filter text stays under LOOKUP_FILTER_CHARS once percent-encoded.
 * Microsoft's pages we could find give no URL length limit for a Web API GET, so both caps are
 * conservative: 50 keys of typical length make a URL of a few KB.
 */
const LOOKUP_CHUNK = 50;
const LOOKUP_FILTER_CHARS = 8000;

/**
 * GUIDs of rows found by key for one write call, by `entitySet|filter clause`: one entry per
 * spelling of a key value, as the records wrote it; null when a grouped lookup showed that no row
 * has that spelling's key. A spelling absent from the map goes through the per-row lookup.
 */
type KnownIds = Map<string, string | null>;

interface Wanted {
  /** `entitySet|clause`: the spelling, exactly. */
  readonly key: string;
  /** The key's identity under the environment's collation (model/key-identity.ts). */
  readonly identity: string;
  readonly clause: string;
}

/** Key identity of key values in a table, under the table's collation; undefined when a value can be no key. */
function identityOf(meta: TableMeta, values: Iterable<readonly [string, unknown]>): string | undefined {
  return tableKeyIdentity(values, meta);
}

/** `entitySet|filter clause` of a key ref: its spelling, exactly as the record wrote it. */
function spellingKey(entitySet: string, ref: RowRef): string | undefined {
  if (ref.kind !== "key") return undefined;
  try {
    return `${entitySet}|${keyFilter(ref)}`;
  } catch (err) {
    if (err instanceof KeyLiteralError) return undefined;
    throw err;
  }
}

export class KeyResolver {
  readonly #tables: TableLookup;
  readonly #pool: UserPool;

  constructor(tables: TableLookup, pool: UserPool) {
    this.#tables = tables;
    this.#pool = pool;
  }

  /** Rewrites the items whose refs or bindings hold URL-unusable key values; settles those it cannot. */
  async resolve(items: readonly Item[], results: (WriteOutcome | undefined)[]): Promise<void> {
    const unaddressable = items.filter((i) => needsResolution(i.op));
    if (unaddressable.length === 0) return;
    const known = await this.#prefetchIds(unaddressable);
    await Promise.all(unaddressable.map((i) => this.#resolveItem(i, results, known)));
  }

  /**
   * Finds the GUIDs of all URL-unusable key refs of a write (rows and lookup targets) with one
   * query per chunk of keys instead of one per ref. Every spelling is asked about, and a spelling
   * is only ever answered by the query that asked about it. Spellings that are one key under the
   * collation (`ACC/2` and `acc/2 `) go in different chunks, so a row read back matches at most one
   * spelling of its chunk. A chunk whose answer holds a row matching none of its keys, or two rows
   * for one key (a comparison we got wrong), proves nothing, so all its spellings are left to the
   * per-row lookup; so is every spelling of a chunk whose query failed.
   */
  async #prefetchIds(items: readonly Item[]): Promise<KnownIds> {
    const known: KnownIds = new Map();
    const groups = new Map<string, { entitySet: string; meta: TableMeta; columns: string[]; wanted: Map<string, Wanted> }>();
    const want = (entitySet: string, table: string, ref: RowRef): void => {
      if (ref.kind !== "key" || isUrlAddressable(ref)) return;
      const meta = this.#tables(table);
      if (meta === undefined) return;
      const identity = identityOf(meta, ref.values);
      if (identity === undefined) return;
      const key = spellingKey(entitySet, ref);
      if (key === undefined) return;
      const clause = `(${key.slice(entitySet.length + 1)})`;
      const columns = ref.values.map(([c]) => c).sort();
      const groupKey = `${entitySet}|${columns.join(",")}`;
      let g = groups.get(groupKey);
      if (g === undefined) {
        g = { entitySet, meta, columns, wanted: new Map() };
        groups.set(groupKey, g);
      }
      g.wanted.set(key, { key, identity, clause });
    };
    for (const { op } of items) {
      want(op.entitySet, op.table, op.ref);
      for (const b of op.bindings) if (b.target !== null) want(b.target.entitySet, b.target.table, b.target.ref);
    }

    const lookups: Promise<void>[] = [];
    for (const g of groups.values()) {
      // Round n holds the n-th spelling of each key identity, so no chunk holds two of one key.
      const rounds: Wanted[][] = [];
      const seen = new Map<string, number>();
      for (const w of g.wanted.values()) {
        const n = seen.get(w.identity) ?? 0;
        seen.set(w.identity, n + 1);
        (rounds[n] ??= []).push(w);
      }
      for (const round of rounds) {
        let chunk: Wanted[] = [];
        let chars = 0;
        const flush = (): void => {
          if (chunk.length > 0) lookups.push(this.#lookupChunk(g.entitySet, g.meta, g.columns, chunk, known));
          chunk = [];
          chars = 0;
        };
        for (const w of round) {
          const size = encodeQueryValue(w.clause).length + 4;
          if (chunk.length >= LOOKUP_CHUNK || (chunk.length > 0 && chars + size > LOOKUP_FILTER_CHARS)) flush();
          chunk.push(w);
          chars += size;
        }
        flush();
      }
    }
    await Promise.all(lookups);
    return known;
  }

  async #lookupChunk(entitySet: string, meta: TableMeta, columns: readonly string[], chunk: readonly Wanted[], known: KnownIds): Promise<void> {
    const pid = meta.primaryIdAttribute;
    const byIdentity = new Map(chunk.map((w) => [w.identity, w]));
    let rows: Record<string, unknown>[];
    try {
      rows = await this.#pool.read(async (client) => {
        const out: Record<string, unknown>[] = [];
        const filter = chunk.map((w) => w.clause).join(" or ");
        for await (const page of client.query(entitySet, { select: [pid, ...columns.filter((c) => c !== pid)], filter, maxPageSize: 5000 })) out.push(...page);
        return out;
      });
    } catch (err) {
      if (err instanceof DataverseError) return;
      throw err;
    }
    const found = new Map<string, string>();
    for (const row of rows) {
      const id = row[pid];
      const identity = identityOf(meta, columns.map((c) => [c, row[c]] as const));
      if (typeof id !== "string" || identity === undefined || !byIdentity.has(identity)) return;
      const before = found.get(identity);
      if (before !== undefined && before.toLowerCase() !== id.toLowerCase()) return;
      found.set(identity, id);
    }
    for (const w of chunk) known.set(w.key, found.get(w.identity) ?? null);
  }

  async #findId(entitySet: string, table: string, ref: RowRef, known: KnownIds): Promise<string | undefined | "no-meta"> {
    const meta = this.#tables(table);
    if (meta === undefined) return "no-meta";
    const key = spellingKey(entitySet, ref);
    const hit = key === undefined ? undefined : known.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const page = await this.#pool.read(async (client) => {
      for await (const p of client.query(entitySet, { select: [meta.primaryIdAttribute], filter: keyFilter(ref), top: 2 })) return p;
      return [];
    });
    const id = page[0]?.[meta.primaryIdAttribute];
    return typeof id === "string" ? id : undefined;
  }

  /**
   * A key's columns as a create body holds them. A lookup part (`_new_contactid_value`) is a
   * read-only computed property in a body (Learn: "Lookup properties are read-only"), so it becomes
   * `<nav>@odata.bind` through the table's one N:1 relationship on that column; a string names why not.
   */
  #keyColumnsForBody(table: string, values: readonly (readonly [string, ColumnValue])[]): Record<string, ColumnValue> | string {
    const out: Record<string, ColumnValue> = {};
    for (const [c, v] of values) {
      const lookup = lookupOfValueName(c);
      if (lookup === undefined) {
        out[c] = v;
        continue;
      }
      const rels = this.#tables(table)?.manyToOne.filter((r) => r.referencingAttribute === lookup) ?? [];
      const rel = rels.length === 1 ? rels[0] : undefined;
      const target = rel === undefined ? undefined : this.#tables(rel.referencedEntity);
      if (rel === undefined || target === undefined || typeof v !== "string") {
        return `key column ${lookup} of table ${table} is a lookup whose target cannot be bound on create (a key value Dataverse cannot address in a URL made the connector create the row by POST)`;
      }
      out[`${rel.navigationProperty}@odata.bind`] = `/${target.entitySetName}(${v.toLowerCase()})`;
    }
    return out;
  }

  /** Rewrites refs and bindings that hold URL-unusable key values into GUIDs; may settle the item. */
  async #resolveItem(item: Item, results: (WriteOutcome | undefined)[], known: KnownIds): Promise<void> {
    const { op } = item;
    let ref = op.ref;
    let extraColumns: Record<string, ColumnValue> | undefined;
    if (!isUrlAddressable(ref) && ref.kind === "key") {
      const found = await this.#findId(op.entitySet, op.table, ref, known);
      if (found === "no-meta") {
        results[item.index] = reject(0, "", `key of table ${op.table} holds characters Dataverse cannot address in a URL, and its metadata is not loaded`);
        return;
      }
      if (found !== undefined) ref = { kind: "id", id: found };
      else if (op.kind === "delete" || op.kind === "deactivate") {
        results[item.index] = { ok: true, unchanged: true };
        return;
      } else if (op.kind === "update") {
        results[item.index] = reject(404, "", "row does not exist");
        return;
      } else {
        // Not there yet: create it with the key columns in the body (a URL cannot carry them).
        const columns = this.#keyColumnsForBody(op.table, ref.values);
        if (typeof columns === "string") {
          results[item.index] = reject(0, "", columns);
          return;
        }
        extraColumns = columns;
        ref = { kind: "none" };
      }
    }
    const bindings = [];
    for (const b of op.bindings) {
      if (b.target === null || isUrlAddressable(b.target.ref)) {
        bindings.push(b);
        continue;
      }
      const found = await this.#findId(b.target.entitySet, b.target.table, b.target.ref, known);
      if (found === undefined || found === "no-meta") {
        results[item.index] = reject(404, "", `lookup ${b.navigationProperty}: target row not found`);
        return;
      }
      bindings.push({ ...b, target: { ...b.target, ref: { kind: "id" as const, id: found } } });
    }
    item.op = { ...op, ref, bindings };
    item.path = ref.kind === "none" ? undefined : entityPath(op.entitySet, ref);
    if (extraColumns !== undefined) item.extraColumns = extraColumns;
  }
}
