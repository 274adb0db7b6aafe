// The environment's seed rows, written through the row engine as the first application user would
// write them, so a seed row obeys every rule a request does.
import type { Caller, Environment } from "./types.js";
import { DataverseError } from "./errors.js";
import type { RowEngine, WriteContext } from "./row-engine.js";
import type { Tables } from "./addressing.js";

/** A seed row the service refuses, named by its JSON path in the environment. */
export class EnvironmentSeedError extends Error {
  readonly code = "EMULATOR_SEED_ROW_INVALID";
  constructor(
    readonly jsonPath: string,
    problem: string,
  ) {
    super(`${jsonPath}: ${problem}`);
    this.name = "EnvironmentSeedError";
  }
}

/** Throws EnvironmentSeedError naming `$.rows.<table>[i]` for the first row refused. */
export function seedRows(env: Environment, tables: Tables, engine: RowEngine): void {
  const rows = env.rows ?? {};
  const firstApp = env.apps.find((a) => a.applicationUser !== undefined);
  const seedCaller: Caller = {
    clientId: firstApp?.clientId ?? "",
    systemUserId: firstApp?.applicationUser?.systemUserId ?? "00000000-0000-0000-0000-000000000000",
    businessUnitId: env.businessUnitId,
    organizationId: env.organizationId,
    can: () => true,
    hasSpecial: () => true,
  };
  const ctx: WriteContext = { caller: seedCaller, serviceRoot: "/", now: engine.nowText() };
  // systemuser and team first so seed rows of other tables can bind their owner.
  const order = Object.keys(rows).sort((a, b) => rank(a) - rank(b));
  for (const table of order) {
    const model = tables.models.get(table);
    if (!model) throw new EnvironmentSeedError(`$.rows.${table}`, "names no table of this environment");
    (rows[table] ?? []).forEach((r, i) => {
      try {
        engine.write(model, undefined, r, "create", ctx);
      } catch (cause) {
        if (cause instanceof DataverseError) throw new EnvironmentSeedError(`$.rows.${table}[${i}]`, `${cause.code} ${cause.message}`);
        throw cause;
      }
    });
  }
}

function rank(table: string): number {
  return table === "systemuser" ? 0 : table === "team" ? 1 : 2;
}
