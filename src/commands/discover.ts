// `discover` (Airbyte data activation): one DESTINATION_CATALOG from the environment's metadata.
import type { TableMeta } from "../dataverse/metadata-types.js";
import { buildDestinationCatalog } from "../mapping/discover.js";
import type { DestinationOperation } from "../protocol/airbyte.js";
import type { LineSink, Output } from "../protocol/emit.js";
import { toConnectorError } from "../pipeline/failures.js";
import { connectForWrite, readConfig } from "./connect.js";
import type { CommandIO } from "./io.js";

/** Metadata reads in parallel: enough to be quick on hundreds of tables, few enough to stay polite. */
const LOAD_CONCURRENCY = 4;

export async function runDiscover(command: { config: string }, io: CommandIO, output: Output, sinks: readonly LineSink[]): Promise<number> {
  const loaded = await readConfig(io, command.config, sinks);
  const conn = await connectForWrite(loaded.config, io);
  try {
    const summaries = await conn.metadata.listTables().catch((err: unknown) => {
      throw toConnectorError(err);
    });
    const tables: TableMeta[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < summaries.length) {
        const s = summaries[next++];
        if (s === undefined) continue;
        try {
          tables.push(await conn.metadata.loadTable(s.logicalName));
        } catch (err) {
          const e = toConnectorError(err);
          // A table we may not read the metadata of is left out rather than failing discovery.
          if (e.failureType !== "config_error" || e.code !== "dataverse_privilege") throw e;
          await output.log("WARN", `table ${s.logicalName} left out of the catalog: ${e.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
    tables.sort((a, b) => a.logicalName.localeCompare(b.logicalName));
    const catalog = buildDestinationCatalog(tables);
    await output.destinationCatalog(catalog.operations as readonly DestinationOperation[]);
    return 0;
  } finally {
    await conn.close();
  }
}
