// The table metadata the connector reads from EntityDefinitions, reduced to what mapping needs.
// Produced by dataverse/metadata.ts (from the Web API), consumed by mapping/ and commands/.
// Plain data: no OData shapes leak past this file.

export type ColumnType =
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
  | "Other";

export type RequiredLevel = "None" | "SystemRequired" | "ApplicationRequired" | "Recommended";
export type DateTimeBehavior = "UserLocal" | "DateOnly" | "TimeZoneIndependent";
export type KeyStatus = "Pending" | "InProgress" | "Active" | "Failed";

export interface ChoiceOption {
  readonly value: number;
  /** Label in the environment's base language (UserLocalizedLabel). */
  readonly label: string;
  /** Status options only: the statecode this status belongs to. */
  readonly state?: number;
  /** State options only: the default statuscode of this state. */
  readonly defaultStatus?: number;
}

export interface ColumnMeta {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly type: ColumnType;
  /** AttributeTypeName.Value, e.g. "StringType", "MultiSelectPicklistType". */
  readonly typeName: string;
  readonly requiredLevel: RequiredLevel;
  readonly validForCreate: boolean;
  readonly validForUpdate: boolean;
  readonly isPrimaryId: boolean;
  /** Set when this column is computed from another (e.g. the *name columns of lookups). */
  readonly attributeOf?: string;
  readonly maxLength?: number;
  readonly minValue?: number;
  readonly maxValue?: number;
  readonly precision?: number;
  readonly dateTimeBehavior?: DateTimeBehavior;
  /** "DateOnly" | "DateAndTime" */
  readonly dateTimeFormat?: string;
  readonly options?: readonly ChoiceOption[];
  /** Lookup, Customer, Owner: the logical names of the tables it can point at. */
  readonly targets?: readonly string[];
}

export interface KeyMeta {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly columns: readonly string[];
  readonly status: KeyStatus;
}

export interface ManyToOneMeta {
  readonly schemaName: string;
  /** The lookup column on this table, e.g. "parentcustomerid". */
  readonly referencingAttribute: string;
  /** The table it points at, e.g. "account". */
  readonly referencedEntity: string;
  readonly referencedAttribute: string;
  /** Case-sensitive single-valued navigation property used in `<nav>@odata.bind`. */
  readonly navigationProperty: string;
}

export interface BulkSupport {
  readonly createMultiple: boolean;
  readonly updateMultiple: boolean;
  readonly upsertMultiple: boolean;
}

export interface TableMeta {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly entitySetName: string;
  readonly primaryIdAttribute: string;
  readonly primaryNameAttribute: string;
  /** "Standard" | "Elastic" | ... */
  readonly tableType: string;
  readonly columns: ReadonlyMap<string, ColumnMeta>;
  readonly keys: readonly KeyMeta[];
  readonly manyToOne: readonly ManyToOneMeta[];
  readonly bulk: BulkSupport;
  /**
   * How the environment compares this table's key text (its SQL collation, from the organization's
   * base language; see key-identity.ts). Absent: the default, _CI_AI.
   */
  readonly keyCollation?: KeyCollation;
}

/** How the environment's SQL collation compares text (all Dataverse collations are case-insensitive). */
export interface KeyCollation {
  /** The LCID of the base language it came from; undefined when unknown (the default applies). */
  readonly language: number | undefined;
  readonly accentSensitive: boolean;
}

/** Resolves a related table's metadata (lookup targets); implemented by the metadata cache. */
export type TableLookup = (logicalName: string) => TableMeta | undefined;
