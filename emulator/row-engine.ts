// The one write path of the emulator: create, update or upsert of one row, used by POST, PATCH, PUT,
// `$ref`, deep insert, the bulk actions and the seed rows. It resolves binds, creates related rows
// (deep insert), settles statecode/statuscode, fills system columns, enforces SystemRequired columns
// and alternate keys (create-entity-web-api, update-delete-entities-using-web-api,
// use-upsert-insert-update-record, use-alternate-key-reference-record).
import { randomUUID } from "node:crypto";
import type { Caller, Environment, ServiceRequest } from "./types.js";
import type { ColumnDefinition } from "./schema.js";
import type { TableModel } from "./model.js";
import { type LookupValue, type Row, type Value, isLookup } from "./store.js";
import { errors } from "./errors.js";
import { validateValue } from "./validate.js";
import { writeRuleRefusal } from "./write-rules.js";
import { listCreateRules } from "./list-members.js";
import { type RowAddress, type Tables, type UrlContext, keyBodyProperties } from "./addressing.js";

/** Per-request context passed down to writes. */
export interface WriteContext extends UrlContext {
  readonly caller: Caller;
  readonly now: string;
  /** The request's headers (names lower-cased), for write-rules.ts. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type WriteMode = "create" | "update" | "upsert";

export interface WriteResult {
  readonly row: Row;
  readonly created: boolean;
}

/** Levels of related rows one deep insert may nest (the emulator's bound; Learn states none). */
const MAX_DEEP_INSERT_DEPTH = 10;

export class RowEngine {
  #deepInsertDepth = 0;

  constructor(
    private readonly tables: Tables,
    private readonly now: () => Date,
    private readonly env: Pick<Environment, "apps" | "plugins">,
  ) {}

  context(req: ServiceRequest): WriteContext {
    return {
      caller: req.caller,
      serviceRoot: req.serviceRoot,
      ...(req.contentIdRefs !== undefined ? { contentIdRefs: req.contentIdRefs } : {}),
      now: this.nowText(),
      headers: req.headers,
    };
  }

  /** The clock as Dataverse stores date-times: UTC, whole seconds. */
  nowText(): string {
    return this.now().toISOString().slice(0, 19) + "Z";
  }

  /**
   * Create, update or upsert of one row. `address` undefined means a plain create (id from the body
   * or generated).
   */
  write(model: TableModel, address: RowAddress | undefined, body: Readonly<Record<string, unknown>>, mode: WriteMode, ctx: WriteContext): WriteResult {
    const tables = this.tables;
    const table = tables.tableStore(model);
    let existing = address ? tables.findRow(model, address) : undefined;
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
    if (!existing && mode === "update") throw address ? tables.notFound(model, address) : errors.unexpected();
    const creating = existing === undefined;
    tables.demand(ctx.caller, model, creating ? "create" : "write");

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
      if (typeof fromBody === "string") {
        id = fromBody;
        if (table.rows.has(id)) throw errors.duplicateId();
      } else {
        // A generated id is new by construction (122 random bits), as Dataverse's own are.
        id = randomUUID();
      }
    }
    if (existing && model.primaryId in changes && changes[model.primaryId] !== id) {
      throw errors.primaryIdChanged(model.primaryId);
    }
    changes[model.primaryId] = id;

    const values: Record<string, Value> = existing ? { ...existing.values } : defaults(model, ctx);
    // for…in, not Object.entries: no array per column, for every row written.
    for (const k in changes) values[k] = changes[k] as Value;
    settleState(model, values, changes, existing);
    if (model.def.primaryNameAttribute === "fullname" && model.columns.has("lastname")) {
      // Dataverse composes fullname from the name parts (default format "First Last").
      const parts = [values["firstname"], values["lastname"]].filter((p) => typeof p === "string" && p !== "");
      values["fullname"] = parts.length > 0 ? parts.join(" ") : null;
    }
    values["modifiedon"] = ctx.now;
    values["modifiedby"] = systemRef("systemuser", ctx.caller.systemUserId);
    if (creating) {
      listCreateRules(model, values);
      checkRequired(model, values);
    }
    else for (const [k, v] of Object.entries(changes)) if (v === null) checkRequiredColumn(model, k);

