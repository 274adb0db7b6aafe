// The in-memory Dataverse behind the emulator: each Web API operation, routed by its path to the
// room that answers it. Addressing is addressing.ts, reads reads.ts (rows matched by row-query.ts),
// writes writes.ts over the row engine (row-engine.ts), one property and `$ref` references.ts, the
// bulk actions bulk.ts, table definitions metadata.ts and sdk-messages.ts, `$metadata` csdl.ts.
// Every operation is atomic on its own; the error of any room becomes Dataverse's error answer here.
import type { DataService, Environment, ServiceRequest, ServiceResponse } from "./types.js";
import { DataverseError, errors } from "./errors.js";
import { type PathSegment, parsePath } from "./odata/path.js";
import { parsePrefer } from "./query.js";
import { errorResponse, json } from "./responses.js";
import { Tables } from "./addressing.js";
import { RowEngine } from "./row-engine.js";
import { Reads } from "./reads.js";
import { Writes } from "./writes.js";
import { References } from "./references.js";
import { seedRows } from "./seed.js";
import { Associations } from "./associations.js";
import { ListActions } from "./list-actions.js";
import { type BulkRows, handleBulk } from "./bulk.js";
import { handleMetadata } from "./metadata.js";
import type { MetadataSource } from "./metadata-json.js";
import { handleSdkMessageFilters, handleSdkMessages } from "./sdk-messages.js";
import { csdlDocument } from "./csdl.js";
import { handleOrganizations } from "./organization.js";

const BULK_ACTION_PREFIX = "Microsoft.Dynamics.CRM.";

/** Resources Dataverse serves that the emulator does not: the feature each one is. */
const NOT_EMULATED: Readonly<Record<string, string>> = {
  RelationshipDefinitions: "RelationshipDefinitions (relationship metadata)",
  GlobalOptionSetDefinitions: "GlobalOptionSetDefinitions (global choice metadata)",
  RetrieveMetadataChanges: "The RetrieveMetadataChanges function",
  RetrieveTotalRecordCount: "The RetrieveTotalRecordCount function",
};

export class DataverseService implements DataService {
  readonly #tables: Tables;
  readonly #reads: Reads;
  readonly #writes: Writes;
  readonly #references: References;
  readonly #listActions: ListActions;
  readonly #bulkRows: BulkRows;
  readonly #metadata: MetadataSource;
  readonly #env: Environment;

