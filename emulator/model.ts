// Compiled, indexed view of the environment's tables: every lookup a request needs is one Map get.
import { createHash } from "node:crypto";
import type { ColumnDefinition, KeyDefinition, ManyToManyDefinition, RelationshipDefinition, TableDefinition } from "./schema.js";

export interface NavigationProperty {
  readonly name: string;
  readonly column: ColumnDefinition;
  /** Tables a bind through this nav may target (one for a plain relationship, several for Owner). */
  readonly targets: readonly string[];
  readonly relationship: RelationshipDefinition;
}

/** A many-to-many relationship with every default filled in. */
export interface ManyToManyModel {
  readonly schemaName: string;
  readonly metadataId: string;
  readonly intersectEntityName: string;
  readonly entity1: string;
  readonly entity2: string;
  readonly entity1IntersectAttribute: string;
  readonly entity2IntersectAttribute: string;
  readonly entity1Nav: string;
  readonly entity2Nav: string;
  readonly custom: boolean;
}

/** One side of a many-to-many relationship: the collection-valued navigation property of a table. */
export interface ManyToManySide {
  readonly relationship: ManyToManyModel;
  /** The table at the other end. */
  readonly other: string;
  /** Which entity of the relationship this table is (1 or 2). */
  readonly side: 1 | 2;
}

export interface TableModel {
  readonly def: TableDefinition;
  readonly logicalName: string;
  readonly entitySetName: string;
  readonly schemaName: string;
  readonly primaryId: string;
  readonly objectTypeCode: number;
  readonly metadataId: string;
  readonly columns: ReadonlyMap<string, ColumnDefinition>;
  readonly columnList: readonly ColumnDefinition[];
  readonly navs: ReadonlyMap<string, NavigationProperty>;
  /** Lookup column → the navs that write it (several for Customer lookups). */
  readonly navsByColumn: ReadonlyMap<string, readonly NavigationProperty[]>;
  readonly keys: readonly KeyDefinition[];
  /** Active keys by their sorted attribute list joined with ",". */
  readonly activeKeysBySignature: ReadonlyMap<string, KeyDefinition>;
  readonly bulk: { createMultiple: boolean; updateMultiple: boolean; upsertMultiple: boolean };
  /** Collection-valued navigation properties of the many-to-many relationships, by name. */
  readonly manyToMany: ReadonlyMap<string, ManyToManySide>;
}

/** Lookup, Customer and Owner columns: written through a navigation property, read as `_<name>_value`. */
export function isLookupType(c: ColumnDefinition): boolean {
  return c.type === "Lookup" || c.type === "Customer" || c.type === "Owner";
}

