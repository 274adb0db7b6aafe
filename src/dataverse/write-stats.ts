// What the writer counts, beside what each client counts on its own request path.
import type { ThrottleStats } from "../http/throttle.js";
import type { DataverseClient } from "./client.js";

export interface TableCounts {
  readonly requests: number;
  readonly throttled429: number;
  readonly retries: number;
}

export interface WriterCounts {
  readonly requests: number;
  readonly bulkRequests: number;
  readonly batchRequests: number;
  /** Operations sent in write requests (a resend counts again). */
  readonly recordsSent: number;
  readonly recordsPerRequest: number;
  readonly throttled429: number;
  /**
   * Resends: every HTTP attempt after the first (429, 5xx, reset, timeout; counted by the clients)
   * plus every $batch part sent again on its own (a part answered 429/5xx, or left unanswered).
   */
  readonly retries: number;
  readonly throttledMs: number;
  /** Bulk requests refused for their content and split. */
  readonly bulkSplits: number;
  /** Reads of current values before writing (write only what changed). */
  readonly changeReads: number;
  /** Operations not written because their rows already held what they carried. */
  readonly skippedUnchanged: number;
  /** Upserts sent as creates without a read, reads having kept finding no row (new-rows.ts). */
  readonly unreadCreates: number;
  /** Of those, the ones that met a row and were read and narrowed after all. */
  readonly unreadMisses: number;
  readonly users: readonly ThrottleStats[];
  /** Write requests (attempts, retries included), 429 answers and resends (as `retries`) per table logical name. */
  readonly tables: ReadonlyMap<string, TableCounts>;
}

export class WriteCounters {
  #bulkRequests = 0;
  #batchRequests = 0;
  #recordsSent = 0;
  #bulkSplits = 0;
  #changeReads = 0;
  #skippedUnchanged = 0;
  #unreadCreates = 0;
  #unreadMisses = 0;
  /** $batch parts sent again on their own, and requests moved to another user after a 429. */
  #resends = 0;
  /** $batch parts answered 429 inside a 200 $batch, per table (the client sees only the 200). */
  readonly #partThrottled = new Map<string, number>();
  /** Resends the clients do not see, per table. */
  readonly #resent = new Map<string, number>();

  /** A write request of `records` operations went out (a bulk action or a $batch). */
  sent(kind: "bulk" | "batch", records: number): void {
    if (kind === "bulk") this.#bulkRequests++;
    else this.#batchRequests++;
    this.#recordsSent += records;
  }

  /** A bulk request was refused for its content and is split. */
  split(): void {
    this.#bulkSplits++;
  }

  /** A read of current values went out before a write. */
  changeRead(): void {
    this.#changeReads++;
  }

  /** An upsert goes as a create without a read of its row. */
  unreadCreate(): void {
    this.#unreadCreates++;
  }

  /** An unread create met a row that was there and is read after all. */
  unreadMiss(): void {
    this.#unreadMisses++;
  }

  /** An operation was not written: its row already held what it carried. */
  unchangedSkipped(): void {
    this.#skippedUnchanged++;
  }

  /** One operation of this table is sent again by the writer (a $batch part, or a request moved to another user). */
  resent(table: string | undefined): void {
    this.#resends++;
    if (table !== undefined) this.#resent.set(table, (this.#resent.get(table) ?? 0) + 1);
  }

  /** A $batch part of this table was answered 429. */
  partThrottled(table: string): void {
    this.#partThrottled.set(table, (this.#partThrottled.get(table) ?? 0) + 1);
  }

  /** These counts with the clients' own, as one report. */
  report(clients: readonly DataverseClient[]): WriterCounts {
    let requests = 0;
    let retries = 0;
    let throttled429 = 0;
    for (const c of clients) {
      requests += c.counters.requests;
      retries += c.counters.retries;
      throttled429 += c.counters.throttled429;
    }
    const users = clients.map((c) => c.throttle.stats());
    const tables = new Map<string, { requests: number; throttled429: number; retries: number }>();
    const tableSum = (table: string): { requests: number; throttled429: number; retries: number } => {
      let sum = tables.get(table);
      if (sum === undefined) {
        sum = { requests: 0, throttled429: 0, retries: 0 };
        tables.set(table, sum);
      }
      return sum;
    };
    for (const c of clients) {
      for (const [table, t] of c.tagged) {
        const sum = tableSum(table);
        sum.requests += t.requests;
        sum.throttled429 += t.throttled429;
        sum.retries += t.retries;
      }
    }
    let parts429 = 0;
    for (const [table, n] of this.#partThrottled) {
      parts429 += n;
      tableSum(table).throttled429 += n;
    }
    for (const [table, n] of this.#resent) tableSum(table).retries += n;
    const writeRequests = this.#bulkRequests + this.#batchRequests;
    return {
      requests,
      bulkRequests: this.#bulkRequests,
      batchRequests: this.#batchRequests,
      recordsSent: this.#recordsSent,
      recordsPerRequest: writeRequests === 0 ? 0 : this.#recordsSent / writeRequests,
      throttled429: throttled429 + parts429,
      retries: retries + this.#resends,
      throttledMs: users.reduce((a, u) => a + u.pausedMs, 0),
      bulkSplits: this.#bulkSplits,
      changeReads: this.#changeReads,
      skippedUnchanged: this.#skippedUnchanged,
      unreadCreates: this.#unreadCreates,
      unreadMisses: this.#unreadMisses,
      users,
      tables,
    };
  }
}
