// The in-memory Dataverse behind the emulator: routing of Web API operations to rows, metadata
// and bulk actions. Behaviour follows Learn (create-entity-web-api, update-delete-entities-using-
// web-api, use-upsert-insert-update-record, use-alternate-key-reference-record,
// perform-conditional-operations-using-web-api, query-data-web-api); see the reference note.
import { randomUUID } from "node:crypto";
import type { Caller, DataService, Privilege, ServiceRequest, ServiceResponse } from "./types.js";
import type { Environment } from "./environment.js";
import type { ColumnDefinition, KeyDefinition } from "./schema.js";
import { type TableModel, compileTables, keySignature } from "./model.js";
import { type LookupValue, type Row, Store, type TableStore, type Value, isLookup } from "./store.js";
import { DataverseError, errorBody, errors } from "./errors.js";
import { type PathSegment, assertUsableKeyValues, parsePath } from "./odata/path.js";
import type { KeyPart, Literal } from "./odata/literal.js";
import { type FilterNode, type Scalar, evaluate } from "./odata/filter.js";
import { type Preferences, type QueryOptions, parsePrefer, parseQuery } from "./query.js";
import { edmType, invalidDate, normalizeDateTime, validateValue } from "./validate.js";
import { handleMetadata, handleSdkMessageFilters, handleSdkMessages } from "./metadata.js";
import { handleBulk } from "./bulk.js";
import { csdlDocument } from "./csdl.js";
import { writeRuleRefusal } from "./write-rules.js";

const JSON_HEADERS = {
  "content-type": "application/json; odata.metadata=minimal",
  "odata-version": "4.0",
} as const;

/** Dataverse's default and maximum page size (query-data-web-api). */
export const MAX_PAGE_SIZE = 5000;

/** How a request names one row. */
export type RowAddress =
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "key"; readonly key: KeyDefinition; readonly values: Readonly<Record<string, Value>> };

/** Per-request context passed down to writes. */
export interface WriteContext {
  readonly caller: Caller;
  readonly serviceRoot: string;
  readonly contentIdRefs?: ReadonlyMap<string, string>;
  readonly now: string;
  /** The request's headers (names lower-cased), for write-rules.ts. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type WriteMode = "create" | "update" | "upsert";

export interface WriteResult {
  readonly row: Row;
  readonly created: boolean;
}

const PRIVILEGE_NAMES: Record<Privilege, string> = {
  create: "Create",
  read: "Read",
  write: "Write",
  delete: "Delete",
  append: "Append",
  appendto: "AppendTo",
};

/** Levels of related rows one deep insert may nest (the emulator's bound; Learn states none). */
const MAX_DEEP_INSERT_DEPTH = 10;

export class DataverseService implements DataService {
  #deepInsertDepth = 0;
  readonly models: ReadonlyMap<string, TableModel>;
  readonly bySet: ReadonlyMap<string, TableModel>;
  readonly store: Store;

  constructor(
    readonly env: Environment,
    readonly now: () => Date,
  ) {
    this.models = compileTables(env.tables);
    this.bySet = new Map([...this.models.values()].map((m) => [m.entitySetName, m]));
    this.store = new Store(this.models.values());
    this.seed();
  }

  rowCount(table: string): number {
    return this.store.table(table)?.rows.size ?? 0;
  }

  transaction(fn: () => boolean): void {
    this.store.atomically(fn, (ok) => ok === true);
  }

  handle(request: ServiceRequest): ServiceResponse {
    try {
      // Every operation is atomic on its own (a bulk action rolls back as a whole).
      const response = this.store.atomically(
        () => this.route(request),
        (r) => r.status < 400,
      );
      // One row touched, for the execution-time model; bulk actions set their own.
      if (response.cost === undefined && response.status < 300 && request.method !== "GET") {
        return { ...response, cost: { records: 1, bulk: false } };
      }
      return response;
    } catch (cause) {
      if (cause instanceof DataverseError) return errorResponse(cause, parsePrefer(request.headers["prefer"]).includeAnnotations);
      // A bug in the emulator must still answer like a server, never crash or hang the socket.
      return errorResponse(new DataverseError(500, "0x80040216", "An unexpected error occurred."));
    }
  }

  // ---- routing -------------------------------------------------------------------------------

  private route(req: ServiceRequest): ServiceResponse {
    const segments = parsePath(req.path);
    const first = segments[0];
    if (!first) return this.serviceDocument(req);
    if (first.name === "WhoAmI") return this.whoAmI(req, segments);
    if (first.name === "$metadata" && segments.length === 1 && first.keys === undefined) {
      if (req.method !== "GET") throw new DataverseError(405, "0x80060888", `The HTTP method '${req.method}' is not allowed for this resource.`);
      return { status: 200, headers: { "content-type": "application/xml", "odata-version": "4.0" }, body: csdlDocument(this.models) };
    }
    if (first.name === "EntityDefinitions") return handleMetadata(this, req, segments);
    if (first.name === "sdkmessages" && !this.bySet.has("sdkmessages")) return handleSdkMessages(req, segments);
    if (first.name === "sdkmessagefilters" && !this.bySet.has("sdkmessagefilters")) {
      return handleSdkMessageFilters(this, req, segments);
    }
    const model = this.bySet.get(first.name);
    if (!model) throw errors.resourceNotFound(first.name);
    const second = segments[1];
    if (first.keys === undefined) {
      if (second === undefined) return this.collection(req, model);
      if (second.name === "$count" && segments.length === 2 && second.keys === undefined) return this.countOnly(req, model);
      if (segments.length === 2 && second.name.startsWith("Microsoft.Dynamics.CRM.")) {
        if (req.method !== "POST") throw errors.noHttpResource(req.serviceRoot + req.path);
        return handleBulk(this, req, model, second.name.slice("Microsoft.Dynamics.CRM.".length));
      }
      throw errors.resourceNotFound(second.name);
    }
    const address = this.addressFromSegment(model, first, true);
    if (segments.length === 3 && second !== undefined && segments[2]?.name === "$ref") {
      if (!model.navs.has(second.name) && this.collectionNav(model, second.name)) return this.collectionReference(req, model, address, second);
      return this.reference(req, model, address, second.name);
    }
    if (segments.length === 3 && second !== undefined && segments[2]?.name === "$value" && req.method === "GET") {
      return this.rawValue(req, model, address, second.name);
    }
    if (segments.length > 2) throw errors.resourceNotFound(segments[2]?.name ?? "");
    if (second !== undefined) return this.property(req, model, address, second.name);
    switch (req.method) {
      case "GET":
        return this.retrieve(req, model, address);
      case "PATCH":
        return this.patch(req, model, address);
      case "DELETE":
        return this.remove(req, model, address);
      default:
        throw new DataverseError(405, "0x80060888", `The HTTP method '${req.method}' is not allowed for this resource.`);
    }
  }

