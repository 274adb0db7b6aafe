// The rows a query matches (query-data-web-api, filter-rows, order-rows): `$filter` type-checked
// against the columns it names, lookup paths followed, `$orderby` then primary id, so paging over
// the result is stable.
import type { ColumnDefinition } from "./schema.js";
import { type TableModel, isLookupType } from "./model.js";
import { type Row, type TableStore, type Value, isLookup } from "./store.js";
import { errors } from "./errors.js";
import { type FilterNode, type Scalar, evaluate } from "./odata/filter.js";
import type { QueryOptions } from "./query.js";
import { edmType } from "./validate.js";
import type { Tables } from "./addressing.js";

/** Matching rows in $orderby order (then by primary id, so paging is stable). */
export function queryRows(tables: Tables, model: TableModel, q: QueryOptions): Row[] {
  const table = tables.tableStore(model);
  const filter = q.filter;
  if (filter) checkFilterTypes(filter, (p) => filterColumn(tables, model, p));
  for (const o of q.orderBy) readableColumn(model, o.property);
  let rows = (filter ? keyedCandidates(tables, model, filter) : undefined) ?? [...table.rows.values()];
  if (filter) rows = rows.filter((r) => evaluate(filter, (p) => pathScalar(tables, model, r, p), tables.collation.key));
  const order = q.orderBy;
  rows.sort((a, b) => {
    for (const o of order) {
      const c = compareScalars(scalar(model, a, o.property), scalar(model, b, o.property));
      if (c !== 0) return o.descending ? -c : c;
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return rows;
}

/**
 * The rows a filter can only match, read from the indexes as SQL Server would seek them instead of
 * scanning the table: the primary id or every column of an alternate key compared with `eq`, an
 * `In` over the primary id or a one-column text key, an `or` of such terms, or an `and` holding one.
 * The whole filter is still evaluated on these rows, so the answer is the scan's: a seek only has
 * to return every row the filter could match. Undefined: scan.
 */
function keyedCandidates(tables: Tables, model: TableModel, filter: FilterNode): Row[] | undefined {
  const found = seek(tables, model, filter);
  return found === undefined ? undefined : [...found.values()];
}

function seek(tables: Tables, model: TableModel, node: FilterNode): Map<string, Row> | undefined {
  if (node.kind === "or") {
    const left = seek(tables, model, node.left);
    const right = left === undefined ? undefined : seek(tables, model, node.right);
    if (left === undefined || right === undefined) return undefined;
    for (const [id, row] of right) left.set(id, row);
    return left;
  }
  const parts: FilterNode[] = [];
  flattenAnd(node, parts);
  let best: Map<string, Row> | undefined;
  for (const part of parts) {
    const rows = part.kind === "or" ? seek(tables, model, part) : seekTerm(tables, model, part);
    if (rows !== undefined && (best === undefined || rows.size < best.size)) best = rows;
  }
  return best ?? seekKeyEqualities(tables, model, parts);
}

function flattenAnd(node: FilterNode, out: FilterNode[]): void {
  if (node.kind === "and") {
    flattenAnd(node.left, out);
    flattenAnd(node.right, out);
  } else out.push(node);
}

/** A primary-id equality, or an `In` over the primary id or a one-column text alternate key. */
function seekTerm(tables: Tables, model: TableModel, node: FilterNode): Map<string, Row> | undefined {
  const table = tables.tableStore(model);
  const byId = (ids: readonly string[]): Map<string, Row> => rowsOf(table, ids.map((id) => id.toLowerCase()));
  if (node.kind === "compare" && node.op === "eq" && node.property === model.primaryId && node.literal.kind === "guid") {
    return byId([node.literal.value]);
  }
  if (node.kind !== "values" || node.name !== "In") return undefined;
  if (node.property === model.primaryId) return byId(node.values);
  const column = model.columns.get(node.property);
  // Text keys only: the index holds a number as its shortest text, which "5.0" would miss.
  if (column === undefined || (column.type !== "String" && column.type !== "Memo")) return undefined;
  const key = model.keys.find((k) => k.attributes.length === 1 && k.attributes[0] === node.property);
  if (key === undefined) return undefined;
  return rowsOf(
    table,
    node.values.map((v) => table.lookupByKey(key.logicalName, { [node.property]: v }, key.attributes)),
  );
}

/** The rows of these ids (undefined: no row), by id. */
function rowsOf(table: TableStore, ids: readonly (string | undefined)[]): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const id of ids) {
    const row = id === undefined ? undefined : table.rows.get(id);
    if (row !== undefined) out.set(row.id, row);
  }
  return out;
}

/** `eq` on every column of an alternate key (`a eq 'x' and b eq 5`): the one row with that key. */
function seekKeyEqualities(tables: Tables, model: TableModel, parts: readonly FilterNode[]): Map<string, Row> | undefined {
  const table = tables.tableStore(model);
  const values: Record<string, Value> = {};
  for (const p of parts) {
    if (p.kind !== "compare" || p.op !== "eq" || p.property.includes("/")) continue;
    const lit = p.literal;
    if (lit.kind === "string" || lit.kind === "number" || lit.kind === "guid") values[p.property] = lit.value;
  }
  const key = model.keys.find((k) =>
    k.attributes.every((a) => a in values && !isLookupType(model.columns.get(a) ?? { logicalName: a, type: "String" })),
  );
  if (key === undefined) return undefined;
  return rowsOf(table, [table.lookupByKey(key.logicalName, values, key.attributes)]);
}

/** The column behind a readable property name (`name`, `_parentcustomerid_value`). */
export function readableColumn(model: TableModel, property: string): ColumnDefinition {
  const m = /^_(.+)_value$/.exec(property);
  if (m?.[1] !== undefined) {
    const c = model.columns.get(m[1]);
    if (c && isLookupType(c)) return c;
  } else {
    const c = model.columns.get(property);
    if (c && !isLookupType(c)) return c;
  }
  throw errors.propertyNotFound(property, model.logicalName);
}

/**
 * filter-rows, "Filter using lookup column property values": `primarycontactid/fullname` follows
 * single-valued navigation properties to a column of the related table, any number of levels.
 */
function navStep(tables: Tables, model: TableModel, name: string): { column: string; target: TableModel } {
  const nav = model.navs.get(name);
  const column = nav?.column ?? model.columns.get(name);
  const targets = nav?.targets ?? column?.targets ?? [];
  const target = targets.length === 1 ? tables.models.get(targets[0] ?? "") : undefined;
  if (!column || !isLookupType(column) || !target) throw errors.propertyNotFound(name, model.logicalName);
  return { column: column.logicalName, target };
}

function filterColumn(tables: Tables, model: TableModel, path: string): ColumnDefinition {
  const steps = path.split("/");
  let m = model;
  for (const step of steps.slice(0, -1)) m = navStep(tables, m, step).target;
  return readableColumn(m, steps[steps.length - 1] ?? "");
}

function pathScalar(tables: Tables, model: TableModel, row: Row, path: string): Scalar {
  if (!path.includes("/")) return scalar(model, row, path);
  const steps = path.split("/");
  let m = model;
  let r: Row | undefined = row;
  for (const step of steps.slice(0, -1)) {
    const { column, target } = navStep(tables, m, step);
    const v: Value | undefined = r?.values[column];
    r = isLookup(v) && v.table === target.logicalName ? tables.store.table(target.logicalName)?.rows.get(v.id) : undefined;
    m = target;
    if (r === undefined) return null;
  }
  return scalar(m, r, steps[steps.length - 1] ?? "");
}

function scalar(model: TableModel, row: Row, property: string): Scalar {
  const c = readableColumn(model, property);
  const v = row.values[c.logicalName];
  if (v === undefined || v === null) return null;
  if (isLookup(v)) return v.id;
  // Int64 beyond 2^53 compares as the nearest double.
  return typeof v === "bigint" ? Number(v) : v;
}

const OPERATOR_KIND = { eq: "Equal", ne: "NotEqual", lt: "LessThan", le: "LessThanOrEqual", gt: "GreaterThan", ge: "GreaterThanOrEqual" } as const;

/** OData's type check of $filter: the literal must fit the property (ODataLib's messages). */
function checkFilterTypes(node: FilterNode, column: (p: string) => ColumnDefinition): void {
  switch (node.kind) {
    case "and":
    case "or":
      checkFilterTypes(node.left, column);
      checkFilterTypes(node.right, column);
      return;
    case "not":
      checkFilterTypes(node.operand, column);
      return;
    case "values":
      // filter-rows: the function's PropertyName must name a column; its values are converted.
      column(node.property);
      return;
    case "columns": {
      // filter-rows, "Column comparison": the column types must match.
      const left = edmType(column(node.property));
      const right = edmType(column(node.other));
      if (left !== right) {
        throw errors.badRequest(`A binary operator with incompatible types was detected. Found operand types '${left}' and '${right}' for operator kind '${OPERATOR_KIND[node.op]}'.`);
      }
      return;
    }
    case "function": {
      const c = column(node.property);
      if (edmType(c) !== "Edm.String" || node.literal.kind !== "string") {
        throw errors.badRequest(`No function signature for the function with name '${node.name}' matches the specified arguments. The function signatures considered are: ${node.name}(Edm.String Nullable=true, Edm.String Nullable=true).`);
      }
      return;
    }
    case "compare": {
      const c = column(node.property);
      const edm = edmType(c);
      const lit = node.literal.kind;
      const ok =
        lit === "null" ||
        (edm === "Edm.String" && lit === "string") ||
        ((edm === "Edm.Int32" || edm === "Edm.Int64" || edm === "Edm.Decimal" || edm === "Edm.Double") && lit === "number") ||
        (edm === "Edm.Boolean" && lit === "boolean") ||
        (edm === "Edm.Guid" && lit === "guid") ||
        ((edm === "Edm.Date" || edm === "Edm.DateTimeOffset") && (lit === "date" || lit === "datetime"));
      if (!ok) {
        const litType =
          lit === "string" ? "Edm.String" : lit === "number" ? "Edm.Int32" : lit === "boolean" ? "Edm.Boolean" : lit === "guid" ? "Edm.Guid" : lit === "date" ? "Edm.Date" : lit === "datetime" ? "Edm.DateTimeOffset" : "Edm.String";
        throw errors.badRequest(
          `A binary operator with incompatible types was detected. Found operand types '${edm}' and '${litType}' for operator kind '${OPERATOR_KIND[node.op]}'.`,
        );
      }
      return;
    }
  }
}

function compareScalars(a: Scalar, b: Scalar): number {
  // Nulls sort first ascending, as SQL Server orders them.
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === "string" && typeof b === "string") {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}
