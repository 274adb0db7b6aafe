// Fakes for the pipeline's unit tests, only at seams the pipeline owns (Writer, Output, Timers,
// TableSource), and the contact and account metadata they write to, taken from the one set of
// table fixtures (src/mapping/test-fixtures.ts). Left out of the build, like that file.
import type { TableLookup, TableMeta } from "../model/table-meta.js";
import type { WriteOptions, WriteOutcome, Writer } from "../model/writer.js";
import type { Operation } from "../model/operation.js";
import type { DestinationOperation, ErrorTrace, JsonObject, LogLevel, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import type { Output } from "../protocol/emit.js";
import { accountTable, col, contactTable } from "../mapping/test-fixtures.js";
import type { TableSource, Timers } from "./options.js";

/** Account as in the fixtures: alternate key on accountnumber, primarycontactid a lookup back to contact. */
export const account: TableMeta = accountTable();

/**
 * Contact with an alternate key on emailaddress1 alone (the streams' primary key) and a short
 * firstname, so that a long one is a mapping rejection.
 */
export const contact: TableMeta = contactTable({
  keys: [{ logicalName: "contact_email_key", schemaName: "ContactEmailKey", columns: ["emailaddress1"], status: "Active" }],
  columns: [col({ logicalName: "firstname", type: "String", maxLength: 10 })],
});

export function tableSource(tables: readonly TableMeta[] = [account, contact]): TableSource & { loads: string[] } {
  const byName = new Map(tables.map((t) => [t.logicalName, t]));
  const loads: string[] = [];
  const lookup: TableLookup = (n) => byName.get(n.toLowerCase());
  return {
    loads,
    lookup,
    loadTable(n) {
      loads.push(n);
      const t = byName.get(n.toLowerCase());
      if (t === undefined) {
        const e = new Error("no such table");
        e.name = "TableNotFoundError";
        return Promise.reject(e);
      }
      return Promise.resolve(t);
    },
  };
}

export type Outcomer = (op: Operation, index: number) => WriteOutcome;

/** Records every call; `hold()` keeps the next calls pending until `release()`. */
export class FakeWriter implements Writer {
  readonly calls: Operation[][] = [];
  outcome: Outcomer = () => ({ ok: true, created: true });
  failWith: unknown;
  #held = false;
  #waiting: (() => void)[] = [];

  hold(): void {
    this.#held = true;
  }
  release(): void {
    this.#held = false;
    for (const w of this.#waiting.splice(0)) w();
  }
  get pending(): number {
    return this.#waiting.length;
  }

  async write(operations: readonly Operation[], _options?: WriteOptions): Promise<readonly WriteOutcome[]> {
    this.calls.push([...operations]);
    if (this.#held) await new Promise<void>((r) => this.#waiting.push(r));
    if (this.failWith !== undefined) throw this.failWith;
    return operations.map((op, i) => this.outcome(op, i));
  }
  async close(): Promise<void> {}
}

export type Emitted =
  | { kind: "state"; value: unknown }
  | { kind: "log"; level: LogLevel; message: string }
  | { kind: "error"; error: ErrorTrace };

export class MemoryOutput implements Output {
  readonly mode = "airbyte";
  readonly emitted: Emitted[] = [];
  spec(_s: JsonObject): Promise<void> {
    return Promise.resolve();
  }
  connectionStatus(): Promise<void> {
    return Promise.resolve();
  }
  state(value: unknown): Promise<void> {
    this.emitted.push({ kind: "state", value });
    return Promise.resolve();
  }
  log(level: LogLevel, message: string): Promise<void> {
    this.emitted.push({ kind: "log", level, message });
    return Promise.resolve();
  }
  error(error: ErrorTrace): Promise<void> {
    this.emitted.push({ kind: "error", error });
    return Promise.resolve();
  }
  streamStatus(_d: StreamDescriptor, _s: StreamStatus): Promise<void> {
    return Promise.resolve();
  }
  destinationCatalog(_o: readonly DestinationOperation[]): Promise<void> {
    return Promise.resolve();
  }
  get states(): unknown[] {
    return this.emitted.filter((e) => e.kind === "state").map((e) => (e as { value: unknown }).value);
  }
  get logs(): string[] {
    return this.emitted.filter((e) => e.kind === "log").map((e) => (e as { message: string }).message);
  }
}

export class ManualTimers implements Timers {
  time = 0;
  readonly #timers = new Map<number, { ms: number; fn: () => void; next: number }>();
  #id = 0;
  now(): number {
    return this.time;
  }
  every(ms: number, fn: () => void): () => void {
    const id = ++this.#id;
    this.#timers.set(id, { ms, fn, next: this.time + ms });
    return () => this.#timers.delete(id);
  }
  advance(ms: number): void {
    this.time += ms;
    for (const t of this.#timers.values()) {
      while (t.next <= this.time) {
        t.next += t.ms;
        t.fn();
      }
    }
  }
  get active(): number {
    return this.#timers.size;
  }
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}