  private serviceDocument(req: ServiceRequest): ServiceResponse {
    const value = [...this.models.values()].map((m) => ({ name: m.entitySetName, kind: "EntitySet", url: m.entitySetName }));
    return json(200, { "@odata.context": `${req.serviceRoot}$metadata`, value });
  }

  private whoAmI(req: ServiceRequest, segments: readonly PathSegment[]): ServiceResponse {
    const first = segments[0];
    if (req.method !== "GET" || segments.length > 1 || (first?.keys !== undefined && first.keys.length > 0)) {
      throw errors.noHttpResource(req.serviceRoot + req.path);
    }
    return json(200, {
      "@odata.context": `${req.serviceRoot}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: req.caller.businessUnitId,
      UserId: req.caller.systemUserId,
      OrganizationId: req.caller.organizationId,
    });
  }

  // ---- addressing ----------------------------------------------------------------------------

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
  resolveRowUrl(url: string, ctx: WriteContext, forSet?: string): { model: TableModel; address: RowAddress } {
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
    if (!t) throw new DataverseError(500, "0x80040216", "An unexpected error occurred.");
    return t;
  }

  demand(caller: Caller, model: TableModel, privilege: Privilege): void {
    if (!caller.can(model.logicalName, privilege)) {
      throw errors.privilege(`prv${PRIVILEGE_NAMES[privilege]}${model.schemaName}`, model.logicalName, model.objectTypeCode, caller.systemUserId);
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  private retrieve(req: ServiceRequest, model: TableModel, address: RowAddress): ServiceResponse {
    this.demand(req.caller, model, "read");
    const q = parseQuery(req.query);
    const select = this.checkSelect(model, q.select, q.other);
    const expand = this.checkExpand(model, q.other.get("$expand"), 0);
    const row = this.findRow(model, address);
    if (!row) throw this.notFound(model, address);
    const prefs = parsePrefer(req.headers["prefer"]);
    // perform-conditional-operations-using-web-api: conditional retrieval answers 304 when unchanged,
    // but "if the query includes $expand it will never return 304", nor with odata.include-annotations.
    const mayAnswer304 = q.other.get("$expand") === undefined && prefs.includeAnnotations === undefined;
    if (mayAnswer304 && conditional(req.headers["if-none-match"]) === `W/"${row.version}"`) {
      return { status: 304, headers: { "odata-version": "4.0", etag: `W/"${row.version}"` } };
    }
    return this.entityResponse(req, model, row, select, expand, prefs);
  }

  /** One row as a retrieve answers it: context URL, the selected columns, the expansions. */
  private entityResponse(
    req: ServiceRequest,
    model: TableModel,
    row: Row,
    select: readonly ColumnDefinition[] | undefined,
    expand: readonly Expansion[],
    prefs: ReturnType<typeof parsePrefer>,
  ): ServiceResponse {
    const body = {
      "@odata.context": contextUrl(req.serviceRoot, model, select, true, expand),
      ...this.represent(model, row, select, prefs),
      ...this.expanded(row, expand, req.serviceRoot),
    };
    return json(200, body, prefs.includeAnnotations !== undefined ? { "preference-applied": `odata.include-annotations="${prefs.includeAnnotations}"` } : {});
  }

  private collection(req: ServiceRequest, model: TableModel): ServiceResponse {
    if (req.method === "POST") return this.create(req, model);
    if (req.method !== "GET") {
      throw new DataverseError(405, "0x80060888", `The HTTP method '${req.method}' is not allowed for this resource.`);
    }
    this.demand(req.caller, model, "read");
    const q = parseQuery(req.query);
    const select = this.checkSelect(model, q.select, q.other);
    const expand = this.checkExpand(model, q.other.get("$expand"), 0);
    const prefs = parsePrefer(req.headers["prefer"]);
    const rows = this.query(model, q);
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
    body["value"] = page.map((r) => ({ ...this.represent(model, r, select, prefs), ...this.expanded(r, expand, req.serviceRoot) }));
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
  private countOnly(req: ServiceRequest, model: TableModel): ServiceResponse {
    if (req.method !== "GET") {
      throw new DataverseError(405, "0x80060888", `The HTTP method '${req.method}' is not allowed for this resource.`);
    }
    this.demand(req.caller, model, "read");
    const q = parseQuery(req.query);
    const rows = this.query(model, q);
    return { status: 200, headers: { "content-type": "text/plain", "odata-version": "4.0" }, body: String(Math.min(rows.length, MAX_PAGE_SIZE)) };
  }

  /** Matching rows in $orderby order (then by primary id, so paging is stable). */
  query(model: TableModel, q: QueryOptions): Row[] {
    const table = this.tableStore(model);
    const filter = q.filter;
    if (filter) checkFilterTypes(filter, (p) => this.filterColumn(model, p));
    for (const o of q.orderBy) this.readableColumn(model, o.property);
    let rows = [...table.rows.values()];
    if (filter) rows = rows.filter((r) => evaluate(filter, (p) => this.pathScalar(model, r, p)));
    const order = q.orderBy;
    rows.sort((a, b) => {
      for (const o of order) {
        const c = compareScalars(this.scalar(model, a, o.property), this.scalar(model, b, o.property));
        if (c !== 0) return o.descending ? -c : c;
      }
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    return rows;
  }

  /**
   * filter-rows, "Filter using lookup column property values": `primarycontactid/fullname` follows
   * single-valued navigation properties to a column of the related table, any number of levels.
   */
  private navStep(model: TableModel, name: string): { column: string; target: TableModel } {
    const nav = model.navs.get(name);
    const column = nav?.column ?? model.columns.get(name);
    const targets = nav?.targets ?? column?.targets ?? [];
    const target = targets.length === 1 ? this.models.get(targets[0] ?? "") : undefined;
    if (!column || !isLookupType(column) || !target) throw errors.propertyNotFound(name, model.logicalName);
    return { column: column.logicalName, target };
  }

  private filterColumn(model: TableModel, path: string): ColumnDefinition {
    const steps = path.split("/");
    let m = model;
    for (const step of steps.slice(0, -1)) m = this.navStep(m, step).target;
    return this.readableColumn(m, steps[steps.length - 1] ?? "");
  }

  private pathScalar(model: TableModel, row: Row, path: string): Scalar {
    if (!path.includes("/")) return this.scalar(model, row, path);
    const steps = path.split("/");
    let m = model;
    let r: Row | undefined = row;
    for (const step of steps.slice(0, -1)) {
      const { column, target } = this.navStep(m, step);
      const v: Value | undefined = r?.values[column];
      r = isLookup(v) && v.table === target.logicalName ? this.store.table(target.logicalName)?.rows.get(v.id) : undefined;
      m = target;
      if (r === undefined) return null;
    }
    return this.scalar(m, r, steps[steps.length - 1] ?? "");
  }

  /** The column behind a readable property name (`name`, `_parentcustomerid_value`). */
  readableColumn(model: TableModel, property: string): ColumnDefinition {
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

  private checkSelect(model: TableModel, select: readonly string[] | undefined, other?: ReadonlyMap<string, string>): readonly ColumnDefinition[] | undefined {
    for (const name of other?.keys() ?? []) {
      // query-data-web-api: Dataverse doesn't support $skip; page with @odata.nextLink instead.
      if (name === "$skip") throw errors.badRequest("The query parameter $skip is not supported");
      if (name === "$apply" || name === "fetchXml" || name === "$search") {
        throw new DataverseError(501, "0x80040216", `The query option '${name}' is not supported by the emulator.`);
      }
    }
    if (select === undefined) return undefined;
    return select.map((p) => this.readableColumn(model, p));
  }

  private scalar(model: TableModel, row: Row, property: string): Scalar {
    const c = this.readableColumn(model, property);
    const v = row.values[c.logicalName];
    if (v === undefined || v === null) return null;
    if (isLookup(v)) return v.id;
    return v;
  }

  /** A row as the Web API returns it. */
  represent(model: TableModel, row: Row, select: readonly ColumnDefinition[] | undefined, prefs: Preferences): Record<string, unknown> {
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
    const m = this.models.get(ref.table);
    const nameCol = m?.def.primaryNameAttribute;
    if (!m || nameCol === undefined) return undefined;
    const v = this.store.table(ref.table)?.rows.get(ref.id)?.values[nameCol];
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
      if (!column || !isLookupType(column)) {
        const collection = [...this.models.values()].some((m) => [...m.navs.values()].some((n) => n.relationship.schemaName === name && n.relationship.referencedEntity === model.logicalName));
        if (collection) throw new DataverseError(501, "0x80040216", `Expanding the collection-valued navigation property '${name}' is not supported by the emulator.`);
        throw errors.propertyNotFound(name, model.logicalName);
      }
      const targets = nav?.targets ?? column.targets ?? [];
      const options = new Map<string, string>();
      if (open >= 0) {
        for (const part of splitTopLevel(item.slice(open + 1, item.lastIndexOf(")")), ";")) {
          const eq = part.indexOf("=");
          if (eq > 0) options.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
        }
      }
      const target = targets.map((t) => this.models.get(t)).find((m) => m !== undefined);
      let select: readonly ColumnDefinition[] | undefined;
      let nested: readonly Expansion[] = [];
      if (target) {
        const sel = options.get("$select");
        if (sel !== undefined) select = sel.split(",").map((p) => this.readableColumn(target, p.trim()));
        if (depth + 1 >= 15) throw errors.badRequest("The request includes more than 15 $expand options.");
        nested = this.checkExpand(target, options.get("$expand"), depth + 1);
      }
      out.push({ name, column: column.logicalName, targets, ref, ...(select === undefined ? {} : { select }), nested });
    }
    return out;
  }

  /** The row a lookup column of `row` points at, when it points at one of `targets` that exists. */
  private relatedRow(row: Row, column: string, targets: readonly string[]): { target: TableModel; related: Row } | undefined {
    const v = row.values[column];
    if (!isLookup(v) || !targets.includes(v.table)) return undefined;
    const target = this.models.get(v.table);
    const related = target === undefined ? undefined : this.store.table(target.logicalName)?.rows.get(v.id);
    return target === undefined || related === undefined ? undefined : { target, related };
  }

  /** The expanded navigation properties of one row: the related row, a reference, or null. */
  private expanded(row: Row, expand: readonly Expansion[], root: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const e of expand) {
      const { target, related } = this.relatedRow(row, e.column, e.targets) ?? {};
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
      out[e.name] = { ...fields, ...this.expanded(related, e.nested, root) };
    }
    return out;
  }

  // ---- single-column operations --------------------------------------------------------------

  private property(req: ServiceRequest, model: TableModel, address: RowAddress, name: string): ServiceResponse {
    if (req.method === "GET") {
      const nav = model.navs.get(name);
      if (nav !== undefined) return this.navigationTarget(req, model, address, nav.column.logicalName, nav.targets);
      if (this.collectionNav(model, name)) {
        throw new DataverseError(501, "0x80040216", `Reading the collection-valued navigation property '${name}' is not supported by the emulator.`);
      }
    }
    const column = model.columns.get(name);
    if (!column || isLookupType(column)) throw errors.resourceNotFound(name);
    const row = this.findRow(model, address);
    if (req.method === "GET") {
      this.demand(req.caller, model, "read");
      if (!row) throw this.notFound(model, address);
      const v = row.values[name];
      if (v === undefined || v === null) return { status: 204, headers: { "odata-version": "4.0" } };
      return json(200, { "@odata.context": `${req.serviceRoot}$metadata#${model.entitySetName}(${row.id})/${name}`, value: v });
    }
    if (req.method !== "PUT" && req.method !== "DELETE") {
      throw new DataverseError(405, "0x80060888", `The HTTP method '${req.method}' is not allowed for this resource.`);
    }
    if (!row) throw this.notFound(model, address);
    let value: unknown = null;
    if (req.method === "PUT") {
      const body = parseBody(req.body, model);
      if (!("value" in body)) throw errors.payload(model.entitySetName, "The property 'value' is required.");
      value = body["value"];
    }
    this.write(model, { kind: "id", id: row.id }, { [name]: value }, "update", this.context(req));
    return { status: 204, headers: { "odata-version": "4.0" } };
  }

  /**
   * retrieve-entity-using-web-api, "Retrieve navigation property values": `accounts(id)/primarycontactid
   * ?$select=fullname` answers the related row (context `contacts(fullname)/$entity`); a lookup that
   * points nowhere answers 204, as OData does for a null single-valued navigation property.
   */
  private navigationTarget(req: ServiceRequest, model: TableModel, address: RowAddress, column: string, targets: readonly string[]): ServiceResponse {
    this.demand(req.caller, model, "read");
    const row = this.findRow(model, address);
    if (!row) throw this.notFound(model, address);
    const { target, related } = this.relatedRow(row, column, targets) ?? {};
    if (!target || !related) return { status: 204, headers: { "odata-version": "4.0" } };
    this.demand(req.caller, target, "read");
    const q = parseQuery(req.query);
    const select = this.checkSelect(target, q.select, q.other);
    const expand = this.checkExpand(target, q.other.get("$expand"), 0);
    return this.entityResponse(req, target, related, select, expand, parsePrefer(req.headers["prefer"]));
  }

  /**
   * retrieve-entity-using-web-api, "Retrieve a single property value": `<set>(id)/name/$value` is the
   * raw value as text/plain; a null value answers 204 as the JSON form does.
   */
  private rawValue(req: ServiceRequest, model: TableModel, address: RowAddress, name: string): ServiceResponse {
    const column = model.columns.get(name);
    if (!column || isLookupType(column)) throw errors.resourceNotFound(name);
    this.demand(req.caller, model, "read");
    const row = this.findRow(model, address);
    if (!row) throw this.notFound(model, address);
    const v = row.values[name];
    if (v === undefined || v === null || isLookup(v)) return { status: 204, headers: { "odata-version": "4.0" } };
    return { status: 200, headers: { "content-type": "text/plain", "odata-version": "4.0" }, body: String(v) };
  }

  /**
   * associate-disassociate-entities-using-web-api: `PUT <set>(id)/<nav>/$ref {"@odata.id": url}` sets a
   * single-valued navigation property, `DELETE <set>(id)/<nav>/$ref` clears it.
   */
  private reference(req: ServiceRequest, model: TableModel, address: RowAddress, navName: string): ServiceResponse {
    const nav = model.navs.get(navName);
    if (!nav) throw errors.resourceNotFound(navName);
    const row = this.findRow(model, address);
    if (!row) throw this.notFound(model, address);
    let body: Record<string, unknown>;
    if (req.method === "DELETE") {
      body = { [navName]: null };
    } else if (req.method === "PUT") {
      const parsed = parseBody(req.body, model);
      const target = parsed["@odata.id"];
      if (typeof target !== "string") throw errors.payload(model.entitySetName, "The '@odata.id' of the reference is missing.");
      body = { [`${navName}@odata.bind`]: target };
    } else {
      throw new DataverseError(405, "0x80060888", `The HTTP method '${req.method}' is not allowed for this resource.`);
    }
    this.write(model, { kind: "id", id: row.id }, body, "update", this.context(req));
    return { status: 204, headers: { "odata-version": "4.0" } };
  }

  /**
   * associate-disassociate-entities-using-web-api on a one-to-many relationship:
   * `POST accounts(id)/opportunity_customer_accounts/$ref {"@odata.id": "…/opportunities(id)"}` points
   * the child's lookup at this row; `DELETE accounts(id)/opportunity_customer_accounts(<child id>)/$ref`
   * (or `…/$ref?$id=<child url>`) clears it. Many-to-many relationships are not emulated.
   */
  private collectionReference(req: ServiceRequest, model: TableModel, address: RowAddress, seg: PathSegment): ServiceResponse {
    const rel = this.collectionNav(model, seg.name);
    if (!rel) throw errors.resourceNotFound(seg.name);
    const row = this.findRow(model, address);
    if (!row) throw this.notFound(model, address);
    const ctx = this.context(req);
    if (req.method === "POST") {
      if (seg.keys !== undefined) throw errors.noHttpResource(req.serviceRoot + req.path);
      const parsed = parseBody(req.body, model);
      const url = parsed["@odata.id"];
      if (typeof url !== "string") throw errors.payload(model.entitySetName, "The '@odata.id' of the reference is missing.");
      const child = this.resolveRowUrl(url, ctx, rel.model.entitySetName);
      const childRow = this.findRow(child.model, child.address);
      if (!childRow) throw this.notFound(child.model, child.address);
      this.write(child.model, { kind: "id", id: childRow.id }, { [`${rel.nav}@odata.bind`]: `/${model.entitySetName}(${row.id})` }, "update", ctx);
      return { status: 204, headers: { "odata-version": "4.0" } };
    }
    if (req.method === "DELETE") {
      let childAddress: RowAddress;
      if (seg.keys !== undefined) {
        childAddress = this.addressFromSegment(rel.model, seg, true);
      } else {
        const id = new URLSearchParams(req.query).get("$id");
        if (id === null) throw errors.badRequest("The $id query option is required to remove a reference from a collection.");
        childAddress = this.resolveRowUrl(id, ctx, rel.model.entitySetName).address;
      }
      const childRow = this.findRow(rel.model, childAddress);
      if (!childRow) throw this.notFound(rel.model, childAddress);
      const current = childRow.values[rel.column];
      if (!isLookup(current) || current.id !== row.id) {
        // Learn is silent on removing a reference that isn't there; the pair is simply not related.
        throw errors.notFoundById(rel.model.logicalName, childRow.id);
      }
      this.write(rel.model, { kind: "id", id: childRow.id }, { [rel.nav]: null }, "update", ctx);
      return { status: 204, headers: { "odata-version": "4.0" } };
    }
    throw new DataverseError(405, "0x80060888", `The HTTP method '${req.method}' is not allowed for this resource.`);
  }

  // ---- writes --------------------------------------------------------------------------------

  context(req: ServiceRequest): WriteContext {
    return {
      caller: req.caller,
      serviceRoot: req.serviceRoot,
      ...(req.contentIdRefs !== undefined ? { contentIdRefs: req.contentIdRefs } : {}),
      now: this.now().toISOString().slice(0, 19) + "Z",
      headers: req.headers,
    };
  }

  private create(req: ServiceRequest, model: TableModel): ServiceResponse {
    const body = parseBody(req.body, model);
    const ctx = this.context(req);
    const { row } = this.write(model, undefined, body, "create", ctx);
    const entityId = `${req.serviceRoot}${model.entitySetName}(${row.id})`;
    const prefs = parsePrefer(req.headers["prefer"]);
    if (prefs.returnRepresentation) return this.representation(req, model, row, 201, prefs);
    // create-entity-web-api's sample answer carries OData-EntityId only ($batch parts add Location).
    return { status: 204, headers: { "odata-version": "4.0", "odata-entityid": entityId } };
  }

  private patch(req: ServiceRequest, model: TableModel, address: RowAddress): ServiceResponse {
    const body = parseBody(req.body, model);
    const ctx = this.context(req);
    const ifMatch = conditional(req.headers["if-match"]);
    const ifNoneMatch = conditional(req.headers["if-none-match"]);
    const existing = this.findRow(model, address);
    let mode: WriteMode = "upsert";
    if (ifMatch !== undefined) {
      mode = "update";
      if (!existing) throw this.notFound(model, address);
      if (ifMatch !== "*" && ifMatch !== `W/"${existing.version}"`) throw errors.versionMismatch();
    } else if (ifNoneMatch === "*") {
      if (existing) throw errors.alreadyExists();
      mode = "create";
    }
    const { row, created } = this.write(model, address, body, mode, ctx);
    const prefs = parsePrefer(req.headers["prefer"]);
    if (prefs.returnRepresentation) return this.representation(req, model, row, created ? 201 : 200, prefs);
    // The header echoes the URL the client used, key form included (use-upsert-insert-update-record).
    const entityId = `${req.serviceRoot}${req.path.replace(/^\/+/, "")}`;
    return { status: 204, headers: { "odata-version": "4.0", "odata-entityid": entityId } };
  }

  private representation(req: ServiceRequest, model: TableModel, row: Row, status: number, prefs: Preferences): ServiceResponse {
    const q = parseQuery(req.query);
    const select = this.checkSelect(model, q.select);
    // create-entity-web-api: a create with data returned may $expand; update-delete-entities-using-
    // web-api: an update ignores it.
    const expand = status === 201 ? this.checkExpand(model, q.other.get("$expand"), 0) : [];
    const body = {
      "@odata.context": contextUrl(req.serviceRoot, model, select, true, expand),
      ...this.represent(model, row, select, prefs),
      ...this.expanded(row, expand, req.serviceRoot),
    };
    return json(status, body, { "preference-applied": "return=representation" });
  }

  private remove(req: ServiceRequest, model: TableModel, address: RowAddress): ServiceResponse {
    this.demand(req.caller, model, "delete");
    const row = this.findRow(model, address);
    if (!row) throw this.notFound(model, address);
    const ifMatch = conditional(req.headers["if-match"]);
    if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== `W/"${row.version}"`) throw errors.versionMismatch();
    this.store.remove(this.tableStore(model), row.id);
    return { status: 204, headers: { "odata-version": "4.0" } };
  }

