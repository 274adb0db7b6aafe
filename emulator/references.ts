// One property of a row and the references between rows: `<set>(id)/<column>` (read, set, clear),
// `<set>(id)/<column>/$value`, and `$ref` on single- and collection-valued navigation properties
// (retrieve-entity-using-web-api, update-delete-entities-using-web-api,
// associate-disassociate-entities-using-web-api). Every change goes through the row engine.
import type { ServiceRequest, ServiceResponse } from "./types.js";
import { type TableModel, isLookupType } from "./model.js";
import { isLookup } from "./store.js";
import { errors } from "./errors.js";
import type { PathSegment } from "./odata/path.js";
import { parseBody } from "./query.js";
import { json, noContent, plainText } from "./responses.js";
import type { RowAddress, Tables } from "./addressing.js";
import type { RowEngine } from "./row-engine.js";
import type { Reads } from "./reads.js";
import type { Associations } from "./associations.js";

export class References {
  constructor(
    private readonly tables: Tables,
    private readonly engine: RowEngine,
    private readonly reads: Reads,
    private readonly associations: Associations,
  ) {}

  /** `<set>(id)/<name>`: a column (GET, PUT, DELETE) or, on GET, a navigation property's target. */
  property(req: ServiceRequest, model: TableModel, address: RowAddress, name: string): ServiceResponse {
    if (req.method === "GET") {
      const nav = model.navs.get(name);
      if (nav !== undefined) return this.reads.navigationTarget(req, model, address, nav.column.logicalName, nav.targets);
      const manyToMany = model.manyToMany.get(name);
      if (manyToMany !== undefined) return this.reads.relatedCollection(req, model, address, manyToMany);
      const oneToMany = this.tables.collectionNav(model, name);
      if (oneToMany !== undefined) return this.reads.oneToMany(req, model, address, oneToMany);
    }
    const column = model.columns.get(name);
    if (!column || isLookupType(column)) throw errors.resourceNotFound(name);
    const row = this.tables.findRow(model, address);
    if (req.method === "GET") {
      this.tables.demand(req.caller, model, "read");
      if (!row) throw this.tables.notFound(model, address);
      const v = row.values[name];
      if (v === undefined || v === null) return noContent();
      return json(200, { "@odata.context": `${req.serviceRoot}$metadata#${model.entitySetName}(${row.id})/${name}`, value: v });
    }
    if (req.method !== "PUT" && req.method !== "DELETE") throw errors.methodNotAllowed(req.method);
    if (!row) throw this.tables.notFound(model, address);
    let value: unknown = null;
    if (req.method === "PUT") {
      const body = parseBody(req.body, model.entitySetName);
      if (!("value" in body)) throw errors.payload(model.entitySetName, "The property 'value' is required.");
      value = body["value"];
    }
    this.engine.write(model, { kind: "id", id: row.id }, { [name]: value }, "update", this.engine.context(req));
    return noContent();
  }

  /**
   * retrieve-entity-using-web-api, "Retrieve a single property value": `<set>(id)/name/$value` is the
   * raw value as text/plain; a null value answers 204 as the JSON form does.
   */
  rawValue(req: ServiceRequest, model: TableModel, address: RowAddress, name: string): ServiceResponse {
    const column = model.columns.get(name);
    if (!column || isLookupType(column)) throw errors.resourceNotFound(name);
    this.tables.demand(req.caller, model, "read");
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    const v = row.values[name];
    if (v === undefined || v === null || isLookup(v)) return noContent();
    return plainText(String(v));
  }

  /** `<set>(id)/<nav>/$ref`, on a single- or a collection-valued navigation property. */
  ref(req: ServiceRequest, model: TableModel, address: RowAddress, nav: PathSegment): ServiceResponse {
    if (model.manyToMany.has(nav.name)) return this.manyToManyReference(req, model, address, nav);
    if (!model.navs.has(nav.name) && this.tables.collectionNav(model, nav.name)) return this.collectionReference(req, model, address, nav);
    return this.reference(req, model, address, nav.name);
  }

  /**
   * associate-disassociate-entities-using-web-api: `PUT <set>(id)/<nav>/$ref {"@odata.id": url}` sets a
   * single-valued navigation property, `DELETE <set>(id)/<nav>/$ref` clears it.
   */
  private reference(req: ServiceRequest, model: TableModel, address: RowAddress, navName: string): ServiceResponse {
    const nav = model.navs.get(navName);
    if (!nav) throw errors.resourceNotFound(navName);
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    let body: Record<string, unknown>;
    if (req.method === "DELETE") {
      body = { [navName]: null };
    } else if (req.method === "PUT") {
      const parsed = parseBody(req.body, model.entitySetName);
      const target = parsed["@odata.id"];
      if (typeof target !== "string") throw errors.payload(model.entitySetName, "The '@odata.id' of the reference is missing.");
      body = { [`${navName}@odata.bind`]: target };
    } else {
      throw errors.methodNotAllowed(req.method);
    }
    this.engine.write(model, { kind: "id", id: row.id }, body, "update", this.engine.context(req));
    return noContent();
  }

