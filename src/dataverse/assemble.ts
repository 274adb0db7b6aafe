// Request assembly: one assembler per way an operation travels. A bulk action (CreateMultiple,
// UpdateMultiple, UpsertMultiple) takes the operations of one kind on one table as targets; a
// $batch part carries one operation, shaped by its kind (create, upsert, update, deactivate, delete).
import type { Operation, OperationKind, RowRef } from "../model/operation.js";
import { lookupOfValueName } from "../model/lookup.js";
import type { TableMeta } from "../model/table-meta.js";
import type { WriteOutcome } from "../model/writer.js";
import type { BatchRequestPart } from "./batch.js";
import { bindUrl, entityPath } from "./keys.js";
import type { Item } from "./write-item.js";

/** One row's body: key columns a URL could not carry, its columns, its lookups as binds (or nulls). */
export function rowBody(item: Item, odataType?: string): Record<string, unknown> {
  const { op } = item;
  const body: Record<string, unknown> = {};
  if (odataType !== undefined) body["@odata.type"] = odataType;
  // for…in rather than Object.entries: no array per column, for every row sent.
  const extra = item.extraColumns;
  if (extra !== undefined) for (const k in extra) body[k] = extra[k];
  const columns = op.columns;
  for (const k in columns) body[k] = columns[k];
  for (const b of op.bindings) {
    if (b.target === null) body[b.navigationProperty] = null;
    else body[`${b.navigationProperty}@odata.bind`] = bindUrl(b.target.entitySet, b.target.ref);
  }
  return body;
}

/**
 * A row body or bulk target as JSON. JSON.stringify cannot write a bigint (a BigInt column's value
 * beyond ±2^53), so a body holding one is written member by member, the bigint as its digits:
 * Edm.Int64 must be a JSON number (ODataLib refuses a string unless IEEE754Compatible is set).
 */
export function bodyJson(body: Readonly<Record<string, unknown>>): string {
  let exact = false;
  for (const k in body) if (typeof body[k] === "bigint") exact = true;
  if (!exact) return JSON.stringify(body);
  const members: string[] = [];
  for (const [k, v] of Object.entries(body)) {
    if (v !== undefined) members.push(`${JSON.stringify(k)}:${typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`);
  }
  return `{${members.join(",")}}`;
}

function rowPath(item: Item): string {
  return item.path ?? entityPath(item.op.entitySet, item.op.ref);
}

// ---- bulk actions ----

export interface BulkAssembler {
  readonly kind: "create" | "update" | "upsert";
  /** The bound action, e.g. CreateMultiple. */
  readonly message: string;
  /** Whether this operation on this table can go this way. */
  accepts(op: Operation, meta: TableMeta): boolean;
  /** Puts the row's id or key into its target. */
  address(target: Record<string, unknown>, item: Item, meta: TableMeta): void;
  /** Each operation's outcome when the request succeeded. */
  readonly done: WriteOutcome;
}

function hasLookupKeyPart(ref: RowRef): boolean {
  return ref.kind === "key" && ref.values.some(([c]) => lookupOfValueName(c) !== undefined);
}

/** An update or upsert target names its row by id, or by key in @odata.id only: the same column in the body breaks the create path (0x80040216). */
function addressByIdOrODataId(target: Record<string, unknown>, item: Item, meta: TableMeta): void {
  const ref = item.op.ref;
  if (ref.kind === "id") target[meta.primaryIdAttribute] = ref.id;
  else if (ref.kind === "key") target["@odata.id"] = rowPath(item);
}

const createMultiple: BulkAssembler = {
  kind: "create",
  message: "CreateMultiple",
  // A create addressed by a key with a lookup part goes as PATCH + If-None-Match through $batch: the
  // URL key carries `_x_value=<guid>`, which a CreateMultiple body cannot (lookup properties are read-only).
  accepts: (op, meta) => op.kind === "create" && meta.bulk.createMultiple && !hasLookupKeyPart(op.ref),
  address(target, item, meta) {
    const ref = item.op.ref;
    if (ref.kind === "id") target[meta.primaryIdAttribute] = ref.id;
    else if (ref.kind === "key") for (const [c, v] of ref.values) target[c] = v;
  },
  done: { ok: true, created: true },
};

const updateMultiple: BulkAssembler = {
  kind: "update",
  message: "UpdateMultiple",
  accepts: (op, meta) => op.kind === "update" && meta.bulk.updateMultiple && op.ref.kind !== "none",
  address: addressByIdOrODataId,
  done: { ok: true },
};

const upsertMultiple: BulkAssembler = {
  kind: "upsert",
  message: "UpsertMultiple",
  accepts: (op, meta) => op.kind === "upsert" && meta.bulk.upsertMultiple,
  address: addressByIdOrODataId,
  done: { ok: true },
};

const BULK_ASSEMBLERS: readonly BulkAssembler[] = [createMultiple, updateMultiple, upsertMultiple];

