// Reads of rows (retrieve-entity-using-web-api, query-data-web-api, join-tables, page-results,
// count-rows): one row, a collection page, `$count`, a navigation target, and the representation of
// a row (with its `$expand`) that writes return when asked for data.
import type { ServiceRequest, ServiceResponse } from "./types.js";
import type { ColumnDefinition } from "./schema.js";
import { type ManyToManySide, type TableModel, isLookupType } from "./model.js";
import type { Associations } from "./associations.js";
import { type LookupValue, type Row, type Value, isLookup } from "./store.js";
import { errors } from "./errors.js";
import { type Preferences, conditional, parsePrefer, parseQuery } from "./query.js";
import { json, noContent, plainText } from "./responses.js";
import {
  ASSOCIATED_NAV,
  FORMATTED_VALUE,
  LOOKUP_LOGICAL_NAME,
  TOTAL_RECORD_COUNT,
  TOTAL_RECORD_COUNT_EXCEEDED,
  annotationFilter,
} from "./annotations.js";
import type { CollectionNav, RowAddress, Tables } from "./addressing.js";
import { queryRows, readableColumn } from "./row-query.js";

/** Dataverse's default and maximum page size (query-data-web-api). */
export const MAX_PAGE_SIZE = 5000;

/** One `$expand` item, resolved against the table it expands from. */
interface Expansion {
  readonly name: string;
  readonly column: string;
  readonly targets: readonly string[];
  readonly ref: boolean;
  readonly select?: readonly ColumnDefinition[];
  readonly nested: readonly Expansion[];
  /** A collection-valued navigation property: the related table, how its rows relate, its own query options. */
  readonly collection?: RelatedCollection;
}

interface RelatedCollection {
  readonly model: TableModel;
  /** One-to-many: the related rows' lookup to the row. Many-to-many: the row's side of the relationship. */
  readonly via: { readonly lookup: string } | { readonly side: ManyToManySide };
  /** The related table's rows that match the expansion's $filter, in its $orderby: queried once per request. */
  readonly matched: readonly Row[];
  readonly top: number | undefined;
  /** Its options as the query string of `<nav>@odata.nextLink`. */
  readonly link: string;
}

export class Reads {
  constructor(
    private readonly tables: Tables,
    private readonly associations: Associations,
  ) {}

  retrieve(req: ServiceRequest, model: TableModel, address: RowAddress): ServiceResponse {
    this.tables.demand(req.caller, model, "read");
    const q = parseQuery(req.query);
    const select = this.checkSelect(model, q.select, q.other);
    const expand = this.checkExpand(model, q.other.get("$expand"), 0);
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    const prefs = parsePrefer(req.headers["prefer"]);
    // perform-conditional-operations-using-web-api: conditional retrieval answers 304 when unchanged,
    // but "if the query includes $expand it will never return 304", nor with odata.include-annotations.
    const mayAnswer304 = q.other.get("$expand") === undefined && prefs.includeAnnotations === undefined;
    if (mayAnswer304 && conditional(req.headers["if-none-match"]) === `W/"${row.version}"`) {
      return { status: 304, headers: { "odata-version": "4.0", etag: `W/"${row.version}"` } };
    }
    // web-api-conditional-operations-sample: "As in all record retrievals, the response includes an
    // ETag header that identifies the current version", equal to the body's @odata.etag.
    const response = this.entityResponse(req, model, row, select, expand, prefs);
    return { ...response, headers: { ...response.headers, etag: `W/"${row.version}"` } };
  }

  /** One row as a retrieve answers it: context URL, the selected columns, the expansions. */
  private entityResponse(
    req: ServiceRequest,
    model: TableModel,
    row: Row,
    select: readonly ColumnDefinition[] | undefined,
    expand: readonly Expansion[],
    prefs: Preferences,
  ): ServiceResponse {
    const body = {
      "@odata.context": contextUrl(req.serviceRoot, model, select, true, expand),
      ...this.represent(model, row, select, prefs),
      ...this.expanded(model, row, expand, req.serviceRoot, nestsCollection(expand)),
    };
    return json(200, body, prefs.includeAnnotations !== undefined ? { "preference-applied": `odata.include-annotations="${prefs.includeAnnotations}"` } : {});
  }

