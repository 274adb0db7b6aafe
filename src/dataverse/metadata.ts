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
  ColumnMeta,
  KeyMeta,
  ManyToOneMeta,
  TableLookup,
  TableMeta,
} from "../model/table-meta.js";
import { encodeQueryValue, filterLiteral } from "./keys.js";
import { str, inner, rows, columnType, requiredLevel, keyStatus, label, CASTS, type Detail } from "./metadata-read.js";
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

  /** Everything about a table but the table itself, read at once. */
  #parts(name: string, base: string): Promise<[KeyCollation, unknown, unknown, unknown, BulkSupport, ...unknown[]]> {
    return Promise.all([
      this.keyCollation(),
      this.#get(`${base}/Attributes?$select=LogicalName,SchemaName,AttributeType,AttributeTypeName,IsValidForCreate,IsValidForUpdate,RequiredLevel,IsPrimaryId,AttributeOf`),
      this.#get(`${base}/Keys?$select=SchemaName,LogicalName,KeyAttributes,EntityKeyIndexStatus`),
      this.#get(
        `${base}/ManyToOneRelationships?$select=SchemaName,ReferencingAttribute,ReferencedEntity,ReferencedAttribute,ReferencingEntityNavigationPropertyName`,
      ),
      this.#probeBulk(name),
      ...CASTS.map((c) => this.#get(`${base}/Attributes/Microsoft.Dynamics.CRM.${c.cast}?${c.query}`)),
    ]);
  }

  async #load(name: string): Promise<TableMeta> {
    const base = `EntityDefinitions(LogicalName=${filterLiteral("LogicalName", name)})`;
    // The table's parts are asked for alongside the table itself, not after it: one round trip of
    // metadata (a quarter of a second or more on Dataverse) less before the first row is written.
    // When the table is missing they fail too, and the table's own 404 is what is reported.
    const parts = this.#parts(name, base);
    parts.catch(() => undefined);
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

    const [keyCollation, attributes, keys, manyToOne, bulk, ...casts] = await parts;

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
