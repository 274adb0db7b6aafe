// `write`: Airbyte (with --catalog) or Singer (without). Everything is checked before the first
// record: config, catalog, credentials, every stream's table metadata and plan.
import type { Readable } from "node:stream";
import { parseCatalog, resolveAirbyteStreams, resolveRelationStreams, type ResolvedRelation } from "../config/catalog.js";
import type { LineSink, Output } from "../protocol/emit.js";
import { readLineBatches } from "../protocol/lines.js";
import { openDeadLetterFile } from "../pipeline/deadletter.js";
import type { DeadLetterSink } from "../pipeline/deadletter.js";
import type { LoadedConfig } from "../config/load.js";
import type { ResolvedStream } from "../config/catalog.js";
import { runAirbyte, runSinger } from "../pipeline/loop.js";
import { batchesInFlight } from "../pipeline/slots.js";
import { Sync } from "../pipeline/sync.js";
import { Relations } from "../pipeline/relations.js";
import { RelationsApi } from "../dataverse/relations.js";
import { writeHeaders } from "../dataverse/writer.js";
import { systemClock } from "../http/clock.js";
import type { Timers } from "../pipeline/options.js";
import { connectForWrite, readConfig } from "./connect.js";
import { readJsonFile } from "./errors.js";
import type { CommandIO } from "./io.js";
import type { DataverseClient } from "../dataverse/client.js";
import { runDryRun } from "./dry-run.js";
import type { TerminalStatus } from "../pipeline/report.js";

export interface WriteCommand {
  readonly config: string;
  readonly catalog?: string;
  readonly dryRun: boolean;
  readonly input?: string;
}

function realTimers(now: () => number): Timers {
  return {
    now,
    every(ms, fn) {
      const t = setInterval(fn, ms);
      // A pending interval must not keep the process alive after the input ended.
      t.unref();
      return () => clearInterval(t);
    },
  };
}

export async function runWrite(command: WriteCommand, io: CommandIO, output: Output, sinks: readonly LineSink[], terminal?: TerminalStatus): Promise<number> {
  const loaded = await readConfig(io, command.config, sinks, output);
  const catalog = command.catalog !== undefined ? parseCatalog(await readJsonFile(io.readFile, command.catalog, "catalog")) : undefined;
  const resolved = catalog !== undefined ? resolveAirbyteStreams(loaded, catalog, { overwriteReplaces: !command.dryRun }) : undefined;
  // Relationship streams (membership, many-to-many): Airbyte's from the catalog, Singer's from the config.
  const relationStreams: ResolvedRelation[] =
    catalog !== undefined
      ? resolveRelationStreams(loaded, catalog)
      : loaded.entries.flatMap((e) => (e.relation !== undefined ? [{ stream: { name: e.name }, relation: e.relation }] : []));
  const input: Readable = command.input !== undefined ? await io.openInput(command.input) : io.stdin;
  // Opened before anything is signed in or written: a wrong path is a config error at the start.
  const settings = loaded.config.write;
  const deadLetter = !command.dryRun && settings.deadLetterPath !== undefined ? await openDeadLetterFile(settings.deadLetterPath) : undefined;
  try {
    return await writeWith(command, io, output, loaded, resolved, relationStreams, input, deadLetter, terminal);
  } finally {
    await deadLetter?.close();
  }
}

async function writeWith(
  command: WriteCommand,
  io: CommandIO,
  output: Output,
  loaded: LoadedConfig,
  resolved: readonly ResolvedStream[] | undefined,
  relationStreams: readonly ResolvedRelation[],
  input: Readable,
  deadLetter: DeadLetterSink | undefined,
  terminal: TerminalStatus | undefined,
): Promise<number> {
  const settings = loaded.config.write;
  // The streams' tables are read while WhoAmI is asked (their lookup targets once these are known).
  const tables = [...new Set((resolved ?? []).map((r) => r.mapping.table.toLowerCase()))];
  const conn = await connectForWrite(loaded.config, io, (message) => void output.log("WARN", message), tables);
  try {
    if (command.dryRun) {
      return await runDryRun({ conn, loaded, resolved, relations: relationStreams.map((r) => r.stream), input, output, timers: realTimers(io.now), ...(terminal !== undefined ? { terminal } : {}) });
    }
    const writer = conn.writer;
    const users = 1 + loaded.config.additionalUsers.length;
    const sync = new Sync({
      output,
      writer,
      tables: conn.metadata,
      settings,
      // max_concurrency is per application user: a pool of u users may have u times the batches in
      // flight (within MAX_BATCHES_IN_FLIGHT), or its extra users would only share one user's
      // concurrency. The bytes in flight stay capped at two full batches whatever the pool's size.
      maxInFlight: batchesInFlight(settings.maxConcurrency, users),
      timers: realTimers(io.now),
      ...(deadLetter !== undefined ? { deadLetter } : {}),
      mirrorReader: conn.clients[0] as DataverseClient,
      ...(terminal !== undefined ? { terminal } : {}),
      writerStats: () => {
        const s = writer.stats();
        return { requests: s.requests, throttled: s.throttled429, throttledMs: s.throttledMs, concurrency: s.users.reduce((n, u) => n + u.limit, 0), tables: s.tables };
      },
    });
    try {
      if (relationStreams.length > 0) {
        const api = new RelationsApi({ client: conn.clients[0] as DataverseClient, clock: systemClock, headers: writeHeaders(settings) });
        const relations = await Relations.open(
          { api, tables: conn.metadata, output, settings, open: (d) => sync.openExternal(d), ...(deadLetter !== undefined ? { deadLetter } : {}) },
          relationStreams,
        );
        sync.addRelations(relations);
      }
      const lines = readLineBatches(input);
      if (resolved !== undefined) {
        await sync.addStreams(resolved);
        await runAirbyte(lines, sync, output);
      } else {
        await runSinger(lines, sync, output, loaded);
      }
    } finally {
      await sync.abort();
    }
    return 0;
  } finally {
    await conn.close();
  }
}