  /** `GET <set>`: one page of the matching rows, with `@odata.nextLink` when more follow. */
  list(req: ServiceRequest, model: TableModel): ServiceResponse {
    this.tables.demand(req.caller, model, "read");
    return this.page(req, model, undefined);
  }

  /**
   * retrieve-related-entities-query: `GET lists(id)/listcontact_association?$select=contactid` answers
   * the rows related through a many-to-many relationship as a collection of the other table, paged
   * like any collection.
   */
  relatedCollection(req: ServiceRequest, model: TableModel, address: RowAddress, side: ManyToManySide): ServiceResponse {
    const other = this.associations.otherModel(side);
    const row = this.parentRow(req, model, address, other);
    const ids = this.associations.related(side, row.id);
    return this.page(req, other, (r) => ids.has(r.id));
  }

  /**
   * retrieve-related-entities-query: `GET accounts(id)/contact_customer_accounts?$select=fullname`
   * answers the rows whose lookup points at this row (a one-to-many relationship), as a collection
   * of the child table with `$filter`, `$orderby`, `$top` and paging; it is also where an expanded
   * collection's `@odata.nextLink` leads (join-tables).
   */
  oneToMany(req: ServiceRequest, model: TableModel, address: RowAddress, nav: CollectionNav): ServiceResponse {
    const row = this.parentRow(req, model, address, nav.model);
    return this.page(req, nav.model, (r) => pointsAt(r, nav.column, model, row));
  }

  /** count-rows: `GET accounts(id)/contact_customer_accounts/$count`, the number as text/plain. */
  countOneToMany(req: ServiceRequest, model: TableModel, address: RowAddress, nav: CollectionNav): ServiceResponse {
    if (req.method !== "GET") throw errors.methodNotAllowed(req.method);
    const row = this.parentRow(req, model, address, nav.model);
    const rows = queryRows(this.tables, nav.model, parseQuery(req.query)).filter((r) => pointsAt(r, nav.column, model, row));
    return plainText(String(Math.min(rows.length, MAX_PAGE_SIZE)));
  }

  /** The row whose related rows (of `related`) are read, after checking read access to both tables. */
  private parentRow(req: ServiceRequest, model: TableModel, address: RowAddress, related: TableModel): Row {
    this.tables.demand(req.caller, model, "read");
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    this.tables.demand(req.caller, related, "read");
    return row;
  }