  /**
   * associate-disassociate-entities-using-web-api on a many-to-many relationship ("you can perform the
   * same operation for an N:N relationship"): `POST lists(id)/listcontact_association/$ref
   * {"@odata.id": "…/contacts(id)"}` relates the two rows; `DELETE lists(id)/listcontact_association(<id>)/$ref`
   * or `…/$ref?$id=<url>` removes the pair. The row URL may name the row by an alternate key
   * (use-alternate-key-reference-record). A missing row on either side answers 404, an existing pair
   * 412 (errors.duplicateAssociation).
   */
  private manyToManyReference(req: ServiceRequest, model: TableModel, address: RowAddress, seg: PathSegment): ServiceResponse {
    const side = model.manyToMany.get(seg.name);
    if (!side) throw errors.resourceNotFound(seg.name);
    const other = this.associations.otherModel(side);
    const ctx = this.engine.context(req);
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    if (req.method === "POST") {
      if (seg.keys !== undefined) throw errors.noHttpResource(req.serviceRoot + req.path);
      const parsed = parseBody(req.body, model.entitySetName);
      const url = parsed["@odata.id"];
      if (typeof url !== "string") throw errors.payload(model.entitySetName, "The '@odata.id' of the reference is missing.");
      const target = this.tables.resolveRowUrl(url, ctx, other.entitySetName);
      const otherRow = this.tables.findRow(target.model, target.address);
      if (!otherRow) throw this.tables.notFound(target.model, target.address);
      this.associations.associate(req.caller, model, row, side, otherRow);
      return noContent();
    }
    if (req.method === "DELETE") {
      let otherAddress: RowAddress;
      if (seg.keys !== undefined) {
        otherAddress = this.tables.addressFromSegment(other, seg, true);
      } else {
        const id = new URLSearchParams(req.query).get("$id");
        if (id === null) throw errors.badRequest("The $id query option is required to remove a reference from a collection.");
        otherAddress = this.tables.resolveRowUrl(id, ctx, other.entitySetName).address;
      }
      const otherRow = this.tables.findRow(other, otherAddress);
      if (!otherRow) throw this.tables.notFound(other, otherAddress);
      this.associations.disassociate(req.caller, model, row, side, otherRow.id);
      return noContent();
    }
    throw errors.methodNotAllowed(req.method);
  }

  /**
   * associate-disassociate-entities-using-web-api on a one-to-many relationship:
   * `POST accounts(id)/opportunity_customer_accounts/$ref {"@odata.id": "…/opportunities(id)"}` points
   * the child's lookup at this row; `DELETE accounts(id)/opportunity_customer_accounts(<child id>)/$ref`
   * (or `…/$ref?$id=<child url>`) clears it.
   */
  private collectionReference(req: ServiceRequest, model: TableModel, address: RowAddress, seg: PathSegment): ServiceResponse {
    const rel = this.tables.collectionNav(model, seg.name);
    if (!rel) throw errors.resourceNotFound(seg.name);
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    const ctx = this.engine.context(req);
    if (req.method === "POST") {
      if (seg.keys !== undefined) throw errors.noHttpResource(req.serviceRoot + req.path);
      const parsed = parseBody(req.body, model.entitySetName);
      const url = parsed["@odata.id"];
      if (typeof url !== "string") throw errors.payload(model.entitySetName, "The '@odata.id' of the reference is missing.");
      const child = this.tables.resolveRowUrl(url, ctx, rel.model.entitySetName);
      const childRow = this.tables.findRow(child.model, child.address);
      if (!childRow) throw this.tables.notFound(child.model, child.address);
      this.engine.write(child.model, { kind: "id", id: childRow.id }, { [`${rel.nav}@odata.bind`]: `/${model.entitySetName}(${row.id})` }, "update", ctx);
      return noContent();
    }
    if (req.method === "DELETE") {
      let childAddress: RowAddress;
      if (seg.keys !== undefined) {
        childAddress = this.tables.addressFromSegment(rel.model, seg, true);
      } else {
        const id = new URLSearchParams(req.query).get("$id");
        if (id === null) throw errors.badRequest("The $id query option is required to remove a reference from a collection.");
        childAddress = this.tables.resolveRowUrl(id, ctx, rel.model.entitySetName).address;
      }
      const childRow = this.tables.findRow(rel.model, childAddress);
      if (!childRow) throw this.tables.notFound(rel.model, childAddress);
      const current = childRow.values[rel.column];
      if (!isLookup(current) || current.id !== row.id) {
        // Learn is silent on removing a reference that isn't there; the pair is simply not related.
        throw errors.notFoundById(rel.model.logicalName, childRow.id);
      }
      this.engine.write(rel.model, { kind: "id", id: childRow.id }, { [rel.nav]: null }, "update", ctx);
      return noContent();
    }
    throw errors.methodNotAllowed(req.method);
  }
}
