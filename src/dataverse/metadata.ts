// Table metadata from EntityDefinitions, reduced to model/table-meta.ts. Each table is loaded once
// per run (concurrent callers share the same load).
//
// Consistency: Strong is not sent by default: Microsoft documents it for reading metadata changed
// in the last ~30 s (a key or column just created), which a sync run does not do. Set
// `strongConsistency` for tools that create metadata and read it straight back.
import type { DataverseClient, WhoAmI } from "./client.js";
import { DataverseError, isObject } from "./errors.js";
import type {
  BulkSupport,
  ChoiceOption,
  ColumnMeta,
  ColumnType,
  DateTimeBehavior,
  KeyMeta,
  KeyStatus,
  ManyToOneMeta,
  RequiredLevel,
  TableLookup,
  TableMeta,
} from "../model/table-meta.js";
import { encodeQueryValue, filterLiteral } from "./keys.js";
import { collationForLanguage, DEFAULT_KEY_COLLATION, type KeyCollation } from "../model/key-identity.js";

export class TableNotFoundError extends Error {
  override readonly name = "TableNotFoundError";
  readonly code = "TABLE_NOT_FOUND";
  constructor(
    readonly table: string,
    cause?: unknown,
    /** The logical name of a table whose entity set, schema or display name is `table`. */
    readonly suggestion?: string,
  ) {
    super(`table '${table}' does not exist in this Dataverse environment (logical names are lower case, e.g. 'contact')${didYouMean(suggestion)}`, cause === undefined ? undefined : { cause });
  }
}

/** "; did you mean `contact`?" when there is a suggestion. */
export function didYouMean(suggestion: string | undefined): string {
  return suggestion === undefined ? "" : `; did you mean \`${suggestion}\` (its logical name)?`;
}

export interface TableSummary {
  readonly logicalName: string;
  readonly schemaName: string;
  readonly entitySetName: string;
  readonly primaryIdAttribute: string;
  readonly primaryNameAttribute: string;
  readonly displayName?: string;
  /** EntityMetadata flags discover scopes by (false when the service leaves one out). */
  readonly isCustomEntity: boolean;
  readonly isManaged: boolean;
  readonly isIntersect: boolean;
  readonly isPrivate: boolean;
  readonly tableType: string;
}

const COLUMN_TYPES: ReadonlySet<string> = new Set<ColumnType>([
  "String",
  "Memo",
  "Integer",
  "BigInt",
  "Decimal",
  "Double",
  "Money",
  "Boolean",
  "DateTime",
  "Picklist",
  "State",
  "Status",
  "Lookup",
  "Customer",
  "Owner",
  "Uniqueidentifier",
]);

const KEY_STATUS: readonly KeyStatus[] = ["Pending", "InProgress", "Active", "Failed"];

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}
function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
/** `{"Value": x}` wrappers (AttributeTypeName, RequiredLevel, DateTimeBehavior) or the bare value. */
function inner(v: unknown): unknown {
  return isObject(v) && "Value" in v ? v.Value : v;
}
function rows(body: unknown): Record<string, unknown>[] {
  return isObject(body) && Array.isArray(body.value) ? body.value.filter(isObject) : [];
}

function columnType(attributeType: string, typeName: string): ColumnType {
  if (typeName === "MultiSelectPicklistType") return "MultiSelectPicklist";
  return COLUMN_TYPES.has(attributeType) ? (attributeType as ColumnType) : "Other";
}

function requiredLevel(v: unknown): RequiredLevel {
  const s = str(inner(v));
  return s === "SystemRequired" || s === "ApplicationRequired" || s === "Recommended" ? s : "None";
}

function keyStatus(v: unknown): KeyStatus {
  if (typeof v === "number") return KEY_STATUS[v] ?? "Pending";
  const s = str(v);
  return (KEY_STATUS as readonly string[]).includes(s) ? (s as KeyStatus) : "Pending";
}

function label(v: unknown): string {
  if (!isObject(v)) return "";
  const user = v.UserLocalizedLabel;
  if (isObject(user) && typeof user.Label === "string") return user.Label;
  const localized = v.LocalizedLabels;
  if (Array.isArray(localized)) {
    const first: unknown = localized[0];
    if (isObject(first) && typeof first.Label === "string") return first.Label;
  }
  return "";
}