  /** Throws EnvironmentSeedError (naming `$.rows.<table>[i]`) when a seed row is refused. */
  constructor(env: Environment, now: () => Date) {
    this.#env = env;
    const tables = new Tables(env.tables, env.baseLanguage, env.manyToManyRelationships);
    const engine = new RowEngine(tables, now, env);
    this.#tables = tables;
    const associations = new Associations(tables);
    this.#reads = new Reads(tables, associations);
    this.#writes = new Writes(tables, engine, this.#reads);
    this.#references = new References(tables, engine, this.#reads, associations);
    this.#listActions = new ListActions(tables, associations);
    this.#bulkRows = {
      context: (req) => engine.context(req),
      write: (model, address, body, mode, ctx) => engine.write(model, address, body, mode, ctx),
      findRow: (model, address) => tables.findRow(model, address),
      resolveRowUrl: (url, ctx, forSet) => tables.resolveRowUrl(url, ctx, forSet),
    };
    this.#metadata = { models: tables.models, baseLanguage: env.baseLanguage };
    seedRows(env, tables, engine);
  }

  rowCount(table: string): number {
    return this.#tables.store.table(table)?.rows.size ?? 0;
  }

  transaction(fn: () => boolean): void {
    this.#tables.store.atomically(fn, (ok) => ok === true);
  }

  handle(request: ServiceRequest): ServiceResponse {
    try {
      // Every operation is atomic on its own (a bulk action rolls back as a whole).
      const response = this.#tables.store.atomically(
        () => this.route(request),
        (r) => r.status < 400,
      );
      // One row touched, for the execution-time model; bulk actions set their own.
      if (response.cost === undefined && response.status < 300 && request.method !== "GET") {
        return { ...response, cost: { records: 1, bulk: false } };
      }
      return response;
    } catch (cause) {
      if (cause instanceof DataverseError) {
        const response = errorResponse(cause, parsePrefer(request.headers["prefer"]).includeAnnotations);
        // A bulk action refused part-way: the rows it ran before the refusal are its cost (cost.ts).
        return cause.rowsDone === undefined ? response : { ...response, cost: { records: cause.rowsDone, bulk: true } };
      }
      // A bug in the emulator must still answer like a server, never crash or hang the socket.
      return errorResponse(errors.internal());
    }
  }

  private route(req: ServiceRequest): ServiceResponse {
    // Known Dataverse resources the emulator does not implement answer 501 naming the feature, so
    // a client does not read a 404 or 400 as its own mistake.
    const notEmulated = NOT_EMULATED[/^[A-Za-z]+/.exec(req.path)?.[0] ?? ""];
    if (notEmulated !== undefined) throw errors.notEmulated(`${notEmulated} is not supported by the emulator.`);
    const segments = parsePath(req.path);
    const first = segments[0];
    if (!first) return this.serviceDocument(req);
    if (first.name === "WhoAmI") return this.whoAmI(req, segments);
    if (first.name === "AddListMembersList" && segments.length === 1 && first.keys === undefined && !this.#tables.bySet.has(first.name)) {
      return this.#listActions.addListMembersList(req);
    }
    const tables = this.#tables;
    if (first.name === "$metadata" && segments.length === 1 && first.keys === undefined) {
      if (req.method !== "GET") throw errors.methodNotAllowed(req.method);
      return { status: 200, headers: { "content-type": "application/xml", "odata-version": "4.0" }, body: csdlDocument(tables.models) };
    }
    if (first.name === "EntityDefinitions") return handleMetadata(this.#metadata, req, segments);
    if (first.name === "sdkmessages" && !tables.bySet.has("sdkmessages")) return handleSdkMessages(req, segments);
    if (first.name === "sdkmessagefilters" && !tables.bySet.has("sdkmessagefilters")) {
      return handleSdkMessageFilters(this.#metadata, req, segments);
    }
    if (first.name === "organizations" && !tables.bySet.has("organizations")) return handleOrganizations(this.#env, req, segments);
    const model = tables.bySet.get(first.name);
    if (!model) throw errors.resourceNotFound(first.name);
    const second = segments[1];
    if (first.keys === undefined) {
      if (second === undefined) {
        if (req.method === "POST") return this.#writes.create(req, model);
        if (req.method !== "GET") throw errors.methodNotAllowed(req.method);
        return this.#reads.list(req, model);
      }
      if (second.name === "$count" && segments.length === 2 && second.keys === undefined) return this.#reads.countOnly(req, model);
      if (segments.length === 2 && second.name.startsWith(BULK_ACTION_PREFIX)) {
        if (req.method !== "POST") throw errors.noHttpResource(req.serviceRoot + req.path);
        return handleBulk(this.#bulkRows, req, model, second.name.slice(BULK_ACTION_PREFIX.length));
      }
      throw errors.resourceNotFound(second.name);
    }
    const address = tables.addressFromSegment(model, first, true);
    if (segments.length === 2 && second !== undefined && second.name.startsWith(BULK_ACTION_PREFIX)) {
      return this.#listActions.bound(req, model, address, second.name.slice(BULK_ACTION_PREFIX.length));
    }
    if (segments.length === 3 && second !== undefined && segments[2]?.name === "$ref") {
      return this.#references.ref(req, model, address, second);
    }
    if (segments.length === 3 && second !== undefined && segments[2]?.name === "$value" && req.method === "GET") {
      return this.#references.rawValue(req, model, address, second.name);
    }
    const oneToMany = segments.length === 3 && second !== undefined && segments[2]?.name === "$count" ? tables.collectionNav(model, second.name) : undefined;
    if (oneToMany !== undefined) {
      // count-rows: `<set>(id)/<collection nav>/$count`, the related rows' number.
      return this.#reads.countOneToMany(req, model, address, oneToMany);
    }
    if (segments.length > 2) throw errors.resourceNotFound(segments[2]?.name ?? "");
    if (second !== undefined) return this.#references.property(req, model, address, second.name);
    switch (req.method) {
      case "GET":
        return this.#reads.retrieve(req, model, address);
      case "PATCH":
        return this.#writes.patch(req, model, address);
      case "DELETE":
        return this.#writes.remove(req, model, address);
      default:
        throw errors.methodNotAllowed(req.method);
    }
  }

  private serviceDocument(req: ServiceRequest): ServiceResponse {
    const value = [...this.#tables.models.values()].map((m) => ({ name: m.entitySetName, kind: "EntitySet", url: m.entitySetName }));
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
}