  /** One page of the rows of `model` that match the query (and `keep`, when given). */
  private page(req: ServiceRequest, model: TableModel, keep: ((row: Row) => boolean) | undefined): ServiceResponse {
    const q = parseQuery(req.query);
    const select = this.checkSelect(model, q.select, q.other);
    const expand = this.checkExpand(model, q.other.get("$expand"), 0);
    const prefs = parsePrefer(req.headers["prefer"]);
    const matched = queryRows(this.tables, model, q);
    const rows = keep === undefined ? matched : matched.filter(keep);
    // odata.maxpagesize=0 would page forever; Learn is silent on it, so it counts as not sent.
    const pageSize = Math.min(prefs.maxPageSize !== undefined && prefs.maxPageSize > 0 ? prefs.maxPageSize : MAX_PAGE_SIZE, MAX_PAGE_SIZE);
    const offset = q.skipToken !== undefined ? decodeSkipToken(q.skipToken) : 0;
    // page-results: "Don't use $top with the Prefer: odata.maxpagesize request header. If you include
    // both, $top is ignored."
    const paged = prefs.maxPageSize !== undefined && prefs.maxPageSize > 0;
    const limited = q.top !== undefined && !paged ? rows.slice(0, q.top) : rows;
    const page = limited.slice(offset, offset + pageSize);
    const body: Record<string, unknown> = { "@odata.context": contextUrl(req.serviceRoot, model, select, false, expand) };
    // Learn (query-data-web-api, count rows): the count is capped at 5,000.
    if (q.count) body["@odata.count"] = Math.min(rows.length, MAX_PAGE_SIZE);
    // count-rows: with these annotations asked for, the total is the capped count under
    // $count=true and -1 without it.
    const wants = annotationFilter(prefs.includeAnnotations);
    if (wants?.(TOTAL_RECORD_COUNT) === true) body[`@${TOTAL_RECORD_COUNT}`] = q.count ? Math.min(rows.length, MAX_PAGE_SIZE) : -1;
    if (wants?.(TOTAL_RECORD_COUNT_EXCEEDED) === true) body[`@${TOTAL_RECORD_COUNT_EXCEEDED}`] = q.count && rows.length > MAX_PAGE_SIZE;
    const bare = nestsCollection(expand);
    body["value"] = page.map((r) => ({ ...this.represent(model, r, select, prefs), ...this.expanded(model, r, expand, req.serviceRoot, bare) }));
    if (offset + pageSize < limited.length) {
      const params = req.query
        .split("&")
        .filter((p) => p !== "" && !p.startsWith("$skiptoken=") && !p.startsWith("%24skiptoken="));
      params.push(`$skiptoken=${encodeSkipToken(offset + pageSize)}`);
      body["@odata.nextLink"] = `${req.serviceRoot}${req.path}?${params.join("&")}`;
    }
    const applied: string[] = [];
    if (prefs.maxPageSize !== undefined && prefs.maxPageSize > 0) applied.push(`odata.maxpagesize=${prefs.maxPageSize}`);
    if (prefs.includeAnnotations !== undefined) applied.push(`odata.include-annotations="${prefs.includeAnnotations}"`);
    return json(200, body, applied.length > 0 ? { "preference-applied": applied.join(",") } : {});
  }

  /**
   * count-rows: `GET accounts/$count` answers just the number, as text/plain. Learn states the
   * 5,000 cap for `$count=true`; the emulator applies it here too.
   */
  countOnly(req: ServiceRequest, model: TableModel): ServiceResponse {
    if (req.method !== "GET") throw errors.methodNotAllowed(req.method);
    this.tables.demand(req.caller, model, "read");
    const q = parseQuery(req.query);
    const rows = queryRows(this.tables, model, q);
    return plainText(String(Math.min(rows.length, MAX_PAGE_SIZE)));
  }

  /**
   * retrieve-entity-using-web-api, "Retrieve navigation property values": `accounts(id)/primarycontactid
   * ?$select=fullname` answers the related row (context `contacts(fullname)/$entity`); a lookup that
   * points nowhere answers 204, as OData does for a null single-valued navigation property.
   */
  navigationTarget(req: ServiceRequest, model: TableModel, address: RowAddress, column: string, targets: readonly string[]): ServiceResponse {
    this.tables.demand(req.caller, model, "read");
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    const { target, related } = this.tables.relatedRow(row, column, targets) ?? {};
    if (!target || !related) return noContent();
    this.tables.demand(req.caller, target, "read");
    const q = parseQuery(req.query);
    const select = this.checkSelect(target, q.select, q.other);
    const expand = this.checkExpand(target, q.other.get("$expand"), 0);
    return this.entityResponse(req, target, related, select, expand, parsePrefer(req.headers["prefer"]));
  }

  /** A written row, as `Prefer: return=representation` asks for it (201 created, 200 updated). */
  representation(req: ServiceRequest, model: TableModel, row: Row, status: number, prefs: Preferences): ServiceResponse {
    const q = parseQuery(req.query);
    const select = this.checkSelect(model, q.select);
    // create-entity-web-api: a create with data returned may $expand; update-delete-entities-using-
    // web-api: an update ignores it.
    const expand = status === 201 ? this.checkExpand(model, q.other.get("$expand"), 0) : [];
    const body = {
      "@odata.context": contextUrl(req.serviceRoot, model, select, true, expand),
      ...this.represent(model, row, select, prefs),
      ...this.expanded(model, row, expand, req.serviceRoot, nestsCollection(expand)),
    };
    return json(status, body, { "preference-applied": "return=representation" });
  }