  /**
   * The one write path: create, update or upsert of one row, used by POST, PATCH, PUT and the
   * bulk actions. `address` undefined means a plain create (id from the body or generated).
   */
  write(model: TableModel, address: RowAddress | undefined, body: Readonly<Record<string, unknown>>, mode: WriteMode, ctx: WriteContext): WriteResult {
    const table = this.tableStore(model);
    let existing = address ? this.findRow(model, address) : undefined;
    if (!address) {
      const bodyId = body[model.primaryId];
      if (bodyId !== undefined && bodyId !== null) {
        const id = validateValue(model, pkColumn(model), bodyId);
        if (typeof id === "string" && table.rows.has(id)) {
          if (mode === "create") throw errors.duplicateId();
          existing = table.rows.get(id);
        }
      }
    }
    if (existing && mode === "create") throw errors.duplicateId();
    if (!existing && mode === "update") throw address ? this.notFound(model, address) : errors.unexpected();
    const creating = existing === undefined;
    this.demand(ctx.caller, model, creating ? "create" : "write");

    let input = body;
    if (address?.kind === "key") {
      // use-upsert-insert-update-record: key columns repeated in the body are stripped on the
      // update path; on the create path body values win and URL values fill the gaps.
      if (!creating) {
        const copy: Record<string, unknown> = { ...body };
        for (const col of address.key.attributes) for (const prop of keyBodyProperties(model, col)) delete copy[prop];
        input = copy;
      }
    }
    const deep = this.deepInsert(model, input, creating, ctx);
    input = deep.body;
    const changes = this.changes(model, input, creating, ctx);
    if (address?.kind === "key" && creating) {
      for (const [col, v] of Object.entries(address.values)) {
        if (!(col in changes)) changes[col] = isLookup(v) ? this.keyLookupTarget(model, col, v, ctx) : v;
      }
    }

    let id: string;
    if (existing) id = existing.id;
    else if (address?.kind === "id") id = address.id;
    else {
      const fromBody = changes[model.primaryId];
      id = typeof fromBody === "string" ? fromBody : randomUUID();
      if (table.rows.has(id)) throw errors.duplicateId();
    }
    if (existing && model.primaryId in changes && changes[model.primaryId] !== id) {
      throw errors.badRequest(`The value of '${model.primaryId}' can't be changed.`, "0x80040203");
    }
    changes[model.primaryId] = id;

    const values: Record<string, Value> = existing ? { ...existing.values } : this.defaults(model, ctx);
    for (const [k, v] of Object.entries(changes)) values[k] = v;
    this.settleState(model, values, changes, existing);
    if (model.def.primaryNameAttribute === "fullname" && model.columns.has("lastname")) {
      // Dataverse composes fullname from the name parts (default format "First Last").
      const parts = [values["firstname"], values["lastname"]].filter((p) => typeof p === "string" && p !== "");
      values["fullname"] = parts.length > 0 ? parts.join(" ") : null;
    }
    values["modifiedon"] = ctx.now;
    values["modifiedby"] = { id: ctx.caller.systemUserId, table: "systemuser" };
    if (creating) this.checkRequired(model, values);
    else for (const [k, v] of Object.entries(changes)) if (v === null) this.checkRequiredColumn(model, k);

    const refused = writeRuleRefusal({ env: this.env, model, values, id, creating, rows: table.rows.values(), headers: ctx.headers ?? {} });
    if (refused !== undefined) throw refused;
    const conflict = table.findKeyConflict(values, id);
    if (conflict !== undefined) {
      const key = model.keys.find((k) => k.logicalName === conflict);
      throw errors.duplicateKey(key?.schemaName ?? conflict, key?.attributes ?? []);
    }
    const version = this.store.nextVersion();
    values["versionnumber"] = version;
    const row: Row = { id, version, values };
    this.store.put(table, row);
    for (const child of deep.children) {
      this.#deepInsertDepth++;
      try {
        this.write(child.model, undefined, { ...child.body, [`${child.nav}@odata.bind`]: `/${model.entitySetName}(${id})` }, "create", ctx);
      } finally {
        this.#deepInsertDepth--;
      }
    }
    return { row, created: creating };
  }

