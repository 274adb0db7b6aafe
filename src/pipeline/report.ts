// How a run reports itself: the progress figures (a LOG every 30 s; on a terminal, a status line
// on stderr redrawn a few times a second) and the end-of-run summary per stream (LOG lines; on a
// terminal, a table). Pure text builders plus one small class that owns the terminal line.
import { Writable } from "node:stream";

export interface ProgressFigures {
  readonly read: number;
  readonly written: number;
  readonly rejected: number;
  readonly seconds: number;
  /** Time all sends of some application user were paused by throttling (429 Retry-After). */
  readonly throttledMs?: number;
  /** Requests allowed in flight now, summed over the application users. */
  readonly concurrency?: number;
  readonly statesHeld: number;
}

export function recordsPerSecond(written: number, seconds: number): number {
  return Math.round(written / Math.max(0.001, seconds));
}

export function progressText(p: ProgressFigures): string {
  return [
    `read ${p.read}`,
    `written ${p.written}`,
    `rejected ${p.rejected}`,
    `${recordsPerSecond(p.written, p.seconds)} records/s`,
    ...(p.throttledMs !== undefined ? [`throttled ${(p.throttledMs / 1000).toFixed(1)} s`] : []),
    ...(p.concurrency !== undefined ? [`concurrency ${p.concurrency}`] : []),
    `states held ${p.statesHeld}`,
  ].join(", ");
}

export interface StreamSummary {
  readonly stream: string;
  readonly table: string;
  readonly read: number;
  readonly created: number;
  readonly updated: number;
  /** Upserts whose answer did not say whether the row was new (bulk UpsertMultiple does not). */
  readonly upserted: number;
  /** Rows already as sent: a create that found its id present, a delete of a row already gone. */
  readonly unchanged: number;
  readonly deleted: number;
  readonly deactivated: number;
  readonly rejected: number;
  readonly truncated: number;
  readonly retried: number;
  /** Write requests to the stream's table; undefined when the writer does not count them. */
  readonly requests?: number;
  readonly throttled429?: number;
  /** Another stream writes the same table, so requests and 429s are the table's, not this stream's. */
  readonly sharedTable?: boolean;
  /** First record read to last write settled. */
  readonly seconds: number;
  readonly rejectionsByCode: ReadonlyMap<string, number>;
}

/** One LOG line per stream. Its `word number` pairs are parsed by tests and the benchmark. */
export function summaryLine(s: StreamSummary): string {
  const codes = [...s.rejectionsByCode].map(([c, n]) => `${c} ×${n}`).join(", ");
  const http =
    s.requests !== undefined
      ? `, requests ${s.requests}, 429s ${s.throttled429 ?? 0}${s.sharedTable === true ? ` (all streams to ${s.table})` : ""}`
      : "";
  return (
    `summary: stream "${s.stream}" → ${s.table}: read ${s.read}, created ${s.created}, updated ${s.updated}, upserted ${s.upserted}, unchanged ${s.unchanged}, ` +
    `deleted ${s.deleted}, deactivated ${s.deactivated}, rejected ${s.rejected}${codes !== "" ? ` (${codes})` : ""}, truncated ${s.truncated}, retried ${s.retried}` +
    `${http}, ${s.seconds.toFixed(1)} s`
  );
}

const COLUMNS: readonly [header: string, cell: (s: StreamSummary) => string][] = [
  ["stream", (s) => s.stream],
  ["table", (s) => s.table],
  ["read", (s) => String(s.read)],
  ["created", (s) => String(s.created)],
  ["updated", (s) => String(s.updated)],
  ["upserted", (s) => String(s.upserted)],
  ["unchanged", (s) => String(s.unchanged)],
  ["deleted", (s) => String(s.deleted + s.deactivated)],
  ["rejected", (s) => String(s.rejected)],
  ["requests", (s) => (s.requests === undefined ? "-" : `${s.requests}${s.sharedTable === true ? "*" : ""}`)],
  ["429s", (s) => (s.throttled429 === undefined ? "-" : `${s.throttled429}${s.sharedTable === true ? "*" : ""}`)],
  ["time", (s) => `${s.seconds.toFixed(1)} s`],
];

/** The summary as a text table for a terminal; numbers right-aligned. */
export function summaryTable(rows: readonly StreamSummary[]): string {
  const cells = rows.map((r) => COLUMNS.map(([, cell]) => cell(r)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (values: readonly string[]): string =>
    values.map((v, i) => (i < 2 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join("  ").trimEnd();
  const out = [line(COLUMNS.map(([h]) => h)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  if (rows.some((r) => r.sharedTable === true)) out.push("* shared by every stream writing that table");
  return out.join("\n");
}

/**
 * The live status line on a terminal. Every other write to the same terminal goes through
 * `wrap`, which clears the line first and redraws it after, so log lines never land in the
 * middle of it. Off a terminal every method does nothing and `wrap` returns its stream.
 */
export class TerminalStatus {
  readonly #out: Writable;
  readonly #isTTY: boolean;
  #line = "";

  constructor(out: Writable, isTTY: boolean) {
    this.#out = out;
    this.#isTTY = isTTY;
  }

  get enabled(): boolean {
    return this.#isTTY;
  }

  show(text: string): void {
    if (!this.#isTTY) return;
    this.#line = text;
    this.#out.write(`\r\x1b[K${text}`);
  }

  /** Removes the line for good (end of run). */
  clear(): void {
    if (!this.#isTTY || this.#line === "") return;
    this.#line = "";
    this.#out.write("\r\x1b[K");
  }

  /** Writes a block of text above the status line. */
  print(text: string): void {
    if (!this.#isTTY) return;
    this.#out.write(`\r\x1b[K${text.endsWith("\n") ? text : `${text}\n`}${this.#line}`);
  }

  /** A stream whose writes land above the status line (for stdout/stderr lines on the same terminal). */
  wrap(target: Writable): Writable {
    if (!this.#isTTY) return target;
    const redraw = (): void => {
      if (this.#line !== "") this.#out.write(this.#line);
    };
    const clear = (): void => {
      if (this.#line !== "") this.#out.write("\r\x1b[K");
    };
    const proxy = new Writable({
      // Backpressure passes through: the callback waits for the target's 'drain'.
      write(chunk: Buffer, _encoding, callback) {
        clear();
        const ok = target.write(chunk);
        redraw();
        if (ok) callback();
        else target.once("drain", () => callback());
      },
    });
    target.on("error", (err: Error) => proxy.destroy(err));
    return proxy;
  }
}