function options(row: Record<string, unknown>): ChoiceOption[] {
  const set = isObject(row.OptionSet) ? row.OptionSet : isObject(row.GlobalOptionSet) ? row.GlobalOptionSet : undefined;
  if (set === undefined || !Array.isArray(set.Options)) return [];
  const out: ChoiceOption[] = [];
  for (const o of set.Options) {
    if (!isObject(o)) continue;
    const value = num(o.Value);
    if (value === undefined) continue;
    const state = num(o.State);
    const defaultStatus = num(o.DefaultStatus);
    out.push({
      value,
      label: label(o.Label),
      ...(state === undefined ? {} : { state }),
      ...(defaultStatus === undefined ? {} : { defaultStatus }),
    });
  }
  return out;
}

type Detail = Partial<{
  -readonly [K in "maxLength" | "minValue" | "maxValue" | "precision" | "dateTimeBehavior" | "dateTimeFormat" | "options" | "targets"]: ColumnMeta[K];
}>;

/** The casts Microsoft requires for type-specific properties (no cast to EnumAttributeMetadata). */
const CASTS: readonly { cast: string; query: string; read: (row: Record<string, unknown>) => Detail }[] = [
  { cast: "StringAttributeMetadata", query: "$select=LogicalName,MaxLength,Format", read: (r) => lengthOf(r) },
  { cast: "MemoAttributeMetadata", query: "$select=LogicalName,MaxLength", read: (r) => lengthOf(r) },
  { cast: "IntegerAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue", read: (r) => range(r) },
  { cast: "BigIntAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue", read: (r) => range(r) },
  { cast: "DecimalAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue,Precision", read: (r) => range(r) },
  { cast: "DoubleAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue,Precision", read: (r) => range(r) },
  { cast: "MoneyAttributeMetadata", query: "$select=LogicalName,MinValue,MaxValue,Precision,PrecisionSource", read: (r) => moneyRange(r) },
  {
    cast: "DateTimeAttributeMetadata",
    query: "$select=LogicalName,Format,DateTimeBehavior",
    read: (r) => {
      const behavior = str(inner(r.DateTimeBehavior));
      const format = str(inner(r.Format));
      const d: Detail = {};
      if (behavior === "UserLocal" || behavior === "DateOnly" || behavior === "TimeZoneIndependent") d.dateTimeBehavior = behavior as DateTimeBehavior;
      if (format !== "") d.dateTimeFormat = format;
      return d;
    },
  },
  {
    cast: "PicklistAttributeMetadata",
    query: "$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)",
    read: (r) => ({ options: options(r) }),
  },
  {
    cast: "MultiSelectPicklistAttributeMetadata",
    query: "$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)",
    read: (r) => ({ options: options(r) }),
  },
  { cast: "StateAttributeMetadata", query: "$select=LogicalName&$expand=OptionSet($select=Options)", read: (r) => ({ options: options(r) }) },
  { cast: "StatusAttributeMetadata", query: "$select=LogicalName&$expand=OptionSet($select=Options)", read: (r) => ({ options: options(r) }) },
  // Customer and Owner columns are LookupAttributeMetadata too, so one cast covers all three.
  {
    cast: "LookupAttributeMetadata",
    query: "$select=LogicalName,Targets",
    read: (r) => ({ targets: Array.isArray(r.Targets) ? r.Targets.filter((t): t is string => typeof t === "string") : [] }),
  },
];

function lengthOf(r: Record<string, unknown>): Detail {
  const maxLength = num(r.MaxLength);
  return maxLength === undefined ? {} : { maxLength };
}
function range(r: Record<string, unknown>): Detail {
  const d: Detail = {};
  const min = num(r.MinValue);
  const max = num(r.MaxValue);
  const precision = num(r.Precision);
  if (min !== undefined) d.minValue = min;
  if (max !== undefined) d.maxValue = max;
  if (precision !== undefined) d.precision = precision;
  return d;
}

/**
 * MoneyAttributeMetadata.PrecisionSource: 0 uses the column's Precision; 1 the organization's pricing
 * precision and 2 (the default) the record currency's, neither of which the column states. For those
 * the connector keeps up to Money's 4 decimals and lets the server round to the currency.
 */
function moneyRange(r: Record<string, unknown>): Detail {
  const d = range(r);
  const source = num(r.PrecisionSource);
  if (source !== 0) d.precision = 4;
  return d;
}

export interface MetadataLoaderOptions {
  readonly strongConsistency?: boolean;
}

export class MetadataLoader {
  readonly #client: DataverseClient;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #loading = new Map<string, Promise<TableMeta>>();
  readonly #loaded = new Map<string, TableMeta>();
  readonly #bySet = new Map<string, string>();
  #collation: Promise<KeyCollation> | undefined;

  constructor(client: DataverseClient, options: MetadataLoaderOptions = {}) {
    this.#client = client;
    this.#headers = options.strongConsistency === true ? { Consistency: "Strong" } : {};
  }

