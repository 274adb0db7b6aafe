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
// The read is `$filter=Microsoft.Dynamics.CRM.In(PropertyName='col',PropertyValues=["a","b"])`
// (filter-rows, "Dataverse query functions") for ids and single-column keys, an `or` of key
// equalities for composite keys. A URL longer than LONG_URL goes as a GET inside a `$batch`, whose
// part URLs are not subject to the request line's limit (Learn, "Execute batch operations": use
// $batch for GET requests whose URL would exceed the maximum length).
import { tableKeyIdentity } from "../model/key-identity.js";
import { lookupOfValueName, lookupValueName } from "../model/lookup.js";
import type { Operation } from "../model/operation.js";
import type { TableLookup, TableMeta } from "../model/table-meta.js";
import type { WriteOutcome } from "../model/writer.js";
import { diffRow, type RowDiff } from "../model/row-diff.js";
import { buildBatch, matchResponses, parseBatchResponse } from "./batch.js";
import { bodyText, type DataverseClient } from "./client.js";
import { DataverseError } from "./errors.js";
import { encodeQueryValue, entityPath, filterLiteral, KeyLiteralError, keyFilter } from "./keys.js";
import { NewRowGuess } from "./new-rows.js";
import type { UserPool } from "./user-pool.js";
import type { Item } from "./write-item.js";
import type { WriteCounters } from "./write-stats.js";

/** Longest read URL sent as a plain GET; longer ones go inside a $batch. */
export const LONG_URL = 4096;

/** What an item was before the change filter narrowed it (to undo on a duplicate-key race). */
export interface Narrowed {
  readonly original: Operation;
  readonly as: "create" | "update";
}

interface Group {
  /** `entitySet|shape`: what NewRowGuess keeps its evidence by. */
  readonly key: string;
  readonly entitySet: string;
  readonly meta: TableMeta;
  /** "id", or the key's columns sorted and joined. */
  readonly shape: string;
  readonly items: Item[];
}

function shapeOf(op: Operation): string | undefined {
  if (op.ref.kind === "id") return "id";
  if (op.ref.kind !== "key") return undefined;
  const { values } = op.ref;
  // One column (the usual key): its name, with no array made per row.
  if (values.length === 1) return (values[0] as readonly [string, unknown])[0];
  return values.map(([c]) => c).sort().join(",");
}

function identityOf(meta: TableMeta, op: Operation): string | undefined {
  if (op.ref.kind === "id") return op.ref.id.toLowerCase();
  if (op.ref.kind === "key") return tableKeyIdentity(op.ref.values, meta);
  return undefined;
}

/** The identity of a row read back; `columns` is the key's columns, or undefined for shape "id". */
function rowIdentity(meta: TableMeta, columns: readonly string[] | undefined, row: Readonly<Record<string, unknown>>): string | undefined {
  if (columns === undefined) {
    const id = row[meta.primaryIdAttribute];
    return typeof id === "string" ? id.toLowerCase() : undefined;
  }
  return tableKeyIdentity(
    columns.map((c) => [c, row[c]] as const),
    meta,
  );
}

/** The read's $filter for these items (all of one shape); throws KeyLiteralError when a value cannot be written. */
function readFilter(meta: TableMeta, shape: string, ops: readonly Operation[]): string {
  const single = shape === "id" ? meta.primaryIdAttribute : shape.includes(",") ? undefined : shape;
  // In takes its values as JSON strings; a lookup key part (`_x_value`) is left to equalities, since
  // Learn shows In only on plain columns.
  if (single !== undefined && lookupOfValueName(single) === undefined) {
    const values = ops.map((op) => {
      if (op.ref.kind === "id") return op.ref.id;
      const v = op.ref.kind === "key" ? op.ref.values[0]?.[1] : undefined;
      if (v === undefined) throw new KeyLiteralError("key", "no key value");
      // A number is checked as a filter literal; text is checked with the whole filter when it is
      // encoded (encodeQueryValue refuses the same characters).
      if (typeof v === "number") filterLiteral(single, v);
      return String(v);
    });
    return `Microsoft.Dynamics.CRM.In(PropertyName='${single}',PropertyValues=${JSON.stringify([...new Set(values)])})`;
  }
  return ops.map((op) => `(${keyFilter(op.ref)})`).join(" or ");
}

