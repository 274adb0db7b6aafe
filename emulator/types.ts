// Seams inside the emulator. The emulator shares no code with src/ (see README): it is an
// independent reading of Microsoft's documentation, so a misunderstanding on one side shows up
// as a failing test instead of passing silently.
//
//   server.ts (TLS, Entra ID, faults, bearer gate, admission under the limits, $batch)
//        └─ calls DataService.handle() for every Web API operation, including each $batch part
//   service.ts (routes an operation to reads, writes, references, bulk actions, metadata, WhoAmI)

import type { ManyToManyDefinition, TableDefinition } from "./schema.js";
import type { FederationIssuer } from "./federation.js";

export type Privilege = "create" | "read" | "write" | "delete" | "append" | "appendto";

/** One secret of an app registration. */
export interface AppSecret {
  readonly value: string;
  /** ISO date-time; a secret past it is expired (AADSTS7000222). */
  readonly expiresAt: string;
}

/**
 * A certificate uploaded to an app registration (a key credential): the public certificate only.
 * Entra ID finds it by the thumbprint in a client assertion's x5t (SHA-1) or x5t#S256 header.
 */
export interface AppCertificate {
  /** PEM text of the certificate (-----BEGIN CERTIFICATE-----). */
  readonly pem: string;
  /** ISO date-time the key credential ends (AADSTS700027 "The key used is expired" after it); default: the certificate's notAfter. */
  readonly endDateTime?: string;
}

/**
 * A federated identity credential: Entra ID exchanges an external token whose iss, sub and one of
 * whose aud values match it (Learn: workload identity federation).
 */
export interface FederatedCredential {
  readonly name: string;
  readonly issuer: string;
  readonly subject: string;
  /** Learn: exactly one, "api://AzureADTokenExchange" (the recommended value). */
  readonly audiences: readonly string[];
}

/** An Entra ID app registration, optionally bound to a Dataverse application user. */
export interface AppRegistration {
  readonly clientId: string;
  readonly displayName: string;
  readonly secrets: readonly AppSecret[];
  readonly certificates?: readonly AppCertificate[];
  readonly federatedCredentials?: readonly FederatedCredential[];
  /** Entra object id of the service principal (used for CallerObjectId-style lookups). */
  readonly objectId: string;
  /** The application user in this environment, if any (absent → 403 0x80072560). */
  readonly applicationUser?: {
    readonly systemUserId: string;
    /** Logical table name → privileges. "*" applies to every table. */
    readonly privileges: Readonly<Record<string, readonly Privilege[]>>;
    /** prvBypassCustomBusinessLogic, prvActOnBehalfOfAnotherUser, ... */
    readonly specialPrivileges?: readonly string[];
  };
}

/** An emulated Dataverse environment: tenant, app registrations, tables and seed rows. */
export interface Environment {
  readonly tenantId: string;
  readonly organizationId: string;
  readonly businessUnitId: string;
  /** LCID of the base language, 1033 for English. */
  readonly baseLanguage: number;
  readonly apps: readonly AppRegistration[];
  readonly tables: readonly TableDefinition[];
  /** Many-to-many relationships between the tables (ManyToManyRelationshipMetadata). */
  readonly manyToManyRelationships?: readonly ManyToManyDefinition[];
  /** Seed rows per table logical name, in the Web API JSON write form. */
  readonly rows?: Readonly<Record<string, readonly Record<string, unknown>[]>>;
  /** External token issuers trusted for workload identity federation, with their signing keys. */
  readonly federationIssuers?: readonly FederationIssuer[];
  /** Synchronous plug-in steps: the execution time each adds, and for some a refusal (0x80040265). */
  readonly plugins?: readonly PluginStep[];
}

/** Messages a synchronous plug-in step can be registered on (bulk-operations: pipelines merged). */
export type PluginMessage = "Create" | "Update" | "Upsert" | "Delete" | "CreateMultiple" | "UpdateMultiple" | "UpsertMultiple";

/**
 * A synchronous plug-in step an environment declares: the time it adds to each event it handles
 * (environment files declare these), and optionally a refusal of rows whose column holds one value,
 * thrown as InvalidPluginExecutionException (write-rules.ts; set by tests, not read from files).
 */
export interface PluginStep {
  readonly table: string;
  readonly message: PluginMessage;
  readonly milliseconds?: number;
  readonly column?: string;
  readonly equals?: string | number | boolean | null;
  /** The InvalidPluginExecutionException's message, returned as the error message. */
  readonly error?: string;
}

/** Who is calling, after the bearer token was checked. */
export interface Caller {
  readonly clientId: string;
  readonly systemUserId: string;
  readonly businessUnitId: string;
  readonly organizationId: string;
  can(table: string, privilege: Privilege): boolean;
  hasSpecial(privilege: string): boolean;
}

/** One Web API operation, already unwrapped from HTTP or from a $batch part. */
export interface ServiceRequest {
  readonly method: string;
  /** Path after the service root, still percent-encoded, e.g. "contacts(emailaddress1='a%40b.com')". */
  readonly path: string;
  /** Raw query string without "?", still encoded ("" if none). */
  readonly query: string;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly caller: Caller;
  /** Absolute service root, e.g. "https://127.0.0.1:8443/api/data/v9.2/". */
  readonly serviceRoot: string;
  /** Content-ID references resolved so far in the enclosing changeset ("$1" → URL). */
  readonly contentIdRefs?: ReadonlyMap<string, string>;
}

export interface ServiceResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** For the execution-time model: rows this operation touched and whether it was a bulk action. */
  readonly cost?: { readonly records: number; readonly bulk: boolean };
}

export interface DataService {
  handle(request: ServiceRequest): ServiceResponse;
  /**
   * Runs fn atomically: if fn returns false (or throws) every row change made inside is undone.
   * Used for $batch changesets.
   */
  transaction(fn: () => boolean): void;
  /** Rows currently stored in a table (0 for an unknown table); for tests and benchmarks. */
  rowCount(table: string): number;
}