  private checkSelect(model: TableModel, select: readonly string[] | undefined, other?: ReadonlyMap<string, string>): readonly ColumnDefinition[] | undefined {
    for (const name of other?.keys() ?? []) {
      // query-data-web-api: Dataverse doesn't support $skip; page with @odata.nextLink instead.
      if (name === "$skip") throw errors.badRequest("The query parameter $skip is not supported");
      if (name === "$apply" || name === "fetchXml" || name === "$search") {
        throw errors.notEmulated(`The query option '${name}' is not supported by the emulator.`);
      }
    }
    if (select === undefined) return undefined;
    return select.map((p) => readableColumn(model, p));
  }

  /** A row as the Web API returns it. */
  private represent(model: TableModel, row: Row, select: readonly ColumnDefinition[] | undefined, prefs: Preferences): Record<string, unknown> {
    const out: Record<string, unknown> = { "@odata.etag": `W/"${row.version}"` };
    const wants = annotationFilter(prefs.includeAnnotations);
    const columns = select ?? model.columnList;
    for (const c of columns) {
      const v = row.values[c.logicalName];
      if (isLookupType(c)) {
        const name = `_${c.logicalName}_value`;
        if (wants !== undefined && isLookup(v)) {
          const nav = (model.navsByColumn.get(c.logicalName) ?? []).find((n) => n.targets.includes(v.table));
          if (nav && wants(ASSOCIATED_NAV)) out[`${name}@${ASSOCIATED_NAV}`] = nav.name;
          if (wants(LOOKUP_LOGICAL_NAME)) out[`${name}@${LOOKUP_LOGICAL_NAME}`] = v.table;
          const label = wants(FORMATTED_VALUE) ? this.primaryName(v) : undefined;
          if (label !== undefined) out[`${name}@${FORMATTED_VALUE}`] = label;
        }
        out[name] = isLookup(v) ? v.id : null;
        continue;
      }
      if (wants?.(FORMATTED_VALUE) === true && v !== undefined && v !== null) {
        const f = formatted(c, v);
        if (f !== undefined) out[`${c.logicalName}@${FORMATTED_VALUE}`] = f;
      }
      out[c.logicalName] = v === undefined ? null : v;
    }
    out[model.primaryId] = row.id;
    return out;
  }

  private primaryName(ref: LookupValue): string | undefined {
    const m = this.tables.models.get(ref.table);
    const nameCol = m?.def.primaryNameAttribute;
    if (!m || nameCol === undefined) return undefined;
    const v = this.tables.store.table(ref.table)?.rows.get(ref.id)?.values[nameCol];
    return typeof v === "string" ? v : undefined;
  }

  // ---- $expand (query/join-tables) ------------------------------------------------------------

  /**
   * `$expand=primarycontactid($select=fullname;$expand=createdby($select=fullname)),ownerid/$ref`:
   * single-valued navigation properties only, nested up to Learn's 15 options. Expanding a
   * collection-valued navigation property is not emulated (501).
   */
  private checkExpand(model: TableModel, text: string | undefined, depth: number): readonly Expansion[] {
    if (text === undefined || text.trim() === "") return [];
    const out: Expansion[] = [];
    for (const item of splitTopLevel(text, ",")) {
      const open = item.indexOf("(");
      const head = (open < 0 ? item : item.slice(0, open)).trim();
      const ref = head.endsWith("/$ref");
      const name = ref ? head.slice(0, -"/$ref".length) : head;
      const nav = model.navs.get(name);
      const column = nav?.column ?? model.columns.get(name);
      const options = new Map<string, string>();
      if (open >= 0) {
        for (const part of splitTopLevel(item.slice(open + 1, item.lastIndexOf(")")), ";")) {
          const eq = part.indexOf("=");
          if (eq > 0) options.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
        }
      }
      if (!column || !isLookupType(column)) {
        const oneToMany = this.tables.collectionNav(model, name);
        const side = model.manyToMany.get(name);
        if (oneToMany === undefined && side === undefined) throw errors.propertyNotFound(name, model.logicalName);
        // join-tables, "Return references": /$ref is for single-valued navigation properties only.
        if (ref) throw errors.badRequest("Expand with $ref is only supported on lookup type navigation property.", "0x80060888");
        if (oneToMany !== undefined) out.push(this.collectionExpansion(name, oneToMany.model, { lookup: oneToMany.column }, options, depth));
        else if (side !== undefined) out.push(this.collectionExpansion(name, this.associations.otherModel(side), { side }, options, depth));
        continue;
      }
      const targets = nav?.targets ?? column.targets ?? [];
      const target = targets.map((t) => this.tables.models.get(t)).find((m) => m !== undefined);
      let select: readonly ColumnDefinition[] | undefined;
      let nested: readonly Expansion[] = [];
      if (target) {
        const sel = options.get("$select");
        if (sel !== undefined) select = sel.split(",").map((p) => readableColumn(target, p.trim()));
        if (depth + 1 >= 15) throw errors.badRequest("The request includes more than 15 $expand options.");
        nested = this.checkExpand(target, options.get("$expand"), depth + 1);
      }
      out.push({ name, column: column.logicalName, targets, ref, ...(select === undefined ? {} : { select }), nested });
    }
    return out;
  }

