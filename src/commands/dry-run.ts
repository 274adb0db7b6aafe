// `write --dry-run`: the full pipeline against live metadata and rows, with a reading Writer.
import type { Readable } from "node:stream";
import type { ResolvedStream } from "../config/catalog.js";
import type { LoadedConfig } from "../config/load.js";
import type { Output } from "../protocol/emit.js";
import { readLineBatches } from "../protocol/lines.js";
import { DryRunWriter, NoStateOutput, dryRunReport } from "../pipeline/dry-run.js";
import { runAirbyte, runSinger } from "../pipeline/loop.js";
import { Sync } from "../pipeline/sync.js";
import { skippedRelations } from "../pipeline/relations.js";
import type { StreamDescriptor } from "../protocol/airbyte.js";
import type { Timers } from "../pipeline/options.js";
import type { DataverseConnection } from "../dataverse/connect.js";
import type { DataverseClient } from "../dataverse/client.js";
import { diffAgainst } from "../dataverse/changes.js";
import { currentRows } from "../dataverse/row-reads.js";
import type { TerminalStatus } from "../pipeline/report.js";

export interface DryRunInput {
  readonly conn: DataverseConnection;
  readonly loaded: LoadedConfig;
  readonly resolved: readonly ResolvedStream[] | undefined;
  /** Relationship streams (membership, many-to-many): not previewed, their records passed over. */
  readonly relations?: readonly StreamDescriptor[];
  readonly input: Readable;
  readonly output: Output;
  readonly timers: Timers;
  readonly terminal?: TerminalStatus;
}

export async function runDryRun(d: DryRunInput): Promise<number> {
  const client = d.conn.clients[0] as DataverseClient;
  const tables = d.conn.metadata.lookup;
  // The writer's own read and comparison (write only what changed), so the dry run says what a write would send.
  const writer = new DryRunWriter(client, tables, {
    current: (ops) => currentRows(client, tables, ops, Math.min(1000, d.loaded.config.write.batchSize)),
    diff: (op, row) => diffAgainst(op, row, tables),
    writeOnlyChanges: d.loaded.config.write.writeOnlyChanges,
  });
  const quiet = new NoStateOutput(d.output);
  // Dead letters stay untouched: nothing is written in a dry run.
  const { deadLetterPath: _ignored, ...settings } = d.loaded.config.write;
  const sync = new Sync({ output: quiet, writer, tables: d.conn.metadata, settings, timers: d.timers, dryRun: true, ...(d.terminal !== undefined ? { terminal: d.terminal } : {}) });
  try {
    if (d.relations !== undefined && d.relations.length > 0) {
      sync.addRelations(skippedRelations(d.relations));
      await d.output.log("INFO", `dry run: relationship streams (${d.relations.map((r) => r.name).join(", ")}) are not previewed; their records are passed over`);
    }
    const lines = readLineBatches(d.input);
    const summary = d.resolved !== undefined ? (await sync.addStreams(d.resolved), await runAirbyte(lines, sync, quiet)) : await runSinger(lines, sync, quiet, d.loaded);
    const streamsByTable = new Map<string, string[]>();
    for (const r of d.resolved ?? d.loaded.config.streams.map((m) => ({ stream: { name: m.name }, mapping: m }))) {
      const list = streamsByTable.get(r.mapping.table) ?? [];
      list.push(r.stream.name);
      streamsByTable.set(r.mapping.table, list);
    }
    for (const line of dryRunReport(writer.tallies, streamsByTable)) await d.output.log("INFO", line);
    for (const [name, s] of summary.streams) if (s.rejected > 0) await d.output.log("INFO", `dry run: stream "${name}": ${s.rejected} record(s) would be rejected`);
    return 0;
  } finally {
    await sync.abort();
  }
}
