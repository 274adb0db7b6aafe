// An emulated Dataverse environment (the Environment type lives in types.ts): the embedded one, one
// read from an --environment file, and the data service built from either.
import type { DataService, Environment } from "./types.js";
import { defaultEnvironment as buildDefault } from "./default-environment.js";
import { parseEnvironmentFile } from "./environment-file.js";
import { DataverseService } from "./service.js";

export type { Environment } from "./types.js";
export type { TableDefinition, ColumnDefinition, KeyDefinition, RelationshipDefinition, OptionDefinition, BulkAvailability } from "./schema.js";
export { EnvironmentFileError } from "./environment-file.js";
export { EnvironmentSeedError } from "./seed.js";
export type { PluginStep } from "./write-rules.js";

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
