// A run's account of itself, from its sinks' counts and the writer's figures: the progress
// figures (a LOG every 30 s, the terminal line) and the end-of-run summary per stream. The text
// is report.ts's; this file only gathers the numbers.
import type { Output } from "../protocol/emit.js";
import type { Timers, WriterStats } from "./options.js";
import { summaryLine, summaryTable } from "./report.js";
import type { ProgressFigures, StreamSummary, TerminalStatus } from "./report.js";
import { writtenCount } from "./sink.js";
import type { Sink } from "./sink.js";

export interface Totals {
  readonly read: number;
  readonly written: number;
  readonly rejected: number;
}

export function totals(sinks: Iterable<Sink>): Totals {
  let read = 0;
  let written = 0;
  let rejected = 0;
  for (const s of sinks) {
    read += s.counts.read;
    written += writtenCount(s.counts);
    rejected += s.counts.rejected;
  }
  return { read, written, rejected };
}

export interface ReporterOptions {
  readonly output: Output;
  readonly timers: Timers;
  readonly writerStats?: () => WriterStats;
  readonly terminal?: TerminalStatus;
  readonly dryRun?: boolean;
}

export class Reporter {
  readonly #o: ReporterOptions;
  readonly #startedAt: number;

  constructor(options: ReporterOptions) {
    this.#o = options;
    this.#startedAt = options.timers.now();
  }

  figures(sinks: Iterable<Sink>, statesHeld: number): ProgressFigures {
    const w = this.#o.writerStats?.() ?? {};
    return {
      ...totals(sinks),
      seconds: (this.#o.timers.now() - this.#startedAt) / 1000,
      ...(w.throttledMs !== undefined ? { throttledMs: w.throttledMs } : {}),
      ...(w.concurrency !== undefined ? { concurrency: w.concurrency } : {}),
      statesHeld,
    };
  }

  /** Per stream: what was done to its rows, the requests and 429s of its table, its wall time. */
  summaries(sinks: readonly Sink[]): StreamSummary[] {
    const w = this.#o.writerStats?.();
    const streamsPerTable = new Map<string, number>();
    for (const s of sinks) streamsPerTable.set(s.mapping.table.toLowerCase(), (streamsPerTable.get(s.mapping.table.toLowerCase()) ?? 0) + 1);
    return sinks.map((s) => {
      const table = s.mapping.table.toLowerCase();
      const http = w?.tables?.get(table);
      const start = s.firstAt ?? this.#startedAt;
      return {
        stream: s.name,
        table: s.mapping.table,
        ...s.counts,
        ...(http !== undefined ? { requests: http.requests, throttled429: http.throttled429, retried: s.counts.retried + (http.retries ?? 0) } : w?.tables !== undefined ? { requests: 0, throttled429: 0 } : {}),
        ...((streamsPerTable.get(table) ?? 0) > 1 ? { sharedTable: true } : {}),
        seconds: Math.max(0, ((s.lastAt ?? start) - start) / 1000),
        rejectionsByCode: s.rejectionsByCode,
      };
    });
  }

  /** The summary LOG lines (the run's, then one per stream) and, on a terminal, the table. */
  async summary(sinks: readonly Sink[], failed: boolean): Promise<void> {
    const o = this.#o;
    const seconds = (o.timers.now() - this.#startedAt) / 1000;
    const w = o.writerStats?.();
    const label = o.dryRun === true ? "summary (dry run, nothing written)" : failed ? "summary (the run failed)" : "summary";
    if (w !== undefined) {
      const t = totals(sinks);
      await o.output.log(
        "INFO",
        `${label}: ${t.read} records read, ${t.written} written, ${t.rejected} rejected in ${seconds.toFixed(1)} s` +
          `${w.requests !== undefined ? `; ${w.requests} requests` : ""}${w.throttled !== undefined ? `, ${w.throttled} throttled (429)` : ""}` +
          `${w.throttledMs !== undefined ? `, ${(w.throttledMs / 1000).toFixed(1)} s paused by throttling` : ""}`,
      );
    }
    const rows = this.summaries(sinks);
    for (const row of rows) await o.output.log("INFO", summaryLine(row).replace(/^summary:/, `${label}:`));
    o.terminal?.clear();
    o.terminal?.print(`${o.dryRun === true ? "Dry run (nothing written)" : failed ? "Sync summary (the run failed)" : "Sync summary"}, ${seconds.toFixed(1)} s:\n${summaryTable(rows)}`);
  }
}