  /**
   * create-entity-web-api, "Create related table rows in one operation" (deep insert): a related row
   * given as an object under a single-valued navigation property is created first and bound; rows
   * given as an array under a collection-valued one are created after the parent, bound to it. All
   * of it runs in the request's transaction. Learn documents deep insert for create only; on update
   * the emulator answers 501.
   */
  private deepInsert(
    model: TableModel,
    body: Readonly<Record<string, unknown>>,
    creating: boolean,
    ctx: WriteContext,
  ): { body: Readonly<Record<string, unknown>>; children: { model: TableModel; nav: string; body: Record<string, unknown> }[] } {
    let out: Record<string, unknown> | undefined;
    const children: { model: TableModel; nav: string; body: Record<string, unknown> }[] = [];
    for (const [prop, raw] of Object.entries(body)) {
      if (typeof raw !== "object" || raw === null || prop.includes("@")) continue;
      const nav = model.navs.get(prop);
      const reverse = nav === undefined && Array.isArray(raw) ? this.collectionNav(model, prop) : undefined;
      if (nav === undefined && reverse === undefined) continue;
      if (!creating) throw new DataverseError(501, "0x80040216", "Deep insert on update is not supported by the emulator.");
      // Learn gives no depth limit; a hostile payload nested thousands deep must not exhaust the stack.
      if (this.#deepInsertDepth >= MAX_DEEP_INSERT_DEPTH) {
        throw errors.payload(model.entitySetName, `Deep insert is limited to ${MAX_DEEP_INSERT_DEPTH} levels.`);
      }
      out ??= { ...body };
      delete out[prop];
      if (nav !== undefined) {
        if (Array.isArray(raw)) throw errors.payload(model.entitySetName, `The value of the navigation property '${prop}' must be an object.`);
        const target = this.models.get(nav.targets[0] ?? "");
        if (!target) throw errors.resourceNotFound(prop);
        this.#deepInsertDepth++;
        try {
          const { row } = this.write(target, undefined, raw as Record<string, unknown>, "create", ctx);
          out[`${prop}@odata.bind`] = `/${target.entitySetName}(${row.id})`;
        } finally {
          this.#deepInsertDepth--;
        }
        continue;
      }
      if (reverse === undefined || !Array.isArray(raw)) continue;
      for (const item of raw) {
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
          throw errors.payload(model.entitySetName, `The items of '${prop}' must be objects.`);
        }
        children.push({ model: reverse.model, nav: reverse.nav, body: item as Record<string, unknown> });
      }
    }
    return { body: out ?? body, children };
  }

