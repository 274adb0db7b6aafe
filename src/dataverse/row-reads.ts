// The current rows of operations, read by key: one read per request's worth of rows of one entity
// set and ref shape, for the writer's change filter (changes.ts) and the dry run.
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
import { buildBatch, matchResponses, parseBatchResponse } from "./batch.js";
import { bodyText, type DataverseClient } from "./client.js";
import { DataverseError } from "./errors.js";
import { encodeQueryValue, filterLiteral, KeyLiteralError, keyFilter } from "./keys.js";

/** Longest read URL sent as a plain GET; longer ones go inside a $batch. */
export const LONG_URL = 4096;

/** Operations of one entity set and one ref shape, read together. */
export interface ReadGroup {
  /** `entitySet|shape`: what NewRowGuess keeps its evidence by. */
  readonly key: string;
  readonly entitySet: string;
  readonly meta: TableMeta;
  /** "id", or the key's columns sorted and joined. */
  readonly shape: string;
}

/** "id", the key's column, or its columns sorted and joined; undefined for an operation with neither. */
export function shapeOf(op: Operation): string | undefined {
  if (op.ref.kind === "id") return "id";
  if (op.ref.kind !== "key") return undefined;
  const { values } = op.ref;
  // One column (the usual key): its name, with no array made per row.
  if (values.length === 1) return (values[0] as readonly [string, unknown])[0];
  return values.map(([c]) => c).sort().join(",");
}

/** What a ReadGroup is keyed by: `entitySet|shape`. */
export function groupKey(entitySet: string, shape: string): string {
  return `${entitySet}|${shape}`;
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

function selectOf(meta: TableMeta, shape: string, ops: readonly Operation[]): string[] {
  const columns = new Set<string>([meta.primaryIdAttribute]);
  if (shape !== "id") for (const c of shape.split(",")) columns.add(c);
  for (const op of ops) {
    for (const c in op.columns) columns.add(c);
    for (const b of op.bindings) if (b.column !== undefined) columns.add(lookupValueName(b.column));
  }
  return [...columns];
}

/**
 * The current rows of `ops` (one entity set, one ref shape), in one read: for each operation its
 * row, undefined when the read shows there is none, or null when the read proves nothing for it
 * (it failed, a key no filter can carry, a row matching several keys).
 */
export async function readChunk(
  client: DataverseClient,
  g: ReadGroup,
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

/**
 * The current rows of any operations addressed by id or key (the dry run's read, the same as the
 * writer's): one read per `rowsPerRead` operations of one entity set and ref shape.
 */
export async function currentRows(client: DataverseClient, tables: TableLookup, ops: readonly Operation[], rowsPerRead = 1000): Promise<(Record<string, unknown> | undefined | null)[]> {
  const out: (Record<string, unknown> | undefined | null)[] = ops.map(() => null);
  const groups = new Map<string, { g: ReadGroup; indexes: number[] }>();
  ops.forEach((op, i) => {
    const meta = tables(op.table);
    const shape = shapeOf(op);
    if (meta === undefined || shape === undefined) return;
    const key = groupKey(op.entitySet, shape);
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