  /**
   * join-tables, "Expand collection-valued navigation properties": a one-to-many navigation property
   * takes `$select`, `$filter`, `$orderby`, `$top` and a nested `$expand`, but not `$orderby` or `$top`
   * beside a nested `$expand` (0x80060888); `$skip`, `$count`, `$search` and `$levels` are not supported.
   */
  private collectionExpansion(name: string, related: TableModel, via: RelatedCollection["via"], options: ReadonlyMap<string, string>, depth: number): Expansion {
    for (const option of options.keys()) {
      if (!["$select", "$filter", "$orderby", "$top", "$expand"].includes(option)) {
        throw errors.badRequest(`The query option '${option}' is not supported in the $expand of '${name}'.`);
      }
    }
    const nestedText = options.get("$expand");
    if (nestedText !== undefined && (options.has("$orderby") || options.has("$top"))) {
      throw errors.badRequest("Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.", "0x80060888");
    }
    const raw = [...options].map(([o, v]) => `${o}=${encodeURIComponent(v)}`).join("&");
    const query = parseQuery(raw);
    // Queried once here, for every row that expands it; a mistake in the options is a 400 for the whole request.
    const matched = queryRows(this.tables, related, query);
    const select = query.select === undefined ? undefined : query.select.map((p) => readableColumn(related, p));
    if (depth + 1 >= 15) throw errors.badRequest("The request includes more than 15 $expand options.");
    const nested = this.checkExpand(related, nestedText, depth + 1);
    // The expanded collection's own URL, with these options and no paging ("<property>@odata.nextLink").
    const link = [...options].map(([o, v]) => `${o}=${v}`).join("&");
    const column = "lookup" in via ? via.lookup : "";
    return { name, column, targets: [related.logicalName], ref: false, ...(select === undefined ? {} : { select }), nested, collection: { model: related, via, matched, top: query.top, link } };
  }

