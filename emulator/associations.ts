// Many-to-many relationships (associate-disassociate-entities-using-web-api, entity-operations-
// associate-disassociate): a pair of rows is related by a row of the relationship's intersect
// table. Every change goes through here, so the marketing-list rules (list-members.ts) hold
// whichever way a member arrives: `$ref` on listcontact_association or a list action.
import type { Caller } from "./types.js";
import type { ManyToManySide, TableModel } from "./model.js";
import type { IntersectStore, Row } from "./store.js";
import { errors } from "./errors.js";
import type { Tables } from "./addressing.js";
import { checkListMembershipChange, isListMembership, refreshMemberCount } from "./list-members.js";

export class Associations {
  constructor(private readonly tables: Tables) {}

  /** The ids of the rows related to `row` through one of its collection-valued navigation properties. */
  related(side: ManyToManySide, rowId: string): ReadonlySet<string> {
    return this.intersect(side).related(side.side, rowId);
  }

  /**
   * Relates `row` (of `model`) and `other` (of `side.other`). Learn's privilege rule for
   * associating: Append on the row's table and AppendTo on the other's.
   */
  associate(caller: Caller, model: TableModel, row: Row, side: ManyToManySide, other: Row): void {
    const otherModel = this.otherModel(side);
    this.tables.demand(caller, model, "append");
    this.tables.demand(caller, otherModel, "appendto");
    const [id1, id2] = side.side === 1 ? [row.id, other.id] : [other.id, row.id];
    const intersect = this.intersect(side);
    if (isListMembership(side.relationship)) checkListMembershipChange(this.tables, side.relationship, id1, true);
    if (intersect.has(id1, id2)) throw errors.duplicateAssociation();
    this.tables.store.relate(intersect, id1, id2, true);
    if (isListMembership(side.relationship)) refreshMemberCount(this.tables, id1, intersect);
  }

  /** Removes the pair; a pair that is not related is left as it is (see emulator.md). */
  disassociate(caller: Caller, model: TableModel, row: Row, side: ManyToManySide, otherId: string): void {
    this.tables.demand(caller, model, "append");
    this.tables.demand(caller, this.otherModel(side), "appendto");
    const [id1, id2] = side.side === 1 ? [row.id, otherId] : [otherId, row.id];
    const intersect = this.intersect(side);
    if (isListMembership(side.relationship)) checkListMembershipChange(this.tables, side.relationship, id1, false);
    if (!intersect.has(id1, id2)) return;
    this.tables.store.relate(intersect, id1, id2, false);
    if (isListMembership(side.relationship)) refreshMemberCount(this.tables, id1, intersect);
  }

  otherModel(side: ManyToManySide): TableModel {
    const m = this.tables.models.get(side.other);
    if (!m) throw errors.internal();
    return m;
  }

  private intersect(side: ManyToManySide): IntersectStore {
    const i = this.tables.store.intersect(side.relationship.schemaName);
    if (!i) throw errors.internal();
    return i;
  }
}
