// The marketing list's actions (list table reference, Messages; Web API action reference):
//   AddListMembersList  unbound, {"List": list, "Members": [crmbaseentity]}: adds many members at once
//   AddMemberList       bound to list, {"EntityId": guid} → AddMemberListResponse {"Id"}
//   RemoveMemberList    bound to list, {"EntityId": guid}
// They go through the same association path as `$ref` on listcontact_association, so the list rules
// (member type, locked, dynamic) and MemberCount hold either way. Members already in the list are
// left as they are: adding is idempotent, as the list's own "Add members" is.
import type { ServiceRequest, ServiceResponse } from "./types.js";
import { type TableModel, stableGuid } from "./model.js";
import type { Row } from "./store.js";
import { errors } from "./errors.js";
import { parseBody } from "./query.js";
import { json, noContent } from "./responses.js";
import type { RowAddress, Tables } from "./addressing.js";
import type { Associations } from "./associations.js";

const NS = "Microsoft.Dynamics.CRM.";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const LIST_BOUND_ACTIONS = ["AddMemberList", "RemoveMemberList"] as const;

export class ListActions {
  constructor(
    private readonly tables: Tables,
    private readonly associations: Associations,
  ) {}

  /** `POST AddListMembersList`: one request, many members; costed per member like a bulk action. */
  addListMembersList(req: ServiceRequest): ServiceResponse {
    if (req.method !== "POST") throw errors.noHttpResource(req.serviceRoot + req.path);
    const body = parseBody(req.body, "lists");
    const listParam = body["List"];
    const members = body["Members"];
    if (typeof listParam !== "object" || listParam === null || Array.isArray(listParam)) {
      throw errors.badRequest("The parameter 'List' is required.", "0x80048d19");
    }
    if (!Array.isArray(members)) throw errors.badRequest("The parameter 'Members' is required.", "0x80048d19");
    const listModel = this.listModel();
    const listId = (listParam as Record<string, unknown>)["listid"];
    if (typeof listId !== "string" || !GUID.test(listId)) throw errors.badRequest("The 'List' parameter has no listid.", "0x80048d19");
    const list = this.findList(listModel, { kind: "id", id: listId.toLowerCase() });
    for (const m of members) {
      if (typeof m !== "object" || m === null || Array.isArray(m)) throw errors.payload("lists", "Every item of 'Members' must be an entity object.");
      const member = m as Record<string, unknown>;
      // use-web-api-actions: a parameter typed crmbaseentity needs @odata.type to name its table.
      const type = member["@odata.type"];
      if (typeof type !== "string") {
        throw errors.payload("lists", "A resource in Members has no '@odata.type' annotation; it is required to identify the entity type.");
      }
      const model = this.tables.models.get(type.replace(/^#/, "").replace(NS, ""));
      if (!model) throw errors.payload("lists", `The entity type '${type}' of a member is not known.`);
      const id = member[model.primaryId];
      if (typeof id !== "string" || !GUID.test(id)) throw errors.badRequest(`A member has no '${model.primaryId}'.`, "0x80040203");
      const row = this.tables.findRow(model, { kind: "id", id: id.toLowerCase() });
      if (!row) throw errors.notFoundById(model.logicalName, id.toLowerCase());
      const side = this.memberSide(listModel, model);
      if (this.associations.related(side, list.id).has(row.id)) continue;
      this.associations.associate(req.caller, listModel, list, side, row);
    }
    return { ...noContent(), cost: { records: members.length, bulk: true } };
  }

  /** `POST lists(id)/Microsoft.Dynamics.CRM.AddMemberList` and `…RemoveMemberList`. */
  bound(req: ServiceRequest, model: TableModel, address: RowAddress, action: string): ServiceResponse {
    if (model.logicalName !== "list" || !(LIST_BOUND_ACTIONS as readonly string[]).includes(action)) {
      throw errors.resourceNotFound(`${NS}${action}`);
    }
    if (req.method !== "POST") throw errors.noHttpResource(req.serviceRoot + req.path);
    const list = this.findList(model, address);
    const entityId = parseBody(req.body, "lists")["EntityId"];
    if (typeof entityId !== "string" || !GUID.test(entityId)) throw errors.badRequest("The parameter 'EntityId' is required.", "0x80048d19");
    const memberTable = Object.entries({ 1: "account", 2: "contact", 4: "lead" }).find(([code]) => Number(code) === list.values["createdfromcode"])?.[1];
    const memberModel = memberTable === undefined ? undefined : this.tables.models.get(memberTable);
    if (!memberModel) throw errors.internal();
    const side = this.memberSide(model, memberModel);
    const id = entityId.toLowerCase();
    const member = this.tables.findRow(memberModel, { kind: "id", id });
    if (!member) throw errors.notFoundById(memberModel.logicalName, id);
    if (action === "RemoveMemberList") {
      this.associations.disassociate(req.caller, model, list, side, member.id);
      return noContent();
    }
    if (!this.associations.related(side, list.id).has(member.id)) this.associations.associate(req.caller, model, list, side, member);
    return json(200, {
      "@odata.context": `${req.serviceRoot}$metadata#${NS}AddMemberListResponse`,
      // The listmember row's id; the emulator keeps no listmember rows, so it is derived from the pair.
      Id: stableGuid(`listmember:${list.id}:${member.id}`),
    });
  }

  private listModel(): TableModel {
    const m = this.tables.models.get("list");
    if (!m) throw errors.resourceNotFound("AddListMembersList");
    return m;
  }

  private findList(model: TableModel, address: RowAddress): Row {
    const row = this.tables.findRow(model, address);
    if (!row) throw this.tables.notFound(model, address);
    return row;
  }

  private memberSide(listModel: TableModel, member: TableModel) {
    for (const side of listModel.manyToMany.values()) {
      if (side.other === member.logicalName && side.relationship.intersectEntityName === "listmember") return side;
    }
    throw errors.listMemberTypeMismatch(member.logicalName);
  }
}
