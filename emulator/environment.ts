// An emulated Dataverse environment: tenant, app registrations, tables and seed rows.
import type { AppRegistration, DataService } from "./types.js";
import type { TableDefinition } from "./schema.js";
import type { FederationIssuer } from "./federation.js";
import { defaultEnvironment as buildDefault } from "./default-environment.js";
import { parseEnvironmentFile } from "./environment-file.js";
import { DataverseService } from "./service.js";

export type { TableDefinition, ColumnDefinition, KeyDefinition, RelationshipDefinition, OptionDefinition, BulkAvailability } from "./schema.js";
export { EnvironmentFileError } from "./environment-file.js";
export { EnvironmentSeedError } from "./service.js";

export interface Environment {
  readonly tenantId: string;
  readonly organizationId: string;
  readonly businessUnitId: string;
  /** LCID of the base language, 1033 for English. */
  readonly baseLanguage: number;
  readonly apps: readonly AppRegistration[];
  /** External token issuers trusted for workload identity federation, with their signing keys. */
  readonly federationIssuers?: readonly FederationIssuer[];
  readonly tables: readonly TableDefinition[];
  /** Seed rows per table logical name, in the Web API JSON write form. */
  readonly rows?: Readonly<Record<string, readonly Record<string, unknown>[]>>;
}

export function defaultEnvironment(): Environment {
  return buildDefault();
}

/** Reads and validates an --environment JSON file; throws EnvironmentFileError naming the JSON path. */
export function loadEnvironment(file: string): Environment {
  return parseEnvironmentFile(file);
}

export type EmulatedDataService = DataService & {
  /** Test and bench helper: rows currently stored in a table (0 for an unknown table). */
  rowCount(table: string): number;
};

/** Throws EnvironmentSeedError (naming `$.rows.<table>[i]`) when a seed row is refused. */
export function createDataService(env: Environment, options?: { now?: () => Date }): EmulatedDataService {
  return new DataverseService(env, options?.now ?? (() => new Date()));
}
