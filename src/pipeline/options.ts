// What a sync is built from: every effect it has arrives here (output, writer, metadata, timers,
// dead letters, the mirror's reader), so tests fake them at these seams.
import type { WriteSettings } from "../config/types.js";
import type { TableLookup, TableMeta } from "../model/table-meta.js";
import type { WriteOptions, Writer } from "../model/writer.js";
import type { Output } from "../protocol/emit.js";
import type { DeadLetterSink } from "./deadletter.js";
import type { MirrorReader } from "./mirror.js";
import type { TerminalStatus } from "./report.js";

/** Where table metadata comes from (dataverse/metadata.ts's MetadataLoader fits). */
export interface TableSource {
  loadTable(logicalName: string): Promise<TableMeta>;
  readonly lookup: TableLookup;
}

export interface Timers {
  now(): number;
  /** Calls fn every ms until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** Optional figures a writer may expose for progress lines. */
export interface WriterStats {
  readonly requests?: number;
  readonly throttled?: number;
  readonly throttledMs?: number;
  readonly concurrency?: number;
  /** Write requests and 429 answers per table logical name. */
  readonly tables?: ReadonlyMap<string, { readonly requests: number; readonly throttled429: number; readonly retries?: number }>;
}

export interface SyncOptions {
  readonly output: Output;
  readonly writer: Writer;
  readonly tables: TableSource;
  readonly settings: WriteSettings;
  readonly timers: Timers;
  readonly deadLetter?: DeadLetterSink;
  readonly writeOptions?: WriteOptions;
  /** Default 30 s. */
  readonly progressIntervalMs?: number;
  /** Batches in flight at once; default batchesInFlight(maxConcurrency) (slots.ts). */
  readonly maxInFlight?: number;
  /** Estimated bytes of the batches in flight, together; default 2 × maxBatchBytes. */
  readonly maxInFlightBytes?: number;
  /** Figures for progress lines, when the writer has them. */
  readonly writerStats?: () => WriterStats;
  /** Reads the rows a mirror may remove; required when a stream enables mirror. */
  readonly mirrorReader?: MirrorReader;
  /** The live status line and the summary table, when stderr is a terminal. */
  readonly terminal?: TerminalStatus;
  /** How often the terminal line is redrawn; default 250 ms. */
  readonly terminalIntervalMs?: number;
  /** Summary lines say that nothing was written. */
  readonly dryRun?: boolean;
}
