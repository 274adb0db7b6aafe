// Writes of one row by URL (create-entity-web-api, update-delete-entities-using-web-api,
// use-upsert-insert-update-record, perform-conditional-operations-using-web-api): POST to a
// collection, PATCH (update, create-only or upsert by If-Match / If-None-Match) and DELETE of a row.
import type { ServiceRequest, ServiceResponse } from "./types.js";
import type { TableModel } from "./model.js";
import { errors } from "./errors.js";
import { conditional, parseBody, parsePrefer } from "./query.js";
import { noContent } from "./responses.js";
import type { RowAddress, Tables } from "./addressing.js";
import type { RowEngine, WriteMode } from "./row-engine.js";
import type { Reads } from "./reads.js";

export class Writes {
  constructor(
    private readonly tables: Tables,
    private readonly engine: RowEngine,
    private readonly reads: Reads,
  ) {}

  create(req: ServiceRequest, model: TableModel): ServiceResponse {
    const body = parseBody(req.body, model.entitySetName);
    const ctx = this.engine.context(req);
    const { row } = this.engine.write(model, undefined, body, "create", ctx);
    const entityId = `${req.serviceRoot}${model.entitySetName}(${row.id})`;
    const prefs = parsePrefer(req.headers["prefer"]);
    if (prefs.returnRepresentation) return this.reads.representation(req, model, row, 201, prefs);
    // create-entity-web-api's sample answer carries OData-EntityId only ($batch parts add Location).
    return noContent({ "odata-entityid": entityId });
  }

  patch(req: ServiceRequest, model: TableModel, address: RowAddress): ServiceResponse {
    const body = parseBody(req.body, model.entitySetName);
    const ctx = this.engine.context(req);
    const ifMatch = conditional(req.headers["if-match"]);
    const ifNoneMatch = conditional(req.headers["if-none-match"]);
    const existing = this.tables.findRow(model, address);
    let mode: WriteMode = "upsert";
    if (ifMatch !== undefined) {
      mode = "update";
      if (!existing) throw this.tables.notFound(model, address);
      if (ifMatch !== "*" && ifMatch !== `W/"${existing.version}"`) throw errors.versionMismatch();
    } else if (ifNoneMatch === "*") {
      if (existing) throw errors.alreadyExists();
      mode = "create";
    }
    const { row, created } = this.engine.write(model, address, body, mode, ctx);
    const prefs = parsePrefer(req.headers["prefer"]);
    if (prefs.returnRepresentation) return this.reads.representation(req, model, row, created ? 201 : 200, prefs);
    // The header echoes the URL the client used, key form included (use-upsert-insert-update-record).
    const entityId = `${req.serviceRoot}${req.path.replace(/^\/+/, "")}`;
    return noContent({ "odata-entityid": entityId });
  }

  remove(req: ServiceRequest, model: TableModel, address: RowAddress): ServiceResponse {
    this.tables.demand(req.caller, model, "delete");
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    const ifMatch = conditional(req.headers["if-match"]);
    if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== `W/"${row.version}"`) throw errors.versionMismatch();
    this.tables.store.remove(this.tables.tableStore(model), row.id);
    return noContent();
  }
}