  /** The child table and its navigation property behind a collection-valued navigation property. */
  private collectionNav(model: TableModel, name: string): { model: TableModel; nav: string; column: string } | undefined {
    for (const m of this.models.values()) {
      for (const n of m.navs.values()) {
        if (n.relationship.schemaName === name && n.relationship.referencedEntity === model.logicalName) {
          return { model: m, nav: n.name, column: n.column.logicalName };
        }
      }
    }
    return undefined;
  }

  private defaults(model: TableModel, ctx: WriteContext): Record<string, Value> {
    // A plain literal, not Object.create(null): dictionary-mode objects make every later copy slow.
    const values: Record<string, Value> = {};
    values["createdon"] = ctx.now;
    values["createdby"] = { id: ctx.caller.systemUserId, table: "systemuser" };
    if (model.columns.has("ownerid")) {
      values["ownerid"] = { id: ctx.caller.systemUserId, table: "systemuser" };
      values["owningbusinessunit"] = { id: ctx.caller.businessUnitId, table: "businessunit" };
    }
    const state = model.columns.get("statecode");
    if (state?.type === "State") {
      const active = state.options?.find((o) => o.value === 0) ?? state.options?.[0];
      if (active) {
        values["statecode"] = active.value;
        if (active.defaultStatus !== undefined) values["statuscode"] = active.defaultStatus;
      }
    }
    return values;
  }

