// The marketing list's membership rules (list table reference: Type "static or dynamic", CreatedFromCode
// "Each list can have only one member type", LockStatus "no additional members can be added", MemberCount
// "the sum of all members"). Its members are the rows related through listaccount_association,
// listcontact_association and listlead_association, whose intersect table is listmember.
import type { ManyToManyModel, TableModel } from "./model.js";
import type { IntersectStore, Value } from "./store.js";
import { errors } from "./errors.js";
import type { Tables } from "./addressing.js";

/** CreatedFromCode options: the member table of each list type. */
export const MEMBER_TYPE_CODES: Readonly<Record<string, number>> = { account: 1, contact: 2, lead: 4 };

export function isListMembership(rel: ManyToManyModel): boolean {
  return rel.entity1 === "list" && rel.intersectEntityName === "listmember";
}

/** Throws when the list may not gain (adding) or lose a member of the relationship's member table. */
export function checkListMembershipChange(tables: Tables, rel: ManyToManyModel, listId: string, adding: boolean): void {
  const list = tables.store.table("list")?.rows.get(listId);
  if (!list) return;
  const v = list.values;
  if (v["type"] === true) throw errors.listDynamic();
  if (!adding) return;
  if (v["lockstatus"] === true) throw errors.listLocked();
  const code = MEMBER_TYPE_CODES[rel.entity2];
  if (code === undefined || v["createdfromcode"] !== code) throw errors.listMemberTypeMismatch(rel.entity2);
}

/** Keeps `membercount` equal to the list's members after a change. */
export function refreshMemberCount(tables: Tables, listId: string, intersect: IntersectStore): void {
  const table = tables.store.table("list");
  const list = table?.rows.get(listId);
  if (!table || !list || !table.model.columns.has("membercount")) return;
  const count = intersect.related(1, listId).size;
  if (list.values["membercount"] === count) return;
  const version = tables.store.nextVersion();
  tables.store.put(table, { id: list.id, version, values: { ...list.values, membercount: count, versionnumber: version } });
}

/** A new list starts empty, and its MemberType is the member table's code it was created for. */
export function listCreateRules(model: TableModel, values: Record<string, Value>): void {
  if (model.logicalName !== "list") return;
  if (model.columns.has("membercount")) values["membercount"] = 0;
  if (model.columns.has("membertype") && typeof values["createdfromcode"] === "number") values["membertype"] = values["createdfromcode"];
}
