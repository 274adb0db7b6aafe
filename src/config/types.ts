// The parsed, validated configuration. Produced once by config/load.ts from the JSON the user
// gives (validated against spec/spec.json with ajv); everything downstream reads only these types.

export type WriteMode = "create" | "upsert" | "update" | "delete" | "deactivate";
export type NullHandling = "ignore" | "write";

/** How a stream's rows are found in Dataverse. */
export type KeyStrategy =
  /** Alternate key named by its logical name. */
  | { readonly kind: "alternate_key"; readonly name: string }
  /** Alternate key given by its columns (must match a defined key). */
  | { readonly kind: "columns"; readonly columns: readonly string[] }
  /** The row's GUID is in a source field. */
  | { readonly kind: "id_field"; readonly field: string }
  /** GUID = UUIDv5(namespace, joined source key fields). */
  | { readonly kind: "deterministic"; readonly namespace: string; readonly fields: readonly string[] }
  /** No key: plain create. */
  | { readonly kind: "none" };

/** How a lookup value in the source finds its target row. */
export type LookupStrategy =
  | { readonly by: "id" }
  | { readonly by: "alternate_key"; readonly name?: string; readonly columns?: readonly string[] }
  | { readonly by: "deterministic"; readonly namespace: string };

export interface LookupMapping {
  /** Target table; for polymorphic lookups either this or targetTableField. */
  readonly table?: string;
  /** Source field holding the target table's logical name per row (polymorphic). */
  readonly tableField?: string;
  readonly strategy: LookupStrategy;
}

export interface FieldMapping {
  /** Destination column logical name. */
  readonly column: string;
  readonly lookup?: LookupMapping;
  readonly nulls?: NullHandling;
  /** Multi-select given as a delimited string: the delimiter (default ","; arrays need none). */
  readonly delimiter?: string;
}

export interface MirrorConfig {
  readonly enabled: boolean;
  /** Only rows owned by the connector's application user, or with this marker column set. */
  readonly scope: { readonly kind: "owner" } | { readonly kind: "marker"; readonly column: string; readonly value: string };
  /** Max share (0..1) of the table that one mirror run may remove. */
  readonly maxDeleteShare: number;
  readonly action: "delete" | "deactivate";
}

export interface StreamMapping {
  readonly name: string;
  readonly namespace?: string;
  readonly table: string;
  readonly mode: WriteMode;
  readonly key: KeyStrategy;
  /** Source field → mapping. Unmapped fields that are columns pass through by name. */
  readonly fields: ReadonlyMap<string, FieldMapping>;
  readonly nulls: NullHandling;
  readonly truncateStrings: boolean;
  /** delete mode / CDC deletes: "delete" (hard) or "deactivate" (statecode/statuscode). */
  readonly deleteAction: "delete" | "deactivate";
  readonly mirror?: MirrorConfig;
}

/** One credential of an app registration (spec: the `credentials` oneOf, keyed by auth_type). */
export type CredentialConfig =
  | { readonly kind: "client_secret"; readonly secret: string }
  | {
      readonly kind: "certificate";
      /** PEM text of the certificate (may hold the key too), or the file that holds it. */
      readonly certificate: { readonly pem: string } | { readonly path: string };
      /** PEM text or file of the private key, when the certificate's PEM does not hold it. */
      readonly privateKey?: { readonly pem: string } | { readonly path: string };
      readonly passphrase?: string;
      /** x5t#S256 with PS256 (sha256) or x5t with RS256 (sha1). */
      readonly thumbprint: "sha256" | "sha1";
      /** Send x5c (subject name and issuer authentication). */
      readonly sendChain: boolean;
    }
  | {
      readonly kind: "workload_identity";
      /** The external token's file, read again for every token request. */
      readonly tokenFile: string;
    };