export function stableGuid(seed: string): string {
  const h = createHash("sha1").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function keySignature(columns: readonly string[]): string {
  return [...columns].sort().join(",");
}

// Columns every user- or organization-owned table has; the environment file need not list them.
function systemColumns(def: TableDefinition): ColumnDefinition[] {
  const cols: ColumnDefinition[] = [
    { logicalName: "createdon", type: "DateTime", dateTimeBehavior: "UserLocal", format: "DateAndTime", validForCreate: false, validForUpdate: false },
    { logicalName: "modifiedon", type: "DateTime", dateTimeBehavior: "UserLocal", format: "DateAndTime", validForCreate: false, validForUpdate: false },
    { logicalName: "createdby", type: "Lookup", targets: ["systemuser"], validForCreate: false, validForUpdate: false },
    { logicalName: "modifiedby", type: "Lookup", targets: ["systemuser"], validForCreate: false, validForUpdate: false },
    { logicalName: "versionnumber", type: "BigInt", validForCreate: false, validForUpdate: false },
  ];
  if (def.ownershipType !== "OrganizationOwned" && def.ownershipType !== "None") {
    cols.push(
      { logicalName: "ownerid", type: "Owner", targets: ["systemuser", "team"], requiredLevel: "SystemRequired" },
      { logicalName: "owningbusinessunit", type: "Lookup", targets: ["businessunit"], validForCreate: false, validForUpdate: false },
    );
  }
  return cols;
}

export function compileTables(defs: readonly TableDefinition[], manyToMany: readonly ManyToManyDefinition[] = []): Map<string, TableModel> {
  const out = new Map<string, TableModel>();
  const byName = new Map(defs.map((d) => [d.logicalName, d]));
  const sides = new Map<string, Map<string, ManyToManySide>>();
  for (const def of manyToMany) {
    const rel = compileManyToMany(def, byName);
    const add = (table: string, nav: string, side: ManyToManySide): void => {
      const m = sides.get(table) ?? new Map<string, ManyToManySide>();
      m.set(nav, side);
      sides.set(table, m);
    };
    add(rel.entity1, rel.entity1Nav, { relationship: rel, other: rel.entity2, side: 1 });
    add(rel.entity2, rel.entity2Nav, { relationship: rel, other: rel.entity1, side: 2 });
  }
  for (const def of defs) {
    const columns = new Map<string, ColumnDefinition>();
    for (const c of def.columns) columns.set(c.logicalName, c);
    for (const c of systemColumns(def)) if (!columns.has(c.logicalName)) columns.set(c.logicalName, c);
    const navs = new Map<string, NavigationProperty>();
    const relationships: RelationshipDefinition[] = [...(def.relationships ?? [])];
    // Owner lookups bind through one nav, `ownerid`, to either systemusers or teams.
    const owner = columns.get("ownerid");
    if (owner && owner.type === "Owner" && !relationships.some((r) => r.navigationProperty === "ownerid")) {
      relationships.push({
        schemaName: `owner_${def.entitySetName}`,
        referencingAttribute: "ownerid",
        referencedEntity: "owner",
        referencedAttribute: "ownerid",
        navigationProperty: "ownerid",
      });
    }
    for (const rel of relationships) {
      const column = columns.get(rel.referencingAttribute);
      if (!column) continue;
      const targets =
        rel.referencedEntity === "owner" ? (column.targets ?? ["systemuser", "team"]) : [rel.referencedEntity];
      navs.set(rel.navigationProperty, { name: rel.navigationProperty, column, targets, relationship: rel });
    }
    const navsByColumn = new Map<string, NavigationProperty[]>();
    for (const nav of navs.values()) {
      const list = navsByColumn.get(nav.column.logicalName) ?? [];
      list.push(nav);
      navsByColumn.set(nav.column.logicalName, list);
    }
    const keys = def.keys ?? [];
    const activeKeysBySignature = new Map<string, KeyDefinition>();
    for (const k of keys) {
      if ((k.status ?? "Active") === "Active") activeKeysBySignature.set(keySignature(k.attributes), k);
    }
    out.set(def.logicalName, {
      def,
      logicalName: def.logicalName,
      entitySetName: def.entitySetName,
      schemaName: def.schemaName ?? schemaNameOf(def.logicalName),
      primaryId: def.primaryIdAttribute,
      objectTypeCode: def.objectTypeCode ?? 10000 + out.size,
      metadataId: def.metadataId ?? stableGuid(`table:${def.logicalName}`),
      columns,
      columnList: [...columns.values()],
      navs,
      navsByColumn,
      keys,
      activeKeysBySignature,
      bulk: def.bulk ?? { createMultiple: true, updateMultiple: true, upsertMultiple: true },
      manyToMany: sides.get(def.logicalName) ?? new Map(),
    });
  }
  return out;
}

function compileManyToMany(def: ManyToManyDefinition, tables: ReadonlyMap<string, TableDefinition>): ManyToManyModel {
  const pk = (t: string): string => tables.get(t)?.primaryIdAttribute ?? `${t}id`;
  return {
    schemaName: def.schemaName,
    metadataId: def.metadataId ?? stableGuid(`m2m:${def.schemaName}`),
    intersectEntityName: def.intersectEntityName ?? def.schemaName.toLowerCase(),
    entity1: def.entity1LogicalName,
    entity2: def.entity2LogicalName,
    entity1IntersectAttribute: def.entity1IntersectAttribute ?? pk(def.entity1LogicalName),
    entity2IntersectAttribute: def.entity2IntersectAttribute ?? pk(def.entity2LogicalName),
    entity1Nav: def.entity1NavigationPropertyName ?? def.schemaName,
    entity2Nav: def.entity2NavigationPropertyName ?? def.schemaName,
    custom: def.isCustomRelationship ?? true,
  };
}

/** "contact" → "Contact", "new_membership" → "new_Membership" (the usual SchemaName casing). */
function schemaNameOf(logicalName: string): string {
  const i = logicalName.indexOf("_");
  if (i > 0 && i < logicalName.length - 1) {
    return logicalName.slice(0, i + 1) + logicalName.charAt(i + 1).toUpperCase() + logicalName.slice(i + 2);
  }
  return logicalName.charAt(0).toUpperCase() + logicalName.slice(1);
}

export function columnSchemaName(c: ColumnDefinition): string {
  return c.schemaName ?? schemaNameOf(c.logicalName);
}
