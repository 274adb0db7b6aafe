// Hand-built TableMeta fixtures, the one set every unit test uses (mapping, dataverse, pipeline),
// modelled on Microsoft's contact, account, systemuser and team columns (names, types, lengths
// and options as in a standard environment), plus a few contoso_* custom columns and keys for the
// cases the standard tables lack. A test that needs another key or a column of another shape
// says so through FixtureOverrides.
import type { ChoiceOption, ColumnMeta, KeyMeta, ManyToOneMeta, TableLookup, TableMeta } from "../model/table-meta.js";
import type { FieldMapping, KeyStrategy, StreamMapping } from "../config/types.js";

const INT_MAX = 2147483647;

type ColumnInit = Partial<ColumnMeta> & Pick<ColumnMeta, "logicalName" | "type">;

const TYPE_NAMES: Record<ColumnMeta["type"], string> = {
  String: "StringType", Memo: "MemoType", Integer: "IntegerType", BigInt: "BigIntType", Decimal: "DecimalType",
  Double: "DoubleType", Money: "MoneyType", Boolean: "BooleanType", DateTime: "DateTimeType", Picklist: "PicklistType",
  MultiSelectPicklist: "MultiSelectPicklistType", State: "StateType", Status: "StatusType", Lookup: "LookupType",
  Customer: "CustomerType", Owner: "OwnerType", Uniqueidentifier: "UniqueidentifierType", Other: "VirtualType",
};

export function col(init: ColumnInit): ColumnMeta {
  return {
    schemaName: init.logicalName,
    typeName: TYPE_NAMES[init.type],
    requiredLevel: "None",
    validForCreate: true,
    validForUpdate: true,
    isPrimaryId: false,
    ...init,
  };
}

const opts = (...pairs: [number, string][]): ChoiceOption[] => pairs.map(([value, label]) => ({ value, label }));

const stateOptions: ChoiceOption[] = [
  { value: 0, label: "Active", defaultStatus: 1 },
  { value: 1, label: "Inactive", defaultStatus: 2 },
];
const statusOptions: ChoiceOption[] = [
  { value: 1, label: "Active", state: 0 },
  { value: 2, label: "Inactive", state: 1 },
];

function common(primaryId: string): ColumnMeta[] {
  return [
    col({ logicalName: primaryId, type: "Uniqueidentifier", isPrimaryId: true, validForUpdate: false, requiredLevel: "SystemRequired" }),
    col({ logicalName: "statecode", type: "State", validForCreate: false, requiredLevel: "SystemRequired", options: stateOptions }),
    col({ logicalName: "statuscode", type: "Status", options: statusOptions }),
    col({ logicalName: "ownerid", type: "Owner", requiredLevel: "SystemRequired", targets: ["systemuser", "team"] }),
    col({ logicalName: "owneridname", type: "String", attributeOf: "ownerid", validForCreate: false, validForUpdate: false, maxLength: 100 }),
    col({ logicalName: "createdon", type: "DateTime", dateTimeBehavior: "UserLocal", dateTimeFormat: "DateAndTime", validForCreate: false, validForUpdate: false }),
    col({ logicalName: "modifiedby", type: "Lookup", targets: ["systemuser"], validForCreate: false, validForUpdate: false }),
    col({ logicalName: "versionnumber", type: "BigInt", validForCreate: false, validForUpdate: false }),
    col({ logicalName: "overriddencreatedon", type: "DateTime", dateTimeBehavior: "UserLocal", dateTimeFormat: "DateOnly", validForUpdate: false }),
    col({ logicalName: "transactioncurrencyid", type: "Lookup", targets: ["transactioncurrency"] }),
  ];
}

const rel = (referencingAttribute: string, referencedEntity: string, navigationProperty: string, schemaName: string): ManyToOneMeta => ({
  schemaName,
  referencingAttribute,
  referencedEntity,
  referencedAttribute: `${referencedEntity}id`,
  navigationProperty,
});

function table(init: Omit<TableMeta, "columns" | "bulk" | "tableType" | "schemaName"> & { columns: readonly ColumnMeta[] }, o: FixtureOverrides = {}): TableMeta {
  const columns = new Map(init.columns.map((c) => [c.logicalName, c]));
  for (const c of o.columns ?? []) columns.set(c.logicalName, c);
  return {
    ...init,
    schemaName: init.logicalName.charAt(0).toUpperCase() + init.logicalName.slice(1),
    tableType: "Standard",
    columns,
    bulk: { createMultiple: true, updateMultiple: true, upsertMultiple: true },
  };
}

