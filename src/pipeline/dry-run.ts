// `write --dry-run`: the same pipeline with a Writer that reads instead of writing. Each batch's
// rows are looked up by key in chunks and compared with diffRow; nothing is sent but GETs, and
// no state is echoed (nothing was committed).
import type { TableLookup } from "../dataverse/metadata-types.js";
import type { WriteOutcome, Writer } from "../dataverse/writer-types.js";
import { keyFilter } from "../dataverse/keys.js";
import { diffRow } from "../mapping/diff.js";
import type { DiffAction } from "../mapping/diff.js";
import type { Operation } from "../mapping/operation.js";
import type { DestinationOperation, ErrorTrace, JsonObject, LogLevel, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import type { Output } from "../protocol/emit.js";

export interface RowReader {
  query(entitySet: string, options: { readonly filter?: string; readonly maxPageSize?: number }): AsyncIterable<Record<string, unknown>[]>;
}

export interface TableTally {
  readonly counts: Record<DiffAction, number>;
  /** A few changed rows, by column names only. */
  readonly samples: { action: DiffAction; columns: readonly string[] }[];
}

const SAMPLE_SIZE = 5;
/** Rows per lookup query: keeps the $filter URL well under Dataverse's URL length limit. */
const CHUNK = 25;

function emptyTally(): TableTally {
  return { counts: { create: 0, update: 0, delete: 0, unchanged: 0, missing: 0, conflict: 0 }, samples: [] };
}

function norm(v: unknown): string {
  return typeof v === "string" ? v.toLowerCase() : String(v);
}

export class DryRunWriter implements Writer {
  readonly tallies = new Map<string, TableTally>();
  readonly #reader: RowReader;
  readonly #tables: TableLookup;

  constructor(reader: RowReader, tables: TableLookup) {
    this.#reader = reader;
    this.#tables = tables;
  }

  async write(operations: readonly Operation[]): Promise<readonly WriteOutcome[]> {
    const existing = await this.#lookup(operations);
    return operations.map((op, i) => {
      const d = diffRow(op, existing[i], this.#tables(op.table));
      let tally = this.tallies.get(op.table);
      if (tally === undefined) {
        tally = emptyTally();
        this.tallies.set(op.table, tally);
      }
      tally.counts[d.action] += 1;
      if (d.action !== "unchanged" && tally.samples.length < SAMPLE_SIZE) tally.samples.push({ action: d.action, columns: d.changedColumns });
      return { ok: true, created: d.action === "create" };
    });
  }

  async close(): Promise<void> {}

  /** The current row for each operation (undefined when none matches its ref). */
  async #lookup(ops: readonly Operation[]): Promise<(Record<string, unknown> | undefined)[]> {
    const out: (Record<string, unknown> | undefined)[] = ops.map(() => undefined);
    const groups = new Map<string, number[]>();
    ops.forEach((op, i) => {
      if (op.ref.kind === "none") return;
      const g = groups.get(op.entitySet) ?? [];
      g.push(i);
      groups.set(op.entitySet, g);
    });
    for (const [entitySet, indexes] of groups) {
      const first = ops[indexes[0] ?? 0] as Operation;
      const pid = this.#tables(first.table)?.primaryIdAttribute ?? `${first.table}id`;
      for (let start = 0; start < indexes.length; start += CHUNK) {
        const chunk = indexes.slice(start, start + CHUNK);
        const clauses = chunk.map((i) => {
          const ref = (ops[i] as Operation).ref;
          return ref.kind === "id" ? `${pid} eq ${ref.id}` : `(${keyFilter(ref)})`;
        });
        const rows: Record<string, unknown>[] = [];
        for await (const page of this.#reader.query(entitySet, { filter: clauses.join(" or "), maxPageSize: 5000 })) rows.push(...page);
        for (const i of chunk) {
          const ref = (ops[i] as Operation).ref;
          out[i] = rows.find((row) =>
            ref.kind === "id" ? norm(row[pid]) === ref.id.toLowerCase() : ref.kind === "key" && ref.values.every(([c, v]) => norm(row[c]) === norm(v)),
          );
        }
      }
    }
    return out;
  }
}

/** Forwards everything but states: a dry run commits nothing, so it must checkpoint nothing. */
export class NoStateOutput implements Output {
  readonly #inner: Output;
  constructor(inner: Output) {
    this.#inner = inner;
  }
  get mode(): "airbyte" | "singer" {
    return this.#inner.mode;
  }
  spec(spec: JsonObject): Promise<void> {
    return this.#inner.spec(spec);
  }
  connectionStatus(status: "SUCCEEDED" | "FAILED", message?: string): Promise<void> {
    return this.#inner.connectionStatus(status, message);
  }
  state(): Promise<void> {
    return Promise.resolve();
  }
  log(level: LogLevel, message: string): Promise<void> {
    return this.#inner.log(level, message);
  }
  error(error: ErrorTrace): Promise<void> {
    return this.#inner.error(error);
  }
  streamStatus(stream: StreamDescriptor, status: StreamStatus): Promise<void> {
    return this.#inner.streamStatus(stream, status);
  }
  destinationCatalog(operations: readonly DestinationOperation[]): Promise<void> {
    return this.#inner.destinationCatalog(operations);
  }
}

export function dryRunReport(tallies: ReadonlyMap<string, TableTally>, streamsByTable: ReadonlyMap<string, readonly string[]>): string[] {
  const lines: string[] = [];
  for (const [table, t] of tallies) {
    const c = t.counts;
    const streams = streamsByTable.get(table)?.join(", ") ?? "";
    lines.push(
      `dry run: ${table}${streams !== "" ? ` (stream ${streams})` : ""}: would create ${c.create}, update ${c.update}, delete ${c.delete}, leave unchanged ${c.unchanged}` +
        `${c.missing > 0 ? `, reject ${c.missing} as missing rows` : ""}${c.conflict > 0 ? `, reject ${c.conflict} as existing ids` : ""}`,
    );
    for (const s of t.samples) lines.push(`dry run: ${table} sample ${s.action}${s.columns.length > 0 ? `: ${s.columns.join(", ")}` : ""}`);
  }
  return lines;
}