  /** Synchronous view of what is already loaded (for mapping's TableLookup). */
  readonly lookup: TableLookup = (logicalName) => this.#loaded.get(logicalName.toLowerCase());

  loadTable(logicalName: string): Promise<TableMeta> {
    const name = logicalName.toLowerCase();
    let p = this.#loading.get(name);
    if (p === undefined) {
      p = this.#load(name);
      this.#loading.set(name, p);
      // A failed load is not cached: the next caller tries again (a transient error should not stick).
      p.then(
        (t) => {
          this.#loaded.set(name, t);
          this.#bySet.set(t.entitySetName, name);
        },
        () => this.#loading.delete(name),
      );
    }
    return p;
  }

  async findByEntitySet(entitySet: string): Promise<TableMeta | undefined> {
    const known = this.#bySet.get(entitySet);
    if (known !== undefined) return this.loadTable(known);
    const filter = encodeQueryValue(`EntitySetName eq ${filterLiteral("EntitySetName", entitySet)}`);
    const { body } = await this.#client.get(`EntityDefinitions?$select=LogicalName&$filter=${filter}`, this.#headers);
    const first = rows(body)[0];
    if (first === undefined) return undefined;
    return this.loadTable(str(first.LogicalName));
  }

  async listTables(): Promise<TableSummary[]> {
    const { body } = await this.#client.get(
      "EntityDefinitions?$select=LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,DisplayName,IsCustomEntity,IsManaged,IsIntersect,IsPrivate,TableType",
      this.#headers,
    );
    return rows(body)
      .map((r) => {
        const display = label(r.DisplayName);
        return {
          logicalName: str(r.LogicalName),
          schemaName: str(r.SchemaName),
          entitySetName: str(r.EntitySetName),
          primaryIdAttribute: str(r.PrimaryIdAttribute),
          primaryNameAttribute: str(r.PrimaryNameAttribute),
          ...(display === "" ? {} : { displayName: display }),
          isCustomEntity: r.IsCustomEntity === true,
          isManaged: r.IsManaged === true,
          isIntersect: r.IsIntersect === true,
          isPrivate: r.IsPrivate === true,
          tableType: str(r.TableType) || "Standard",
        };
      })
      .filter((t) => t.logicalName !== "" && t.entitySetName !== "");
  }

  /**
   * The table a name that is not a logical name most likely meant: one whose entity set name
   * (`contacts`), schema name or display name (`Sales Order`) it is. Best effort: a failed listing
   * gives no suggestion.
   */
  async #suggest(name: string): Promise<string | undefined> {
    const wanted = name.trim().toLowerCase();
    try {
      const tables = await this.listTables();
      const hit =
        tables.find((t) => t.entitySetName.toLowerCase() === wanted) ??
        tables.find((t) => t.schemaName.toLowerCase() === wanted) ??
        tables.find((t) => t.displayName?.toLowerCase() === wanted);
      return hit !== undefined && hit.logicalName !== name ? hit.logicalName : undefined;
    } catch {
      return undefined;
    }
  }

  whoAmI(): Promise<WhoAmI> {
    return this.#client.whoAmI();
  }

  /**
   * How the environment compares key text: the collation its base language chose (the
   * organization's `languagecode`), read once. An application user that may not read the
   * organization table gets the default (_CI_AI, see model/key-identity.ts).
   */
  keyCollation(): Promise<KeyCollation> {
    if (this.#collation === undefined) {
      const read = this.#readCollation();
      this.#collation = read;
      read.catch(() => {
        if (this.#collation === read) this.#collation = undefined;
      });
    }
    return this.#collation;
  }

  async #readCollation(): Promise<KeyCollation> {
    let body: unknown;
    try {
      body = await this.#get("organizations?$select=languagecode");
    } catch (err) {
      if (err instanceof DataverseError && (err.status === 403 || err.status === 404)) return DEFAULT_KEY_COLLATION;
      throw err;
    }
    const language = rows(body)[0]?.languagecode;
    return typeof language === "number" && Number.isInteger(language) ? collationForLanguage(language) : DEFAULT_KEY_COLLATION;
  }

  async #get(path: string): Promise<unknown> {
    return (await this.#client.get(path, this.#headers)).body;
  }

  async #load(name: string): Promise<TableMeta> {
    const base = `EntityDefinitions(LogicalName=${filterLiteral("LogicalName", name)})`;
    let entity: unknown;
    try {
      entity = await this.#get(
        `${base}?$select=LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ObjectTypeCode,TableType`,
      );
    } catch (err) {
      if (err instanceof DataverseError && err.status === 404) throw new TableNotFoundError(name, err, await this.#suggest(name));
      throw err;
    }
    if (!isObject(entity)) throw new TableNotFoundError(name);

    const [keyCollation, attributes, keys, manyToOne, bulk, ...casts] = await Promise.all([
      this.keyCollation(),
      this.#get(`${base}/Attributes?$select=LogicalName,SchemaName,AttributeType,AttributeTypeName,IsValidForCreate,IsValidForUpdate,RequiredLevel,IsPrimaryId,AttributeOf`),
      this.#get(`${base}/Keys?$select=SchemaName,LogicalName,KeyAttributes,EntityKeyIndexStatus`),
      this.#get(
        `${base}/ManyToOneRelationships?$select=SchemaName,ReferencingAttribute,ReferencedEntity,ReferencedAttribute,ReferencingEntityNavigationPropertyName`,
      ),
      this.#probeBulk(name),
      ...CASTS.map((c) => this.#get(`${base}/Attributes/Microsoft.Dynamics.CRM.${c.cast}?${c.query}`)),
    ]);

    const details = new Map<string, Detail>();
    CASTS.forEach((c, i) => {
      for (const r of rows(casts[i])) {
        const col = str(r.LogicalName);
        details.set(col, { ...(details.get(col) ?? {}), ...c.read(r) });
      }
    });

    const columns = new Map<string, ColumnMeta>();
    for (const r of rows(attributes)) {
      const logicalName = str(r.LogicalName);
      if (logicalName === "") continue;
      const typeName = str(inner(r.AttributeTypeName));
      const attributeOf = str(r.AttributeOf);
      columns.set(logicalName, {
        logicalName,
        schemaName: str(r.SchemaName),
        type: columnType(str(r.AttributeType), typeName),
        typeName,
        requiredLevel: requiredLevel(r.RequiredLevel),
        validForCreate: r.IsValidForCreate === true,
        validForUpdate: r.IsValidForUpdate === true,
        isPrimaryId: r.IsPrimaryId === true,
        ...(attributeOf === "" ? {} : { attributeOf }),
        ...(details.get(logicalName) ?? {}),
      });
    }

    const keyList: KeyMeta[] = rows(keys).map((r) => ({
      logicalName: str(r.LogicalName),
      schemaName: str(r.SchemaName),
      columns: Array.isArray(r.KeyAttributes) ? r.KeyAttributes.filter((a): a is string => typeof a === "string") : [],
      status: keyStatus(r.EntityKeyIndexStatus),
    }));

    const relationships: ManyToOneMeta[] = rows(manyToOne).map((r) => ({
      schemaName: str(r.SchemaName),
      referencingAttribute: str(r.ReferencingAttribute),
      referencedEntity: str(r.ReferencedEntity),
      referencedAttribute: str(r.ReferencedAttribute),
      navigationProperty: str(r.ReferencingEntityNavigationPropertyName),
    }));

    return {
      logicalName: str(entity.LogicalName) || name,
      schemaName: str(entity.SchemaName),
      entitySetName: str(entity.EntitySetName),
      primaryIdAttribute: str(entity.PrimaryIdAttribute),
      primaryNameAttribute: str(entity.PrimaryNameAttribute),
      tableType: str(inner(entity.TableType)) || "Standard",
      columns,
      keys: keyList,
      manyToOne: relationships,
      bulk,
      keyCollation,
    };
  }

  /** Bulk-operations doc: a non-empty sdkmessagefilters answer means the table has the message. */
  async #probeBulk(table: string): Promise<BulkSupport> {
    const probe = async (message: string): Promise<boolean> => {
      const filter = encodeQueryValue(
        `sdkmessageid/name eq ${filterLiteral("name", message)} and primaryobjecttypecode eq ${filterLiteral("primaryobjecttypecode", table)}`,
      );
      try {
        return rows(await this.#get(`sdkmessagefilters?$select=sdkmessagefilterid&$filter=${filter}`)).length > 0;
      } catch (err) {
        // Without read access to sdkmessagefilter we cannot tell; $batch works everywhere.
        if (err instanceof DataverseError && (err.status === 403 || err.status === 404)) return false;
        throw err;
      }
    };
    const [createMultiple, updateMultiple, upsertMultiple] = await Promise.all([
      probe("CreateMultiple"),
      probe("UpdateMultiple"),
      probe("UpsertMultiple"),
    ]);
    // Microsoft's UpsertMultiple sample checks for both CreateMultiple and UpdateMultiple as well:
    // the upsert runs one or the other per target.
    return { createMultiple, updateMultiple, upsertMultiple: upsertMultiple && createMultiple && updateMultiple };
  }
}