  /** Body properties → column values, with binds resolved and each value validated. */
  private changes(model: TableModel, body: Readonly<Record<string, unknown>>, creating: boolean, ctx: WriteContext): Record<string, Value> {
    const out: Record<string, Value> = {};
    for (const prop of Object.keys(body)) {
      const raw = body[prop];
      if (prop.startsWith("@")) continue; // @odata.type, @odata.id, @odata.etag
      const at = prop.indexOf("@");
      if (at > 0) {
        const annotation = prop.slice(at + 1);
        if (annotation !== "odata.bind") continue; // instance annotations are ignored on write
        const navName = prop.slice(0, at);
        const nav = model.navs.get(navName);
        if (!nav) {
          // create-entity-web-api, "Associate table rows on create": `<collection nav>@odata.bind`
          // with an array of URLs is valid Dataverse; the emulator does not do it, and says so.
          if (this.collectionNav(model, navName)) {
            throw new DataverseError(501, "0x80040216", `Binding rows through the collection-valued navigation property '${navName}' is not supported by the emulator.`);
          }
          throw errors.undeclaredProperty(navName, model.entitySetName);
        }
        if (raw === null) {
          out[nav.column.logicalName] = null;
          continue;
        }
        if (typeof raw !== "string") {
          throw errors.payload(model.entitySetName, `The value of the '${prop}' annotation must be a URL string.`);
        }
        if (!writable(nav.column, creating)) continue;
        out[nav.column.logicalName] = this.bind(model, nav.targets, raw, ctx);
        continue;
      }
      const nav = model.navs.get(prop);
      if (nav) {
        if (raw === null) {
          // `"<nav>": null` on PATCH clears the lookup (the single-valued nav set to null).
          if (writable(nav.column, creating)) out[nav.column.logicalName] = null;
          continue;
        }
        throw new DataverseError(501, "0x80040216", "Deep insert is not supported by the emulator.");
      }
      const column = model.columns.get(prop);
      if (!column) {
        if (/^_.+_value$/.test(prop)) {
          throw errors.payload(model.entitySetName, "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.");
        }
        throw errors.invalidProperty(prop, model.logicalName);
      }
      if (prop !== model.primaryId && !writable(column, creating)) continue;
      out[prop] = validateValue(model, column, raw);
    }
    return out;
  }