    const refused = writeRuleRefusal({ env: this.env, model, values, id, creating, rows: table.rows.values(), headers: ctx.headers ?? {} });
    if (refused !== undefined) throw refused;
    const conflict = table.findKeyConflict(values, id);
    if (conflict !== undefined) {
      const key = model.keys.find((k) => k.logicalName === conflict);
      throw errors.duplicateKey(key?.schemaName ?? conflict, key?.attributes ?? []);
    }
    const version = tables.store.nextVersion();
    values["versionnumber"] = version;
    const row: Row = { id, version, values };
    tables.store.put(table, row);
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
      const reverse = nav === undefined && Array.isArray(raw) ? this.tables.collectionNav(model, prop) : undefined;
      if (nav === undefined && reverse === undefined) continue;
      if (!creating) throw errors.notEmulated("Deep insert on update is not supported by the emulator.");
      // Learn gives no depth limit; a hostile payload nested thousands deep must not exhaust the stack.
      if (this.#deepInsertDepth >= MAX_DEEP_INSERT_DEPTH) {
        throw errors.payload(model.entitySetName, `Deep insert is limited to ${MAX_DEEP_INSERT_DEPTH} levels.`);
      }
      out ??= { ...body };
      delete out[prop];
      if (nav !== undefined) {
        if (Array.isArray(raw)) throw errors.payload(model.entitySetName, `The value of the navigation property '${prop}' must be an object.`);
        const target = this.tables.models.get(nav.targets[0] ?? "");
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
          if (this.tables.collectionNav(model, navName)) {
            throw errors.notEmulated(`Binding rows through the collection-valued navigation property '${navName}' is not supported by the emulator.`);
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
        throw errors.notEmulated("Deep insert is not supported by the emulator.");
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
    const { model: target, address } = this.tables.resolveRowUrl(url, ctx);
    if (!targets.includes(target.logicalName)) {
      throw errors.badRequest(
        `The entity set '${target.entitySetName}' is not a valid target of this navigation property.`,
        "0x80048d19",
      );
    }
    this.tables.demand(ctx.caller, model, "append");
    this.tables.demand(ctx.caller, target, "appendto");
    const row = this.tables.findRow(target, address);
    if (!row) throw this.tables.notFound(target, address);
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
      const target = this.tables.models.get(table);
      if (target === undefined || !this.tables.tableStore(target).rows.has(value.id)) continue;
      this.tables.demand(ctx.caller, model, "append");
      this.tables.demand(ctx.caller, target, "appendto");
      return { id: value.id, table };
    }
    throw errors.notFoundById(targets[0] ?? column, value.id);
  }
}

/**
 * The caller's user and business unit as lookup values, one frozen object each for every row that
 * names them: four per created row otherwise, a fifth of what a stored contact weighs. Lookup values
 * are never changed in place (a write replaces them), and frozen they cannot be.
 */
const systemRefs = new Map<string, Map<string, LookupValue>>();
function systemRef(table: "systemuser" | "businessunit", id: string): LookupValue {
  let refs = systemRefs.get(table);
  if (refs === undefined) systemRefs.set(table, (refs = new Map()));
  let ref = refs.get(id);
  if (ref === undefined) {
    ref = Object.freeze({ id, table });
    refs.set(id, ref);
  }
  return ref;
}

function defaults(model: TableModel, ctx: WriteContext): Record<string, Value> {
  // A plain literal, not Object.create(null): dictionary-mode objects make every later copy slow.
  const values: Record<string, Value> = {};
  values["createdon"] = ctx.now;
  values["createdby"] = systemRef("systemuser", ctx.caller.systemUserId);
  if (model.columns.has("ownerid")) {
    values["ownerid"] = systemRef("systemuser", ctx.caller.systemUserId);
    values["owningbusinessunit"] = systemRef("businessunit", ctx.caller.businessUnitId);
  }
  for (const c of model.columnList) if (c.defaultValue !== undefined) values[c.logicalName] = c.defaultValue;
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

// update-delete-entities-using-web-api: set statuscode with statecode; a state given alone
// takes its DefaultStatus; the pair must match the status option's State.
function settleState(model: TableModel, values: Record<string, Value>, changes: Record<string, Value>, existing: Row | undefined): void {
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
    throw errors.statusNotValidForState(model.schemaName, stateLabel, model.logicalName, String(values[model.primaryId] ?? existing?.id ?? ""));
  }
}

// Only SystemRequired is enforced by the platform. ApplicationRequired ("business required") is a
// form rule: Microsoft's support article "Dataverse records are created without required fields"
// (power-apps/manage-apps/dataverse-records-missing-required-fields) shows Web API creates
// succeeding without them.
function checkRequired(model: TableModel, values: Record<string, Value>): void {
  for (const c of model.columnList) {
    if (c.requiredLevel !== "SystemRequired") continue;
    const v = values[c.logicalName];
    if (v === undefined || v === null) throw errors.requiredMissing(c.logicalName);
  }
}

function checkRequiredColumn(model: TableModel, column: string): void {
  if (model.columns.get(column)?.requiredLevel === "SystemRequired") throw errors.requiredMissing(column);
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

function pkColumn(model: TableModel): ColumnDefinition {
  return model.columns.get(model.primaryId) ?? { logicalName: model.primaryId, type: "Uniqueidentifier" };
}
