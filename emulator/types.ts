// Seams inside the emulator. The emulator shares no code with src/ (see README): it is an
// independent reading of Microsoft's documentation, so a misunderstanding on one side shows up
// as a failing test instead of passing silently.
//
//   server.ts (TLS, routing, Entra ID, bearer check, limits, faults, $batch framing)
//        └─ calls DataService.handle() for every Web API operation, including each $batch part
//   service.ts (metadata, rows, validation, OData query, bulk actions, WhoAmI)

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