  private bind(model: TableModel, targets: readonly string[], url: string, ctx: WriteContext): LookupValue {
    const { model: target, address } = this.resolveRowUrl(url, ctx);
    if (!targets.includes(target.logicalName)) {
      throw errors.badRequest(
        `The entity set '${target.entitySetName}' is not a valid target of this navigation property.`,
        "0x80048d19",
      );
    }
    this.demand(ctx.caller, model, "append");
    this.demand(ctx.caller, target, "appendto");
    const row = this.findRow(target, address);
    if (!row) throw this.notFound(target, address);
    return { id: row.id, table: target.logicalName };
  }

  /**
   * A lookup value taken from the URL's key (`_new_contactid_value=<guid>`) becomes the new row's
   * lookup, so it must name an existing row just as an `@odata.bind` must: Dataverse resolves the
   * EntityReference on Create and answers ObjectDoesNotExist (0x80040217, 404) for a missing one.
   * Learn is silent on which table a GUID-only key of a multi-table lookup means; the emulator takes
   * the first target holding a row with that id.
   */
  private keyLookupTarget(model: TableModel, column: string, value: LookupValue, ctx: WriteContext): LookupValue {
    const targets = model.columns.get(column)?.targets ?? [];
    for (const table of targets) {
      const target = this.models.get(table);
      if (target === undefined || !this.tableStore(target).rows.has(value.id)) continue;
      this.demand(ctx.caller, model, "append");
      this.demand(ctx.caller, target, "appendto");
      return { id: value.id, table };
    }
    throw errors.notFoundById(targets[0] ?? column, value.id);
  }

  // update-delete-entities-using-web-api: set statuscode with statecode; a state given alone
  // takes its DefaultStatus; the pair must match the status option's State.
  private settleState(model: TableModel, values: Record<string, Value>, changes: Record<string, Value>, existing: Row | undefined): void {
    const state = model.columns.get("statecode");
    const status = model.columns.get("statuscode");
    if (!state || !status) return;
    if ("statecode" in changes && !("statuscode" in changes)) {
      const opt = state.options?.find((o) => o.value === values["statecode"]);
      if (opt?.defaultStatus !== undefined) values["statuscode"] = opt.defaultStatus;
    }
    if (!("statecode" in changes) && !("statuscode" in changes)) return;
    const st = values["statecode"];
    const sc = values["statuscode"];
    const option = status.options?.find((o) => o.value === sc);
    if (option?.state !== undefined && option.state !== st) {
      const stateLabel = state.options?.find((o) => o.value === st)?.label.replace(/\s+/g, "") ?? String(st);
      // The platform words it "<statuscode> is not a valid status code for state code
      // AccountState.Active on account with Id <id>." with code 0x80048408 (captured answer in Stack
      // Overflow question 65294197; Learn's error list does not name the case); the value is left
      // out (house rule: no record values in messages). The id is there on create too.
      throw new DataverseError(
        400,
        "0x80048408",
        `The statuscode is not a valid status code for state code ${model.schemaName}State.${stateLabel} on ${model.logicalName} with Id ${String(values[model.primaryId] ?? existing?.id ?? "")}.`,
      );
    }
  }

  // Only SystemRequired is enforced by the platform. ApplicationRequired ("business required") is a
  // form rule: Microsoft's support article "Dataverse records are created without required fields"
  // (power-apps/manage-apps/dataverse-records-missing-required-fields) shows Web API creates
  // succeeding without them.
  private checkRequired(model: TableModel, values: Record<string, Value>): void {
    for (const c of model.columnList) {
      if (c.requiredLevel !== "SystemRequired") continue;
      const v = values[c.logicalName];
      if (v === undefined || v === null) throw requiredMissing(c.logicalName);
    }
  }

  private checkRequiredColumn(model: TableModel, column: string): void {
    if (model.columns.get(column)?.requiredLevel === "SystemRequired") throw requiredMissing(column);
  }

  // ---- seed ----------------------------------------------------------------------------------

  private seed(): void {
    const rows = this.env.rows ?? {};
    const firstApp = this.env.apps.find((a) => a.applicationUser !== undefined);
    const seedCaller: Caller = {
      clientId: firstApp?.clientId ?? "",
      systemUserId: firstApp?.applicationUser?.systemUserId ?? "00000000-0000-0000-0000-000000000000",
      businessUnitId: this.env.businessUnitId,
      organizationId: this.env.organizationId,
      can: () => true,
      hasSpecial: () => true,
    };
    const ctx: WriteContext = { caller: seedCaller, serviceRoot: "/", now: this.now().toISOString().slice(0, 19) + "Z" };
    // systemuser and team first so seed rows of other tables can bind their owner.
    const order = Object.keys(rows).sort((a, b) => rank(a) - rank(b));
    for (const table of order) {
      const model = this.models.get(table);
      if (!model) throw new EnvironmentSeedError(`$.rows.${table}`, "names no table of this environment");
      (rows[table] ?? []).forEach((r, i) => {
        try {
          this.write(model, undefined, r, "create", ctx);
        } catch (cause) {
          if (cause instanceof DataverseError) throw new EnvironmentSeedError(`$.rows.${table}[${i}]`, `${cause.code} ${cause.message}`);
          throw cause;
        }
      });
    }
  }
}