  /** The expanded navigation properties of one row: the related row or rows, a reference, or null. */
  private expanded(model: TableModel, row: Row, expand: readonly Expansion[], root: string, nested: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const e of expand) {
      if (e.collection !== undefined) {
        // Up to 5,000 related rows, unpaged; each carries its lookup back to this row, as Learn's
        // examples show (`_parentcustomerid_value` under `contact_customer_accounts($select=fullname)`).
        const { model: related, via, matched, top, link } = e.collection;
        const ids = "side" in via ? this.associations.related(via.side, row.id) : undefined;
        const mine = matched.filter((r) => (ids !== undefined ? ids.has(r.id) : "lookup" in via && pointsAt(r, via.lookup, model, row)));
        const rows = mine.slice(0, Math.min(top ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE));
        // With a nested $expand anywhere in the query, Learn's example shows the rows bare: no etag, no lookup back.
        const back = nested || !("lookup" in via) ? undefined : related.columns.get(via.lookup);
        const select = e.select === undefined || back === undefined || e.select.includes(back) ? e.select : [...e.select, back];
        out[e.name] = rows.map((r) => {
          const fields = this.represent(related, r, select, { returnRepresentation: false });
          if (nested) delete fields["@odata.etag"];
          return { ...fields, ...this.expanded(related, r, e.nested, root, nested) };
        });
        out[`${e.name}@odata.nextLink`] = `${root}${model.entitySetName}(${row.id})/${e.name}${link === "" ? "" : `?${link}`}`;
        continue;
      }
      const { target, related } = this.tables.relatedRow(row, e.column, e.targets) ?? {};
      if (!target || !related) {
        out[e.name] = null;
        continue;
      }
      if (e.ref) {
        // join-tables, "Return references": the lookup value comes with the reference.
        out[`_${e.column}_value`] = related.id;
        out[e.name] = { "@odata.id": `${root}${target.entitySetName}(${related.id})` };
        continue;
      }
      // Learn's examples show expanded single-valued rows without @odata.etag.
      const { "@odata.etag": _etag, ...fields } = this.represent(target, related, e.select, { returnRepresentation: false });
      void _etag;
      out[e.name] = { ...fields, ...this.expanded(target, related, e.nested, root, nested) };
    }
    return out;
  }
}

/** Splits on `sep` outside parentheses and quotes. */
function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "'") quoted = !quoted;
    else if (!quoted && ch === "(") depth++;
    else if (!quoted && ch === ")") depth--;
    else if (!quoted && depth === 0 && ch === sep) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out.filter((p) => p !== "");
}

function selectList(select: readonly ColumnDefinition[] | undefined): string[] {
  return (select ?? []).map((c) => (isLookupType(c) ? `_${c.logicalName}_value` : c.logicalName));
}

function expandContext(expand: readonly Expansion[]): string[] {
  return expand.map((e) => (e.ref ? `${e.name},${e.name}/$ref()` : `${e.name}(${[...selectList(e.select), ...expandContext(e.nested)].join(",")})`));
}

/** `$metadata#accounts(name,primarycontactid(fullname))`, as join-tables shows it. */
function contextUrl(root: string, model: TableModel, select: readonly ColumnDefinition[] | undefined, entity: boolean, expand: readonly Expansion[] = []): string {
  const parts = [...selectList(select), ...expandContext(expand)];
  const sel = parts.length > 0 ? `(${parts.join(",")})` : "";
  return `${root}$metadata#${model.entitySetName}${sel}${entity ? "/$entity" : ""}`;
}

function formatted(c: ColumnDefinition, v: Value): string | undefined {
  if (c.type === "Picklist" || c.type === "State" || c.type === "Status") {
    return c.options?.find((o) => o.value === v)?.label;
  }
  if (c.type === "MultiSelectPicklist" && typeof v === "string") {
    return v
      .split(",")
      .map((x) => c.options?.find((o) => o.value === Number(x))?.label ?? x)
      .join("; ");
  }
  if (c.type === "Boolean") return v === true ? "Yes" : "No";
  return undefined;
}

// Opaque to clients; Dataverse's own is an XML paging cookie.
function encodeSkipToken(offset: number): string {
  return encodeURIComponent(Buffer.from(`page:${offset}`).toString("base64url"));
}

function decodeSkipToken(token: string): number {
  const text = Buffer.from(token, "base64url").toString("utf8");
  const m = /^page:(\d+)$/.exec(text);
  if (!m) throw errors.invalidSkipToken();
  return Number(m[1]);
}

/** Whether the lookup `column` of `child` points at `parent`, a row of `model`. */
function pointsAt(child: Row, column: string, model: TableModel, parent: Row): boolean {
  const v = child.values[column];
  return isLookup(v) && v.id === parent.id && v.table === model.logicalName;
}

/** Whether the query expands a collection and nests an $expand somewhere (join-tables: expanded rows then come bare). */
function nestsCollection(expand: readonly Expansion[]): boolean {
  return expand.some((e) => e.collection !== undefined) && expand.some((e) => e.nested.length > 0);
}