/**
 * `$expand` of the lookups bound by a target's alternate key, selecting that key's columns: a lookup
 * reads back as a GUID, so only the target's key says whether it already points where we bind it.
 */
function expandOf(ops: readonly Operation[]): string | undefined {
  const byNav = new Map<string, Set<string>>();
  for (const op of ops) {
    for (const b of op.bindings) {
      if (b.target === null || b.target.ref.kind !== "key" || b.column === undefined) continue;
      let cols = byNav.get(b.navigationProperty);
      if (cols === undefined) {
        cols = new Set();
        byNav.set(b.navigationProperty, cols);
      }
      for (const [c] of b.target.ref.values) cols.add(c);
    }
  }
  if (byNav.size === 0) return undefined;
  return [...byNav].map(([nav, cols]) => `${nav}($select=${[...cols].join(",")})`).join(",");
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

function selectOf(meta: TableMeta, shape: string, ops: readonly Operation[]): string[] {
  const columns = new Set<string>([meta.primaryIdAttribute]);
  if (shape !== "id") for (const c of shape.split(",")) columns.add(c);
  for (const op of ops) {
    for (const c in op.columns) columns.add(c);
    for (const b of op.bindings) if (b.column !== undefined) columns.add(lookupValueName(b.column));
  }
  return [...columns];
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
      const key = `${op.entitySet}|${shape}`;
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
      if (shape !== undefined) groups.add(`${op.entitySet}|${shape}`);
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

/**
 * The current rows of `ops` (one entity set, one ref shape), in one read: for each operation its
 * row, undefined when the read shows there is none, or null when the read proves nothing for it
 * (it failed, a key no filter can carry, a row matching several keys).
 */
async function readChunk(
  client: DataverseClient,
  g: Omit<Group, "items">,
  ops: readonly Operation[],
  oneSpellingPerRow = false,
): Promise<(Record<string, unknown> | undefined | null)[]> {
  const unknown = ops.map(() => null);
  let path: string;
  try {
    const expand = expandOf(ops);
    path =
      `${g.entitySet}?$select=${selectOf(g.meta, g.shape, ops).join(",")}` +
      (expand === undefined ? "" : `&$expand=${encodeQueryValue(expand)}`) +
      `&$filter=${encodeQueryValue(readFilter(g.meta, g.shape, ops))}`;
  } catch (err) {
    if (err instanceof KeyLiteralError) return unknown;
    throw err;
  }
  const rows = await readRows(client, path);
  if (rows === undefined) return unknown;
  const columns = g.shape === "id" ? undefined : g.shape.split(",");
  const [only] = columns ?? [];
  const exact = oneSpellingPerRow && columns?.length === 1 && only !== undefined ? exactMatches(only, ops, rows) : undefined;
  if (exact !== undefined) return exact.map((row, k) => row ?? (identityOf(g.meta, ops[k] as Operation) === undefined ? null : undefined));
  const byIdentity = new Map<string, Record<string, unknown> | null>();
  for (const row of rows) {
    const id = rowIdentity(g.meta, columns, row);
    if (id === undefined) return unknown; // a row we cannot place: prove nothing about this chunk
    // Two rows for one identity (a comparison we got wrong): leave that key to the write.
    byIdentity.set(id, byIdentity.has(id) ? null : row);
  }
  return ops.map((op) => {
    const identity = identityOf(g.meta, op);
    return identity === undefined ? null : byIdentity.get(identity);
  });
}

const TAKEN = Symbol("taken");

/**
 * The rows of a one-column key read back matched to the operations by the exact value each was sent
 * with (the usual case: the row was written with the same spelling), or undefined when that does not
 * account for every row: a row spelled otherwise, two rows or two operations with one value. Then
 * the collation's identities decide. Only for operations that name each row in one spelling (a
 * batch: the pipeline keeps two spellings of one row apart): then, when every row matched some
 * operation's exact value, no other operation can be one of those rows under the collation, and
 * the answer is the one the identities would give.
 */
function exactMatches(column: string, ops: readonly Operation[], rows: readonly Record<string, unknown>[]): (Record<string, unknown> | undefined)[] | undefined {
  const byValue = new Map<unknown, Record<string, unknown> | typeof TAKEN>();
  for (const row of rows) {
    const v = row[column];
    if ((typeof v !== "string" && typeof v !== "number") || byValue.has(v)) return undefined;
    byValue.set(v, row);
  }
  const out: (Record<string, unknown> | undefined)[] = [];
  let taken = 0;
  for (const op of ops) {
    const v = op.ref.kind === "key" ? op.ref.values[0]?.[1] : undefined;
    const row = v === undefined ? undefined : byValue.get(v);
    if (row === TAKEN) return undefined;
    if (row !== undefined) {
      byValue.set(v, TAKEN);
      taken++;
    }
    out.push(row);
  }
  return taken === rows.length ? out : undefined;
}

/** What writing `op` would change in `row` (undefined: no such row), lookups by key compared through their expanded key. */
export function diffAgainst(op: Operation, row: Readonly<Record<string, unknown>> | undefined, tables: TableLookup): RowDiff {
  const meta = tables(op.table);
  return row === undefined ? diffRow(op, undefined, meta) : diffRow(comparable(op, row, tables), row, meta);
}

/**
 * The current rows of any operations addressed by id or key (the dry run's read, the same as the
 * writer's): one read per `rowsPerRead` operations of one entity set and ref shape.
 */
export async function currentRows(client: DataverseClient, tables: TableLookup, ops: readonly Operation[], rowsPerRead = 1000): Promise<(Record<string, unknown> | undefined | null)[]> {
  const out: (Record<string, unknown> | undefined | null)[] = ops.map(() => null);
  const groups = new Map<string, { g: Omit<Group, "items">; indexes: number[] }>();
  ops.forEach((op, i) => {
    const meta = tables(op.table);
    const shape = shapeOf(op);
    if (meta === undefined || shape === undefined) return;
    const key = `${op.entitySet}|${shape}`;
    let e = groups.get(key);
    if (e === undefined) {
      e = { g: { key, entitySet: op.entitySet, meta, shape }, indexes: [] };
      groups.set(key, e);
    }
    e.indexes.push(i);
  });
  for (const { g, indexes } of groups.values()) {
    for (let start = 0; start < indexes.length; start += rowsPerRead) {
      const chunk = indexes.slice(start, start + rowsPerRead);
      const found = await readChunk(client, g, chunk.map((i) => ops[i] as Operation));
      chunk.forEach((i, k) => {
        out[i] = found[k];
      });
    }
  }
  return out;
}

/** The rows a read returns; undefined when it failed or was cut into pages (nothing proven). */
async function readRows(client: DataverseClient, path: string): Promise<Record<string, unknown>[] | undefined> {
  const prefer = { Prefer: "odata.maxpagesize=5000" };
  let text: string;
  try {
    if (path.length <= LONG_URL) {
      const res = await client.send({ method: "GET", path, headers: prefer });
      text = res.status === 200 ? bodyText(res.body) : "";
    } else {
      const built = buildBatch([{ method: "GET", url: `${client.rootPath}${path}`, headers: prefer }]);
      const res = await client.send({ method: "POST", path: "$batch", headers: { "Content-Type": built.contentType }, body: built.body });
      const [part] = res.status === 200 ? matchResponses(1, parseBatchResponse(res.headers["content-type"] ?? "", bodyText(res.body))) : [];
      text = part?.status === 200 ? part.body : "";
    }
  } catch (err) {
    if (err instanceof DataverseError) return undefined;
    throw err;
  }
  if (text === "") return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const o = body as Record<string, unknown>;
  if (!Array.isArray(o["value"]) || o["@odata.nextLink"] !== undefined) return undefined;
  return o["value"].filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null);
}