/** A seed row the service refuses, named by its JSON path in the environment. */
export class EnvironmentSeedError extends Error {
  readonly code = "EMULATOR_SEED_ROW_INVALID";
  constructor(
    readonly jsonPath: string,
    problem: string,
  ) {
    super(`${jsonPath}: ${problem}`);
    this.name = "EnvironmentSeedError";
  }
}

/**
 * A column whose IsValidForCreate (IsValidForUpdate) is false is dropped from a create (update)
 * without an error. Evidence: Dataverse answers a POST of an account with `statecode: 1,
 * statuscode: 2` (statecode is IsValidForCreate False in the account table reference) with
 * "2 is not a valid status code for state code AccountState.Active on account with Id …"
 * (0x80048408, captured answer in Stack Overflow question 65294197): the statecode was ignored, the
 * row took the default state, and only the pair check failed. Learn does not say so for other
 * read-only columns (createdon, versionnumber, fullname); the emulator treats them the same way.
 */
function writable(column: ColumnDefinition, creating: boolean): boolean {
  return creating ? column.validForCreate !== false : column.validForUpdate !== false;
}

function rank(table: string): number {
  return table === "systemuser" ? 0 : table === "team" ? 1 : 2;
}

function requiredMissing(column: string): DataverseError {
  // Not in Learn's error list for the Web API; the platform answers InvalidArgument with this text.
  return new DataverseError(400, "0x80040203", `Attribute '${column}' cannot be set to NULL`);
}

function pkColumn(model: TableModel): ColumnDefinition {
  return model.columns.get(model.primaryId) ?? { logicalName: model.primaryId, type: "Uniqueidentifier" };
}

function isLookupType(c: ColumnDefinition): boolean {
  return c.type === "Lookup" || c.type === "Customer" || c.type === "Owner";
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
      if (n === undefined) throw invalidDate();
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

/** Body JSON parsed once; anything but an object is a payload error. */
function parseBody(text: string, model: TableModel): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text === "" ? "{}" : text);
  } catch {
    throw errors.payload(model.entitySetName, "Invalid JSON. The payload could not be parsed.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw errors.payload(model.entitySetName, "The payload must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

/** `If-Match`/`If-None-Match` value; "null" (sent to defeat caching) counts as absent. */
function conditional(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === "" || t === "null" ? undefined : t;
}

/** One `$expand` item, resolved against the table it expands from. */
interface Expansion {
  readonly name: string;
  readonly column: string;
  readonly targets: readonly string[];
  readonly ref: boolean;
  readonly select?: readonly ColumnDefinition[];
  readonly nested: readonly Expansion[];
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

const ASSOCIATED_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty";
const LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname";
const FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue";
const TOTAL_RECORD_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount";
const TOTAL_RECORD_COUNT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded";

/**
 * `odata.include-annotations="*"`, `"Microsoft.Dynamics.CRM.*"`, `"OData.Community.Display.V1.FormattedValue"`
 * or a comma-separated list of those (OData 4.01 8.2.8.4); undefined when none were asked for.
 */
function annotationFilter(preference: string | undefined): ((name: string) => boolean) | undefined {
  if (preference === undefined) return undefined;
  const patterns = preference.split(",").map((p) => p.trim()).filter((p) => p !== "");
  return (name) =>
    patterns.some((p) => {
      if (p.startsWith("-")) return false;
      if (p === "*") return true;
      if (p.endsWith(".*")) return name.startsWith(p.slice(0, -1));
      return p === name;
    });
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

// Opaque to clients; Dataverse's own is an XML paging cookie.
function encodeSkipToken(offset: number): string {
  return encodeURIComponent(Buffer.from(`page:${offset}`).toString("base64url"));
}

function decodeSkipToken(token: string): number {
  const text = Buffer.from(token, "base64url").toString("utf8");
  const m = /^page:(\d+)$/.exec(text);
  if (!m) throw new DataverseError(400, "0x80040203", "The $skiptoken value is not valid.");
  return Number(m[1]);
}

export function json(status: number, body: unknown, extra: Record<string, string> = {}): ServiceResponse {
  return { status, headers: { ...JSON_HEADERS, ...extra }, body: JSON.stringify(body) };
}

const HELP_LINK = "Microsoft.PowerApps.CDS.HelpLink";
const INNER_ERROR_MESSAGE = "Microsoft.PowerApps.CDS.InnerError.Message";

/**
 * compose-http-requests-handle-errors, "Include additional details with errors": with
 * `Prefer: odata.include-annotations` asking for them, the error carries a help link and the inner
 * error's message. Learn's example is a plug-in error, which also carries OperationStatus,
 * SubErrorCode and TraceText; the emulator runs no plug-ins, so it adds the two that apply to any
 * platform error. The help link has Learn's shape, with the code's hex digits.
 */
export function errorResponse(e: DataverseError, includeAnnotations?: string): ServiceResponse {
  const wants = annotationFilter(includeAnnotations);
  if (wants === undefined || (!wants(HELP_LINK) && !wants(INNER_ERROR_MESSAGE))) {
    return { status: e.status, headers: { ...JSON_HEADERS }, body: errorBody(e) };
  }
  const error: Record<string, string> = { code: e.code, message: e.message };
  if (wants(HELP_LINK)) {
    const hex = e.code.replace(/^0x/i, "");
    error[`@${HELP_LINK}`] = `http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a${hex}&client=platform`;
  }
  if (wants(INNER_ERROR_MESSAGE)) error[`@${INNER_ERROR_MESSAGE}`] = e.message;
  return { status: e.status, headers: { ...JSON_HEADERS }, body: JSON.stringify({ error }) };
}

