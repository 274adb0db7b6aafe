// The environment's tables and their rows, addressed the way the Web API names them: a key
// predicate in the path (`accounts(<guid>)`, `contacts(emailaddress1='…')`, use-alternate-key-
// reference-record), a row URL in a body (`@odata.bind`, `@odata.id`) or a `$n` Content-ID
// reference of the enclosing changeset; plus the privilege check every operation makes.
import type { Caller, Privilege } from "./types.js";
import type { ColumnDefinition, KeyDefinition, ManyToManyDefinition, TableDefinition } from "./schema.js";
import { type TableModel, compileTables, isLookupType, keySignature } from "./model.js";
import { type Row, Store, type TableStore, type Value, isLookup } from "./store.js";
import { type Collation, collationFor } from "./collation.js";
import { type DataverseError, errors } from "./errors.js";
import { type PathSegment, assertUsableKeyValues, parsePath } from "./odata/path.js";
import type { KeyPart, Literal } from "./odata/literal.js";
import { normalizeDateTime } from "./validate.js";

/** How a request names one row. */
export type RowAddress =
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "key"; readonly key: KeyDefinition; readonly values: Readonly<Record<string, Value>> };

/** What a row URL is read against: the service root, and the changeset's `$n` references. */
export interface UrlContext {
  readonly serviceRoot: string;
  readonly contentIdRefs?: ReadonlyMap<string, string>;
}

/** A one-to-many relationship seen from its parent: the child table and the child's lookup. */
export interface CollectionNav {
  readonly model: TableModel;
  /** The child's single-valued navigation property back to the parent. */
  readonly nav: string;
  /** The child's lookup column. */
  readonly column: string;
}

const PRIVILEGE_NAMES: Record<Privilege, string> = {
  create: "Create",
  read: "Read",
  write: "Write",
  delete: "Delete",
  append: "Append",
  appendto: "AppendTo",
};

export class Tables {
  readonly models: ReadonlyMap<string, TableModel>;
  readonly bySet: ReadonlyMap<string, TableModel>;
  readonly store: Store;

  /** How the environment compares text: key uniqueness, addressing by key, `$filter`. */
  readonly collation: Collation;

  constructor(tables: readonly TableDefinition[], baseLanguage: number, manyToMany: readonly ManyToManyDefinition[] = []) {
    this.models = compileTables(tables, manyToMany);
    this.bySet = new Map([...this.models.values()].map((m) => [m.entitySetName, m]));
    this.collation = collationFor(baseLanguage);
    this.store = new Store(this.models.values(), this.collation);
  }

  /** Row address from a key predicate. fromRequestPath: apply the IIS/ASP.NET path rules. */
  addressFromSegment(model: TableModel, seg: PathSegment, fromRequestPath: boolean): RowAddress {
    const keys = seg.keys ?? [];
    if (keys.length === 0) throw errors.invalidKey(model.logicalName);
    const only = keys[0];
    if (keys.length === 1 && only && (only.name === undefined || only.name === model.primaryId)) {
      if (only.value.kind !== "guid") throw errors.invalidKey(model.logicalName);
      return { kind: "id", id: only.value.value };
    }
    if (keys.some((k) => k.name === undefined)) throw errors.invalidKey(model.logicalName);
    const columns = keys.map((k) => lookupKeyColumn(k.name ?? ""));
    const key = model.activeKeysBySignature.get(keySignature(columns));
    if (!key) throw errors.invalidKey(model.logicalName);
    if (fromRequestPath) assertUsableKeyValues(keys);
    const values: Record<string, Value> = {};
    for (const k of keys) {
      const colName = lookupKeyColumn(k.name ?? "");
      const column = model.columns.get(colName);
      if (!column) throw errors.invalidKey(model.logicalName);
      values[colName] = keyLiteralValue(model, column, k);
    }
    return { kind: "key", key, values };
  }