export interface FixtureOverrides {
  /** Replaces the table's alternate keys. */
  readonly keys?: readonly KeyMeta[];
  /** Replace the columns of the same logical name, or add to them. */
  readonly columns?: readonly ColumnMeta[];
}

export function contactTable(o: FixtureOverrides = {}): TableMeta {
  return table({
    logicalName: "contact",
    entitySetName: "contacts",
    primaryIdAttribute: "contactid",
    primaryNameAttribute: "fullname",
    columns: [
      ...common("contactid"),
      col({ logicalName: "firstname", type: "String", maxLength: 50 }),
      col({ logicalName: "lastname", type: "String", maxLength: 50, requiredLevel: "ApplicationRequired" }),
      col({ logicalName: "fullname", type: "String", maxLength: 160, validForCreate: false, validForUpdate: false }),
      col({ logicalName: "emailaddress1", type: "String", maxLength: 100 }),
      col({ logicalName: "description", type: "Memo", maxLength: 2000 }),
      col({ logicalName: "birthdate", type: "DateTime", dateTimeBehavior: "DateOnly", dateTimeFormat: "DateOnly" }),
      col({ logicalName: "lastonholdtime", type: "DateTime", dateTimeBehavior: "UserLocal", dateTimeFormat: "DateAndTime" }),
      col({ logicalName: "annualincome", type: "Money", precision: 2, minValue: 0, maxValue: 100_000_000_000_000 }),
      col({ logicalName: "numberofchildren", type: "Integer", minValue: 0, maxValue: 1_000_000_000 }),
      col({ logicalName: "address1_latitude", type: "Double", precision: 5, minValue: -90, maxValue: 90 }),
      col({ logicalName: "donotemail", type: "Boolean" }),
      col({ logicalName: "gendercode", type: "Picklist", options: opts([1, "Male"], [2, "Female"]) }),
      col({ logicalName: "preferredcontactmethodcode", type: "Picklist", options: opts([1, "Any"], [2, "Email"], [3, "Phone"], [4, "Fax"], [5, "Mail"]) }),
      col({ logicalName: "stageid", type: "Uniqueidentifier" }),
      col({ logicalName: "parentcustomerid", type: "Customer", targets: ["account", "contact"] }),
      col({ logicalName: "parentcustomeridname", type: "String", attributeOf: "parentcustomerid", validForCreate: false, validForUpdate: false, maxLength: 160 }),
      col({ logicalName: "entityimage", type: "Other", typeName: "ImageType" }),
      col({ logicalName: "contoso_externalid", type: "String", maxLength: 100 }),
      col({ logicalName: "contoso_legacyid", type: "Integer", minValue: 0, maxValue: INT_MAX }),
      col({ logicalName: "contoso_hobbies", type: "MultiSelectPicklist", options: opts([1, "Reading"], [2, "Hiking"], [3, "Chess"], [4, "Cooking"]) }),
      col({ logicalName: "contoso_lastcontacted", type: "DateTime", dateTimeBehavior: "TimeZoneIndependent", dateTimeFormat: "DateAndTime" }),
      col({ logicalName: "contoso_score", type: "Decimal", precision: 2, minValue: -1000, maxValue: 1000 }),
      col({ logicalName: "contoso_views", type: "BigInt" }),
      col({ logicalName: "contoso_createonly", type: "String", maxLength: 20, validForUpdate: false }),
    ],
    keys: o.keys ?? [
      { logicalName: "contoso_externalid_key", schemaName: "contoso_ExternalIdKey", columns: ["contoso_externalid"], status: "Active" },
      { logicalName: "contoso_name_email_key", schemaName: "contoso_NameEmailKey", columns: ["firstname", "emailaddress1"], status: "Active" },
      { logicalName: "contoso_legacy_key", schemaName: "contoso_LegacyKey", columns: ["contoso_legacyid"], status: "Pending" },
    ],
    manyToOne: [
      rel("parentcustomerid", "account", "parentcustomerid_account", "contact_customer_accounts"),
      rel("parentcustomerid", "contact", "parentcustomerid_contact", "contact_customer_contacts"),
      rel("ownerid", "owner", "ownerid", "owner_contacts"),
      rel("modifiedby", "systemuser", "modifiedby", "lk_contact_modifiedby"),
      rel("transactioncurrencyid", "transactioncurrency", "transactioncurrencyid", "TransactionCurrency_Contact"),
    ],
  }, o);
}

