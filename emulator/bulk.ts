// CreateMultiple, UpdateMultiple and UpsertMultiple (Learn: bulk-operations, webapi reference
// for the three actions). Standard tables are all-or-nothing ("Any error that occurs in a bulk
// operation with a standard table causes the entire operation to roll back"): the service runs each
// request inside one undo-log transaction, so the first failing target rolls back every earlier one.
// Per-target details (RequestIndex) are documented for elastic tables only, so the error of a
// standard table is the failing target's own error, without its index.
import type { ServiceRequest, ServiceResponse } from "./types.js";
import type { TableModel } from "./model.js";
import type { Row } from "./store.js";
import { DataverseError, errors } from "./errors.js";
import { parseJsonWithInt64 } from "./int64.js";
import { json, noContent } from "./responses.js";
import { type RowAddress, keyBodyProperties } from "./addressing.js";
import type { WriteContext, WriteMode, WriteResult } from "./row-engine.js";

/** What the bulk actions need of the service: the one write path and row lookup. */
export interface BulkRows {
  context(req: ServiceRequest): WriteContext;
  write(model: TableModel, address: RowAddress | undefined, body: Readonly<Record<string, unknown>>, mode: WriteMode, ctx: WriteContext): WriteResult;
  findRow(model: TableModel, address: RowAddress): Row | undefined;
  resolveRowUrl(url: string, ctx: WriteContext, forSet?: string): { model: TableModel; address: RowAddress };
}

type BulkMessage = "CreateMultiple" | "UpdateMultiple" | "UpsertMultiple";

function isBulkMessage(name: string): name is BulkMessage {
  return name === "CreateMultiple" || name === "UpdateMultiple" || name === "UpsertMultiple";
}

function available(model: TableModel, message: BulkMessage): boolean {
  switch (message) {
    case "CreateMultiple":
      return model.bulk.createMultiple;
    case "UpdateMultiple":
      return model.bulk.updateMultiple;
    case "UpsertMultiple":
      return model.bulk.upsertMultiple;
  }
}

export function handleBulk(rows: BulkRows, req: ServiceRequest, model: TableModel, action: string): ServiceResponse {
  if (action === "DeleteMultiple") {
    // bulk-operations: DeleteMultiple is for elastic tables; standard tables answer this.
    if (model.def.tableType !== "Elastic") throw errors.badRequest("DeleteMultiple has not yet been implemented.", "0x80040216");
    throw errors.notEmulated("DeleteMultiple on elastic tables is not emulated.");
  }
  if (!isBulkMessage(action)) throw errors.resourceNotFound(`Microsoft.Dynamics.CRM.${action}`);
  if (!available(model, action)) {
    // Learn documents no message for a table without the bulk message; this is the platform's
    // wording when no message processor exists for the table.
    throw errors.badRequest(
      `The '${action}' method does not support entities of type '${model.logicalName}'. MessageProcessorCache returned MessageProcessor.Empty.`,
      "0x80040216",
    );
  }
  const targets = parseTargets(req.body, model);
  const ctx = rows.context(req);
  const expectedType = `Microsoft.Dynamics.CRM.${model.logicalName}`;
  const ids: string[] = [];
  function runTarget(target: Record<string, unknown>): void {
    const type = target["@odata.type"];
    if (typeof type !== "string" || type.replace(/^#/, "") !== expectedType) {
      // bulk-operations: every target needs @odata.type naming the table of the URL.
      throw errors.payload(
        model.entitySetName,
        typeof type === "string"
          ? `The entity type '${type.replace(/^#/, "")}' of a target doesn't match '${expectedType}'.`
          : "A resource in Targets has no '@odata.type' annotation; it is required to identify the entity type.",
      );
    }
    const address = targetAddress(rows, model, target, ctx);
    switch (action) {
      case "CreateMultiple": {
        const { row } = rows.write(model, undefined, target, "create", ctx);
        ids.push(row.id);
        break;
      }
      case "UpdateMultiple":
        if (!address) throw errors.badRequest(`A target has neither '${model.primaryId}' nor '@odata.id'.`, "0x80040203");
        if (address.kind === "id" && rows.findRow(model, address) === undefined) {
          throw errors.notFoundByIds(model.schemaName, address.id);
        }
        rows.write(model, address, withoutId(target, model), "update", ctx);
        break;
      case "UpsertMultiple": {
        if (address?.kind === "key" && rows.findRow(model, address) === undefined) {
          // Documented gotcha (PowerPlatform-DataverseClient-Python #127): the create path fails
          // when a key column is both in @odata.id and in the body.
          if (address.key.attributes.some((a) => keyBodyProperties(model, a).some((p) => p in target))) throw errors.unexpected();
        }
        if (address) rows.write(model, address, withoutId(target, model), "upsert", ctx);
        else rows.write(model, undefined, target, "create", ctx);
        break;
      }
    }
  }
  let done = 0;
  try {
    for (const target of targets) {
      runTarget(target);
      done++;
    }
  } catch (cause) {
    // The targets before this one ran, then rolled back with the request: their work was done.
    if (cause instanceof DataverseError) cause.rowsDone = done;
    throw cause;
  }
  const cost = { records: targets.length, bulk: true } as const;
  if (action === "CreateMultiple") {
    const res = json(200, { "@odata.context": `${req.serviceRoot}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`, Ids: ids });
    return { ...res, cost };
  }
  return { ...noContent(), cost };
}

function parseTargets(text: string, model: TableModel): Record<string, unknown>[] {
  let parsed: unknown;
  try {
    parsed = parseJsonWithInt64(text);
  } catch {
    throw errors.payload(model.entitySetName, "Invalid JSON. The payload could not be parsed.");
  }
  const targets = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>)["Targets"] : undefined;
  if (!Array.isArray(targets)) throw errors.badRequest("The parameter 'Targets' is required.", "0x80048d19");
  for (const t of targets) {
    if (typeof t !== "object" || t === null || Array.isArray(t)) {
      throw errors.payload(model.entitySetName, "Every item of 'Targets' must be an entity object.");
    }
  }
  return targets as Record<string, unknown>[];
}

function targetAddress(rows: BulkRows, model: TableModel, target: Record<string, unknown>, ctx: WriteContext): RowAddress | undefined {
  const odataId = target["@odata.id"];
  if (typeof odataId === "string") {
    // Body URLs are not request paths: the IIS character rules don't apply (use-alternate-key-reference-record).
    return rows.resolveRowUrl(odataId, ctx, model.entitySetName).address;
  }
  const id = target[model.primaryId];
  if (typeof id === "string") return { kind: "id", id: id.toLowerCase() };
  return undefined;
}

function withoutId(target: Record<string, unknown>, model: TableModel): Record<string, unknown> {
  if (!(model.primaryId in target)) return target;
  const copy = { ...target };
  delete copy[model.primaryId];
  return copy;
}