/** The bulk action that can carry this operation, or undefined when it goes through $batch. */
export function bulkAssemblerFor(op: Operation, meta: TableMeta | undefined, useBulkActions: boolean): BulkAssembler | undefined {
  if (!useBulkActions || meta === undefined) return undefined;
  // bulk-operations: on elastic tables a bulk action may succeed in part, where this writer treats
  // a failed bulk request as all-or-nothing and re-sends its rows (a plain create would then land
  // twice). Their rows go through $batch with continue-on-error, whose answer is per row.
  if (meta.tableType === "Elastic") return undefined;
  return BULK_ASSEMBLERS.find((a) => a.accepts(op, meta));
}

/** One bulk target (@odata.type, columns, bindings and the row's id or key) as JSON. */
export function bulkTarget(item: Item, meta: TableMeta, assembler: BulkAssembler): string {
  const target = rowBody(item, `Microsoft.Dynamics.CRM.${meta.logicalName}`);
  assembler.address(target, item, meta);
  return bodyJson(target);
}

/** The bulk request for these items: its path, and its body as bytes (a retry resends the same bytes). */
export function bulkRequest(items: readonly Item[], meta: TableMeta, assembler: BulkAssembler): { readonly path: string; readonly body: Buffer } {
  // Targets are joined as JSON text: each was serialised once by chunks() (for its size). Once in
  // the body they are dropped from the items, so a request in flight holds its records' JSON once,
  // not twice; a halved request after a refusal serialises its targets again (a rare path).
  const targets: string[] = new Array<string>(items.length);
  for (let k = 0; k < items.length; k++) {
    const item = items[k] as Item;
    targets[k] = item.target ?? bulkTarget(item, meta, assembler);
    item.target = undefined;
  }
  // As bytes: the joined text is garbage as soon as it is encoded.
  const body = Buffer.from(`{"Targets":[${targets.join(",")}]}`, "utf8");
  targets.length = 0;
  return { path: `${meta.entitySetName}/Microsoft.Dynamics.CRM.${assembler.message}`, body };
}

// ---- $batch parts ----

type PartAssembler = (item: Item, root: string, headers: Readonly<Record<string, string>>) => BatchRequestPart;

/** A create or upsert without a key: POST to the entity set. */
const post: PartAssembler = (item, root, headers) => ({ method: "POST", url: `${root}${item.op.entitySet}`, headers: { ...headers }, body: bodyJson(rowBody(item)) });

/** If-Match: * turns PATCH into update-only: a missing row answers 404 instead of being created. */
const updateOnly: PartAssembler = (item, root, headers) => ({
  method: "PATCH",
  url: `${root}${rowPath(item)}`,
  headers: { ...headers, "If-Match": "*" },
  body: bodyJson(rowBody(item)),
});

const PART_ASSEMBLERS: { readonly [K in OperationKind]: PartAssembler } = {
  delete: (item, root, headers) => ({ method: "DELETE", url: `${root}${rowPath(item)}`, headers: { ...headers } }),
  deactivate: updateOnly,
  update: updateOnly,
  upsert: (item, root, headers) =>
    item.op.ref.kind === "none" ? post(item, root, headers) : { method: "PATCH", url: `${root}${rowPath(item)}`, headers: { ...headers }, body: bodyJson(rowBody(item)) },
  // Create with a known id or key: If-None-Match: * makes the PATCH create-only, so a replay after
  // a crash finds the row instead of creating a second one.
  create: (item, root, headers) =>
    item.op.ref.kind === "none"
      ? post(item, root, headers)
      : { method: "PATCH", url: `${root}${rowPath(item)}`, headers: { ...headers, "If-None-Match": "*" }, body: bodyJson(rowBody(item)) },
};

/** The $batch part for one operation; `root` is the service root's path (`/api/data/v9.2/`). */
export function batchPart(item: Item, root: string, headers: Readonly<Record<string, string>>): BatchRequestPart {
  return PART_ASSEMBLERS[item.op.kind](item, root, headers);
}

// ---- chunks ----

/** Requests' worth of items, capped by rows and bytes; a bulk chunk keeps each item's target JSON for the send. */
export function* chunks(items: readonly Item[], meta: TableMeta | undefined, bulk: BulkAssembler | undefined, caps: { readonly rows: number; readonly bytes: number }): Generator<Item[]> {
  let current: Item[] = [];
  let bytes = 0;
  for (const item of items) {
    let size: number;
    if (bulk !== undefined && meta !== undefined) {
      const json = bulkTarget(item, meta, bulk);
      item.target = json;
      size = Buffer.byteLength(json) + 200;
    } else {
      size = Buffer.byteLength(bodyJson(rowBody(item))) + 200;
    }
    if (current.length > 0 && (current.length >= caps.rows || bytes + size > caps.bytes)) {
      yield current;
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) yield current;
}