  /** Resolves a URL naming one row (bind targets, @odata.id): absolute, relative, or `$n`. */
  resolveRowUrl(url: string, ctx: UrlContext, forSet?: string): { model: TableModel; address: RowAddress } {
    let path = url;
    if (path.startsWith("$") && ctx.contentIdRefs) {
      const ref = ctx.contentIdRefs.get(path);
      if (ref === undefined) {
        throw errors.badRequest(`Content-ID Reference: '${path}' does not exist in the batch context.`);
      }
      path = ref;
    }
    if (path.startsWith(ctx.serviceRoot)) path = path.slice(ctx.serviceRoot.length);
    else if (/^https?:\/\//i.test(path)) {
      const i = path.indexOf("/api/data/");
      const rest = i < 0 ? "" : path.slice(i + "/api/data/".length);
      path = rest.slice(rest.indexOf("/") + 1);
    }
    path = path.replace(/^\/+/, "");
    const segments = parsePath(path);
    const seg = segments[0];
    if (!seg || segments.length !== 1 || seg.keys === undefined) {
      // The URL may hold a key value: not quoted back (house rule).
      throw errors.badRequest("The URL of a reference does not identify a single entity.", "0x80048d19");
    }
    const model = this.bySet.get(seg.name);
    if (!model) throw errors.resourceNotFound(seg.name);
    if (forSet !== undefined && model.entitySetName !== forSet) {
      throw errors.badRequest(`The entity set in '@odata.id' must be '${forSet}'.`, "0x80048d19");
    }
    return { model, address: this.addressFromSegment(model, seg, false) };
  }

  findRow(model: TableModel, address: RowAddress): Row | undefined {
    const table = this.tableStore(model);
    if (address.kind === "id") return table.rows.get(address.id);
    const id = table.lookupByKey(address.key.logicalName, address.values, address.key.attributes);
    return id === undefined ? undefined : table.rows.get(id);
  }

  notFound(model: TableModel, address: RowAddress): DataverseError {
    return address.kind === "id" ? errors.notFoundById(model.logicalName, address.id) : errors.notFoundByKey(model.logicalName);
  }

  tableStore(model: TableModel): TableStore {
    const t = this.store.table(model.logicalName);
    if (!t) throw errors.internal();
    return t;
  }

  demand(caller: Caller, model: TableModel, privilege: Privilege): void {
    if (!caller.can(model.logicalName, privilege)) {
      throw errors.privilege(`prv${PRIVILEGE_NAMES[privilege]}${model.schemaName}`, model.logicalName, model.objectTypeCode, caller.systemUserId);
    }
  }

  /** The child table and its navigation property behind a collection-valued navigation property. */
  collectionNav(model: TableModel, name: string): CollectionNav | undefined {
    for (const m of this.models.values()) {
      for (const n of m.navs.values()) {
        if (n.relationship.schemaName === name && n.relationship.referencedEntity === model.logicalName) {
          return { model: m, nav: n.name, column: n.column.logicalName };
        }
      }
    }
    return undefined;
  }

  /** The row a lookup column of `row` points at, when it points at one of `targets` that exists. */
  relatedRow(row: Row, column: string, targets: readonly string[]): { target: TableModel; related: Row } | undefined {
    const v = row.values[column];
    if (!isLookup(v) || !targets.includes(v.table)) return undefined;
    const target = this.models.get(v.table);
    const related = target === undefined ? undefined : this.store.table(target.logicalName)?.rows.get(v.id);
    return target === undefined || related === undefined ? undefined : { target, related };
  }
}

/** Key names in URLs use `_x_value` for lookup columns (use-alternate-key-reference-record). */
function lookupKeyColumn(name: string): string {
  const m = /^_(.+)_value$/.exec(name);
  return m?.[1] ?? name;
}

/** The body properties that can set a key column: the column, or the binds of its navs for lookups. */
export function keyBodyProperties(model: TableModel, column: string): string[] {
  const c = model.columns.get(column);
  if (!c || !isLookupType(c)) return [column];
  return (model.navsByColumn.get(column) ?? []).flatMap((n) => [`${n.name}@odata.bind`, n.name]);
}

function keyLiteralValue(model: TableModel, column: ColumnDefinition, part: KeyPart): Value {
  const lit: Literal = part.value;
  const bad = () => errors.invalidKey(model.logicalName);
  switch (column.type) {
    case "String":
    case "Memo":
      if (lit.kind !== "string") throw bad();
      return lit.value;
    case "Integer":
    case "BigInt":
    case "Decimal":
    case "Double":
    case "Money":
    case "Picklist":
      if (lit.kind !== "number") throw bad();
      return lit.value;
    case "DateTime": {
      if (lit.kind !== "datetime" && lit.kind !== "date") throw bad();
      if (column.dateTimeBehavior === "DateOnly") return lit.value.slice(0, 10);
      const n = normalizeDateTime(lit.value);
      if (n === undefined) throw errors.invalidDate();
      return n;
    }
    case "Lookup":
    case "Customer":
    case "Owner":
      if (lit.kind !== "guid") throw bad();
      return { id: lit.value, table: column.targets?.[0] ?? "" };
    case "Uniqueidentifier":
      if (lit.kind !== "guid") throw bad();
      return lit.value;
    default:
      throw bad();
  }
}
