// The environment's table definitions: the emulator's own reading of Dataverse metadata.
// Deliberately independent of src/model/table-meta.ts (the emulator shares no code with src/).

export type AttributeType =
  | "String"
  | "Memo"
  | "Integer"
  | "BigInt"
  | "Decimal"
  | "Double"
  | "Money"
  | "Boolean"
  | "DateTime"
  | "Picklist"
  | "MultiSelectPicklist"
  | "State"
  | "Status"
  | "Lookup"
  | "Customer"
  | "Owner"
  | "Uniqueidentifier"
  | "EntityName";

export type RequiredLevel = "None" | "SystemRequired" | "ApplicationRequired" | "Recommended";
export type DateTimeBehavior = "UserLocal" | "DateOnly" | "TimeZoneIndependent";
export type KeyStatus = "Pending" | "InProgress" | "Active" | "Failed";

export interface OptionDefinition {
  readonly value: number;
  readonly label: string;
  /** Status options: the statecode this status belongs to. */
  readonly state?: number;
  /** State options: the statuscode used when only statecode is given. */
  readonly defaultStatus?: number;
}

export interface ColumnDefinition {
  readonly logicalName: string;
  /** Defaults to the logical name. */
  readonly schemaName?: string;
  readonly type: AttributeType;
  readonly requiredLevel?: RequiredLevel;
  /** Default true, except for system-managed columns. */
  readonly validForCreate?: boolean;
  readonly validForUpdate?: boolean;
  readonly maxLength?: number;
  readonly minValue?: number;
  readonly maxValue?: number;
  readonly precision?: number;
  /** String: "Email", "Phone", "Text", "Url"...; DateTime: "DateOnly" | "DateAndTime". */
  readonly format?: string;
  readonly dateTimeBehavior?: DateTimeBehavior;
  readonly options?: readonly OptionDefinition[];
  /** Lookup, Customer, Owner: the logical names of the tables it can point at. */
  readonly targets?: readonly string[];
  readonly attributeOf?: string;
  /** Boolean, Picklist, Integer: the value a create without the column stores (Boolean DefaultValue). */
  readonly defaultValue?: boolean | number;
}

export interface KeyDefinition {
  readonly logicalName: string;
  readonly schemaName?: string;
  readonly attributes: readonly string[];
  /** Default "Active". Only Active keys can address rows. */
  readonly status?: KeyStatus;
}

export interface RelationshipDefinition {
  readonly schemaName: string;
  /** The lookup column on this table. */
  readonly referencingAttribute: string;
  readonly referencedEntity: string;
  /** Defaults to the referenced table's primary id. */
  readonly referencedAttribute?: string;
  /** Case-sensitive navigation property used in `<nav>@odata.bind`. */
  readonly navigationProperty: string;
}

/**
 * A many-to-many relationship (ManyToManyRelationshipMetadata): rows of two tables related through
 * an intersect table, each side reaching the other through a collection-valued navigation property.
 */
export interface ManyToManyDefinition {
  readonly schemaName: string;
  readonly entity1LogicalName: string;
  readonly entity2LogicalName: string;
  /** Default: the schema name (Dataverse names custom intersect tables after the relationship). */
  readonly intersectEntityName?: string;
  /** Defaults: the two tables' primary ids. */
  readonly entity1IntersectAttribute?: string;
  readonly entity2IntersectAttribute?: string;
  /** Defaults: the schema name, as for the system relationships (listcontact_association). */
  readonly entity1NavigationPropertyName?: string;
  readonly entity2NavigationPropertyName?: string;
  /** IsCustomRelationship; default true (the system relationships of the default environment say false). */
  readonly isCustomRelationship?: boolean;
  readonly metadataId?: string;
}

/** Which bulk messages the table has (answers the sdkmessagefilters probe). */
export interface BulkAvailability {
  readonly createMultiple: boolean;
  readonly updateMultiple: boolean;
  readonly upsertMultiple: boolean;
}

export interface TableDefinition {
  readonly logicalName: string;
  readonly schemaName?: string;
  readonly entitySetName: string;
  readonly primaryIdAttribute: string;
  readonly primaryNameAttribute?: string;
  readonly objectTypeCode?: number;
  readonly ownershipType?: "UserOwned" | "OrganizationOwned" | "None";
  readonly tableType?: "Standard" | "Elastic";
  /** Default: all three messages available. */
  readonly bulk?: BulkAvailability;
  readonly columns: readonly ColumnDefinition[];
  readonly keys?: readonly KeyDefinition[];
  readonly relationships?: readonly RelationshipDefinition[];
  /** Fixed MetadataId; generated from the name when absent. */
  readonly metadataId?: string;
}