export function accountTable(o: FixtureOverrides = {}): TableMeta {
  return table({
    logicalName: "account",
    entitySetName: "accounts",
    primaryIdAttribute: "accountid",
    primaryNameAttribute: "name",
    columns: [
      ...common("accountid"),
      col({ logicalName: "name", type: "String", maxLength: 160, requiredLevel: "ApplicationRequired" }),
      col({ logicalName: "accountnumber", type: "String", maxLength: 20 }),
      col({ logicalName: "address1_city", type: "String", maxLength: 80 }),
      col({ logicalName: "creditlimit", type: "Money", precision: 2, minValue: 0, maxValue: 100_000_000_000_000 }),
      col({ logicalName: "numberofemployees", type: "Integer", minValue: 0, maxValue: 1_000_000_000 }),
      col({ logicalName: "industrycode", type: "Picklist", options: opts([1, "Accounting"], [2, "Agriculture and Non-petrol Natural Resource Extraction"], [33, "Wholesale"]) }),
      col({ logicalName: "primarycontactid", type: "Lookup", targets: ["contact"] }),
      col({ logicalName: "parentaccountid", type: "Lookup", targets: ["account"] }),
      col({ logicalName: "contoso_region", type: "String", maxLength: 10 }),
    ],
    keys: o.keys ?? [
      { logicalName: "contoso_accountnumber_key", schemaName: "contoso_AccountNumberKey", columns: ["accountnumber"], status: "Active" },
      { logicalName: "contoso_region_number_key", schemaName: "contoso_RegionNumberKey", columns: ["contoso_region", "accountnumber"], status: "Active" },
    ],
    manyToOne: [
      rel("primarycontactid", "contact", "primarycontactid", "account_primary_contact"),
      rel("parentaccountid", "account", "parentaccountid", "account_parent_account"),
      rel("ownerid", "owner", "ownerid", "owner_accounts"),
      rel("modifiedby", "systemuser", "modifiedby", "lk_accountbase_modifiedby"),
      rel("transactioncurrencyid", "transactioncurrency", "transactioncurrencyid", "transactioncurrency_account"),
    ],
  }, o);
}

export function systemuserTable(): TableMeta {
  return table({
    logicalName: "systemuser",
    entitySetName: "systemusers",
    primaryIdAttribute: "systemuserid",
    primaryNameAttribute: "fullname",
    columns: [
      col({ logicalName: "systemuserid", type: "Uniqueidentifier", isPrimaryId: true, validForUpdate: false }),
      col({ logicalName: "domainname", type: "String", maxLength: 1024, requiredLevel: "SystemRequired" }),
    ],
    keys: [],
    manyToOne: [],
  });
}

export function teamTable(): TableMeta {
  return table({
    logicalName: "team",
    entitySetName: "teams",
    primaryIdAttribute: "teamid",
    primaryNameAttribute: "name",
    columns: [
      col({ logicalName: "teamid", type: "Uniqueidentifier", isPrimaryId: true, validForUpdate: false }),
      col({ logicalName: "name", type: "String", maxLength: 160, requiredLevel: "SystemRequired" }),
    ],
    keys: [],
    manyToOne: [],
  });
}

/** A TableLookup over the fixtures (transactioncurrency deliberately absent). */
export function fixtureTables(...extra: TableMeta[]): TableLookup {
  const all = new Map<string, TableMeta>();
  for (const t of [contactTable(), accountTable(), systemuserTable(), teamTable(), ...extra]) all.set(t.logicalName, t);
  return (name) => all.get(name);
}

/** A StreamMapping with defaults a test overrides. */
export function streamMapping(init: {
  readonly name?: string;
  readonly table?: string;
  readonly mode?: StreamMapping["mode"];
  readonly key?: KeyStrategy;
  readonly fields?: Record<string, FieldMapping>;
  readonly nulls?: StreamMapping["nulls"];
  readonly truncateStrings?: boolean;
  readonly deleteAction?: StreamMapping["deleteAction"];
}): StreamMapping {
  return {
    name: init.name ?? "contacts",
    table: init.table ?? "contact",
    mode: init.mode ?? "upsert",
    key: init.key ?? { kind: "alternate_key", name: "contoso_externalid_key" },
    fields: new Map(Object.entries(init.fields ?? {})),
    nulls: init.nulls ?? "ignore",
    truncateStrings: init.truncateStrings ?? false,
    deleteAction: init.deleteAction ?? "deactivate",
  };
}
