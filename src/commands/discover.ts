// `discover` (Airbyte data activation): one DESTINATION_CATALOG from the environment's metadata.
import type { TableMeta } from "../model/table-meta.js";
import type { TableSummary } from "../dataverse/metadata.js";
import { buildDestinationCatalog, listOperations, type OfferedList } from "../mapping/discover.js";
import { LIST_MEMBER_TYPES, RelationsApi } from "../dataverse/relations.js";
import { systemClock } from "../http/clock.js";
import type { DataverseClient } from "../dataverse/client.js";
import type { DestinationOperation } from "../protocol/airbyte.js";
import type { LineSink, Output } from "../protocol/emit.js";
import { toConnectorError } from "../pipeline/failures.js";
import { connectForWrite, readConfig } from "./connect.js";
import type { CommandIO } from "./io.js";

/** Metadata reads in parallel: enough to be quick on hundreds of tables, few enough to stay polite. */
const LOAD_CONCURRENCY = 4;

/** The standard tables a warehouse sync writes most, described by default when the environment has them. */
export const DEFAULT_DISCOVER_TABLES: readonly string[] = ["account", "contact", "lead", "opportunity"];

/**
 * The tables discover describes. An environment lists hundreds of tables (system, intersect,
 * private, first-party solution tables) and describing one takes ~20 metadata requests, so all of
 * them would cost thousands of requests against the 6,000 per 5 minutes a user may send, and would
 * bury the few a sync writes. Default: the standard four plus the environment's own (unmanaged)
 * custom tables; `discover_tables` names others, or "*" for every table that can hold rows.
 */
export function discoverScope(all: readonly TableSummary[], wanted: readonly string[] | undefined): { tables: TableSummary[]; missing: string[] } {
  const writable = (t: TableSummary): boolean => !t.isIntersect && !t.isPrivate && t.tableType !== "Virtual";
  if (wanted === undefined) {
    return { tables: all.filter((t) => writable(t) && (DEFAULT_DISCOVER_TABLES.includes(t.logicalName) || (t.isCustomEntity && !t.isManaged))), missing: [] };
  }
  if (wanted.includes("*")) return { tables: all.filter(writable), missing: [] };
  const byName = new Map(all.map((t) => [t.logicalName.toLowerCase(), t]));
  const tables: TableSummary[] = [];
  const missing: string[] = [];
  for (const name of wanted) {
    const t = byName.get(name.toLowerCase());
    if (t === undefined) missing.push(name);
    else tables.push(t);
  }
  return { tables, missing };
}

export async function runDiscover(command: { config: string }, io: CommandIO, output: Output, sinks: readonly LineSink[]): Promise<number> {
  const loaded = await readConfig(io, command.config, sinks, output);
  const conn = await connectForWrite(loaded.config, io);
  try {
    const listed = await conn.metadata.listTables().catch((err: unknown) => {
      throw toConnectorError(err);
    });
    const { tables: summaries, missing } = discoverScope(listed, loaded.config.discoverTables);
    for (const name of missing) await output.log("WARN", `discover_tables: table ${name} does not exist in this environment; left out of the catalog`);
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
    const lists = listed.some((t) => t.logicalName === "list") ? await offeredLists(conn.clients[0] as DataverseClient, conn.metadata, output) : [];
    await output.destinationCatalog([...catalog.operations, ...listOperations(lists)] as readonly DestinationOperation[]);
    return 0;
  } finally {
    await conn.close();
  }
}

/** The static marketing lists a segment can become the membership of (data activation). */
async function offeredLists(client: DataverseClient, metadata: { loadTable(name: string): Promise<TableMeta> }, output: Output): Promise<OfferedList[]> {
  try {
    const lists = await new RelationsApi({ client, clock: systemClock }).staticLists();
    const members = new Map<number, TableMeta>();
    for (const [table, code] of Object.entries(LIST_MEMBER_TYPES)) {
      if (lists.some((l) => l.memberTypeCode === code)) members.set(code, await metadata.loadTable(table));
    }
    return lists.flatMap((l) => {
      const m = members.get(l.memberTypeCode);
      return m === undefined ? [] : [{ name: l.name, members: m }];
    });
  } catch (err) {
    const e = toConnectorError(err);
    if (e.failureType !== "config_error") throw e;
    await output.log("WARN", `marketing lists left out of the catalog: ${e.message}`);
    return [];
  }
}