/** One end of a relationship stream: a table and how a record names its row. */
export interface RelationSide {
  /** Logical name of the table. */
  readonly table: string;
  /** How the row is found (alternate key, GUID field, deterministic GUID); never "none". */
  readonly key: Exclude<KeyStrategy, { readonly kind: "none" }>;
  /**
   * Source fields feeding the key columns, in the order of `key.columns` (alternate_key: the key's
   * attributes); default: fields named as the columns. Unused by id_field and deterministic keys.
   */
  readonly sourceFields?: readonly string[];
}

/** Which marketing list a membership stream keeps in line. */
export type ListRef = { readonly kind: "name"; readonly name: string } | { readonly kind: "id"; readonly id: string };

/**
 * A stream that keeps a relationship in line instead of writing rows: a static marketing list's
 * members, or the pairs of a many-to-many relationship.
 */
export type RelationConfig =
  | {
      readonly kind: "membership";
      readonly list: ListRef;
      /** account, contact or lead; undefined: the existing list's member type (data activation). */
      readonly memberTable?: string;
      readonly member: Omit<RelationSide, "table">;
      readonly removeMissing: boolean;
      readonly maxRemoveShare: number;
    }
  | {
      readonly kind: "relationship";
      /** SchemaName of the many-to-many relationship. */
      readonly name: string;
      readonly from: RelationSide;
      readonly to: RelationSide;
      readonly removeMissing: boolean;
      readonly maxRemoveShare: number;
    };

export interface AppUser {
  readonly clientId: string;
  /** The client secret when the user signs in with one, else "" (kept for callers of the older shape). */
  readonly clientSecret: string;
  /** The credential first, then the standby one; absent means [client_secret: clientSecret]. */
  readonly credentials?: readonly CredentialConfig[];
}

/** The credentials a user signs in with, in the order they are tried. */
export function credentialsOf(user: AppUser): readonly CredentialConfig[] {
  return user.credentials !== undefined && user.credentials.length > 0 ? user.credentials : [{ kind: "client_secret", secret: user.clientSecret }];
}

export interface WriteSettings {
  /** Rows per write request (bulk action or $batch), default 1000. */
  readonly batchSize: number;
  /** Bytes per write request, default 8 MiB. */
  readonly maxBatchBytes: number;
  /** Upper bound on concurrent requests per application user (adaptive below it). */
  readonly maxConcurrency: number;
  /** Total time a single operation may spend waiting on retries, in seconds. */
  readonly retryBudgetSeconds: number;
  readonly useBulkActions: boolean;
  /** Read current values first and write only what changed (upsert and update streams). */
  readonly writeOnlyChanges: boolean;
  readonly bypassBusinessLogic?: "CustomSync" | "CustomAsync" | "CustomSync,CustomAsync";
  readonly suppressFlows: boolean;
  readonly duplicateDetection: boolean;
  /** Entra object id of a user to impersonate (CallerObjectId). */
  readonly impersonateObjectId?: string;
  /** JSONL dead-letter file for rejected records; undefined = none. */
  readonly deadLetterPath?: string;
  readonly deadLetterIncludeRecord: boolean;
  /** Fail the sync once rejected / seen passes this share (0..1) after at least 100 records. */
  readonly maxRejectedShare: number;
  /** Emit held states at least this often, seconds (default 60; protocol allows 15 min). */
  readonly flushIntervalSeconds: number;
}

export interface ConnectorConfig {
  readonly webApiEndpoint: URL;
  readonly tenantId: string;
  readonly clientId: string;
  /** The main user's client secret when it signs in with one, else "". */
  readonly clientSecret: string;
  /** The main user's credential first, then the standby one; absent means [client_secret: clientSecret]. */
  readonly credentials?: readonly CredentialConfig[];
  readonly authorityHost: URL;
  /** PEM file of an extra CA to trust (the emulator's). */
  readonly caFile?: string;
  readonly additionalUsers: readonly AppUser[];
  /** discover_tables: the tables discover describes; undefined for the default scope, ["*"] for all. */
  readonly discoverTables?: readonly string[];
  readonly streams: readonly StreamMapping[];
  readonly write: WriteSettings;
}
