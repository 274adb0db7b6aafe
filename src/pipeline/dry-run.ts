// `write --dry-run`: the same pipeline with a Writer that reads instead of writing. Each batch's
// rows are looked up by key in chunks and compared with diffRow; nothing is sent but GETs, and
// no state is echoed (nothing was committed).
import type { TableLookup } from "../model/table-meta.js";
import type { WriteOutcome, Writer } from "../model/writer.js";
import { keyFilter } from "../dataverse/keys.js";
import { diffRow } from "../mapping/diff.js";
import type { DiffAction, RowDiff } from "../mapping/diff.js";
import type { Operation } from "../model/operation.js";
import type { DestinationOperation, ErrorTrace, JsonObject, LogLevel, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import type { Output } from "../protocol/emit.js";

export interface RowReader {
  query(entitySet: string, options: { readonly filter?: string; readonly maxPageSize?: number }): AsyncIterable<Record<string, unknown>[]>;
}

/**
 * What the real writer would do, in the summary's terms: a create meeting its id already there
 * (conflict) and a delete of a row already gone are no-ops the writer counts as unchanged; only an
 * update of a missing row is rejected.
 */
export type DryRunAction = "create" | "update" | "delete" | "deactivate" | "unchanged" | "reject";

export interface TableTally {
  readonly counts: Record<DryRunAction, number>;
  /** Of the unchanged: creates whose id exists, deletes whose row is gone. */
  readonly alreadyPresent: number;
  readonly alreadyGone: number;
  /** A few changed rows, by column names only. */
  readonly samples: { action: DryRunAction; columns: readonly string[] }[];
}

const SAMPLE_SIZE = 5;
/** Rows per lookup query: keeps the $filter URL well under Dataverse's URL length limit. */
const CHUNK = 25;

function emptyTally(): { counts: Record<DryRunAction, number>; alreadyPresent: number; alreadyGone: number; samples: TableTally["samples"] } {
  return { counts: { create: 0, update: 0, delete: 0, deactivate: 0, unchanged: 0, reject: 0 }, alreadyPresent: 0, alreadyGone: 0, samples: [] };
}

/** The outcome the real writer would report for this diff (dataverse/writer.ts's verdicts). */
function dryRunOutcome(op: Operation, action: DiffAction): { action: DryRunAction; outcome: WriteOutcome } {
  switch (action) {
    case "create":
      return { action, outcome: { ok: true, created: true } };
    case "update":
      return { action, outcome: { ok: true, created: false } };
    case "delete":
      // diffRow calls a deactivation that changes the row a "delete"; the report names it as such.
      return { action: op.kind === "deactivate" ? "deactivate" : "delete", outcome: { ok: true } };
    case "unchanged":
    case "conflict":
      return { action: "unchanged", outcome: { ok: true, created: false, unchanged: true } };
    case "missing":
      return op.kind === "update"
        ? { action: "reject", outcome: { ok: false, status: 404, code: "", message: "row does not exist (update mode never creates)" } }
        : { action: "unchanged", outcome: { ok: true, unchanged: true } };
  }
}

function norm(v: unknown): string {
  return typeof v === "string" ? v.toLowerCase() : String(v);
}

export interface DryRunOptions {
  /**
   * The writer's own read of current rows (dataverse/changes.ts currentRows): a row, undefined for
   * none, null when the read proved nothing (those fall back to a lookup of their own).
   */
  readonly current?: (ops: readonly Operation[]) => Promise<readonly (Record<string, unknown> | undefined | null)[]>;
  /** The writer's comparison (dataverse/changes.ts diffAgainst); diffRow when absent. */
  readonly diff?: (op: Operation, row: Readonly<Record<string, unknown>> | undefined) => RowDiff;
  /** write_only_changes: when off, upserts and updates of rows already as sent are written anyway. */
  readonly writeOnlyChanges?: boolean;
}

export class DryRunWriter implements Writer {
  readonly tallies = new Map<string, ReturnType<typeof emptyTally>>();
  readonly #reader: RowReader;
  readonly #tables: TableLookup;
  readonly #options: DryRunOptions;

  constructor(reader: RowReader, tables: TableLookup, options: DryRunOptions = {}) {
    this.#reader = reader;
    this.#tables = tables;
    this.#options = options;
  }

  async #existing(operations: readonly Operation[]): Promise<(Record<string, unknown> | undefined)[]> {
    if (this.#options.current === undefined) return this.#lookup(operations);
    const found = await this.#options.current(operations);
    const unknown = operations.map((_, i) => i).filter((i) => found[i] === null);
    const looked = unknown.length === 0 ? [] : await this.#lookup(unknown.map((i) => operations[i] as Operation));
    const out = operations.map((_, i) => found[i] ?? undefined);
    unknown.forEach((i, k) => {
      out[i] = looked[k];
    });
    return out;
  }

  async write(operations: readonly Operation[]): Promise<readonly WriteOutcome[]> {
    const existing = await this.#existing(operations);
    return operations.map((op, i) => {
      let d = this.#options.diff?.(op, existing[i]) ?? diffRow(op, existing[i], this.#tables(op.table));
      if (this.#options.writeOnlyChanges === false && d.action === "unchanged" && (op.kind === "upsert" || op.kind === "update")) {
        // Written as it comes, as the writer does with write_only_changes off.
        d = { action: "update", changedColumns: [...Object.keys(op.columns), ...op.bindings.map((b) => b.column ?? b.navigationProperty)] };
      }
      let tally = this.tallies.get(op.table);
      if (tally === undefined) {
        tally = emptyTally();
        this.tallies.set(op.table, tally);
      }
      const { action, outcome } = dryRunOutcome(op, d.action);
      tally.counts[action] += 1;
      if (d.action === "conflict") tally.alreadyPresent += 1;
      if (d.action === "missing" && action === "unchanged") tally.alreadyGone += 1;
      if ((action === "create" || action === "update" || action === "delete" || action === "deactivate") && tally.samples.length < SAMPLE_SIZE) {
        tally.samples.push({ action, columns: d.changedColumns });
      }
      return outcome;
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
    const why = [
      ...(t.alreadyPresent > 0 ? [`${t.alreadyPresent} create(s) of an id already present`] : []),
      ...(t.alreadyGone > 0 ? [`${t.alreadyGone} delete(s) of a row already gone`] : []),
    ];
    lines.push(
      `dry run: ${table}${streams !== "" ? ` (stream ${streams})` : ""}: would create ${c.create}, update ${c.update}, delete ${c.delete}${c.deactivate > 0 ? `, deactivate ${c.deactivate}` : ""}, leave unchanged ${c.unchanged}` +
        `${why.length > 0 ? ` (${why.join(", ")})` : ""}${c.reject > 0 ? `, reject ${c.reject} updates of missing rows` : ""}`,
    );
    for (const s of t.samples) lines.push(`dry run: ${table} sample ${s.action}${s.columns.length > 0 ? `: ${s.columns.join(", ")}` : ""}`);
  }
  return lines;
}
