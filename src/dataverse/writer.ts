// The Writer (model/writer.ts): operations in, one outcome per operation out.
//
// - Bulk first: UpsertMultiple / CreateMultiple / UpdateMultiple where the table's sdkmessagefilter
//   probe says the message exists, in requests capped by rows (batchSize) and bytes (maxBatchBytes);
//   a refused bulk request is split (bulk-path.ts).
// - $batch without changesets (each part its own transaction) for deletes, deactivations, tables
//   without bulk messages, and when bulk actions are off (batch-path.ts).
// - Retries: the HTTP request is retried by the client (429, 502-504, resets, timeouts) within the
//   budget; inside a $batch, retryable parts are resent on their own, never their committed
//   neighbours.
//
// Idempotency and at-least-once: upsert, update, delete, deactivate and create with a GUID or key are
// idempotent, so resending after a timeout or reset is safe. A plain create (no id, no key) resent
// after a reset whose answer was lost may create the row twice: plain creates are at-least-once.
//
// The parts: assemble.ts (requests per operation kind), outcome.ts (what a part's answer means),
// key-resolution.ts (keys no URL can carry), user-pool.ts (dispatch over the application users),
// write-stats.ts (counts).
import type { Clock } from "../http/clock.js";
import { RetryBudget, type BackoffOptions } from "../http/retry.js";
import type { Operation } from "../model/operation.js";
import type { TableLookup, TableMeta } from "../model/table-meta.js";
import type { Writer, WriteOptions, WriteOutcome } from "../model/writer.js";
import { bulkAssemblerFor, chunks, type BulkAssembler } from "./assemble.js";
import { sendBatch } from "./batch-path.js";
import { sendBulk } from "./bulk-path.js";
import type { DataverseClient } from "./client.js";
import { ChangeFilter, type Narrowed } from "./changes.js";
import { KeyResolver } from "./key-resolution.js";
import { UserPool } from "./user-pool.js";
import { isDuplicateRefusal, newItem, reject, restoreFallback, validate, type Item, type WriteCall, type WriteContext } from "./write-item.js";
import { WriteCounters, type WriterCounts } from "./write-stats.js";

export type { TableCounts, WriterCounts } from "./write-stats.js";

export interface WriterSettings {
  /** Rows per request (bulk targets or $batch parts); Dataverse allows 1000 parts per $batch. */
  readonly batchSize: number;
  readonly maxBatchBytes: number;
  readonly retryBudgetSeconds: number;
  readonly useBulkActions: boolean;
  /**
   * Read the current values of upserted and updated rows first and write only what changed
   * (changes.ts). Off when absent.
   */
  readonly writeOnlyChanges?: boolean;
}

export interface CreateWriterOptions {
  /** One client per application user (main first); each brings its own throttle. */
  readonly clients: readonly DataverseClient[];
  /** Metadata of the tables written (bulk support, primary id, logical name for @odata.type). */
  readonly tables: TableLookup;
  readonly settings: WriterSettings;
  readonly clock: Clock;
  /** Headers on every write request (see `writeHeaders`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Failed bulk requests of at most this many operations go to $batch instead of being halved. */
  readonly isolateBelow?: number;
  readonly backoff?: BackoffOptions;
}

export interface StatsWriter extends Writer {
  stats(): WriterCounts;
}

/** The request headers the write settings ask for (bypass logic, flows, duplicate detection, impersonation). */
export function writeHeaders(settings: {
  readonly bypassBusinessLogic?: string;
  readonly suppressFlows?: boolean;
  readonly duplicateDetection?: boolean;
  readonly impersonateObjectId?: string;
}): Record<string, string> {
  const h: Record<string, string> = {};
  if (settings.bypassBusinessLogic !== undefined) h["MSCRM.BypassBusinessLogicExecution"] = settings.bypassBusinessLogic;
  if (settings.suppressFlows === true) h["MSCRM.SuppressCallbackRegistrationExpanderJob"] = "true";
  // Duplicate detection is off by default for Web API writes; "false" turns it on.
  if (settings.duplicateDetection === true) h["MSCRM.SuppressDuplicateDetection"] = "false";
  if (settings.impersonateObjectId !== undefined) h.CallerObjectId = settings.impersonateObjectId;
  return h;
}

/** A narrowed create's answer when its row was there after all: a duplicate refusal, or the 412 read as "already there". */
function lostRace(result: WriteOutcome | undefined): boolean {
  if (result === undefined) return false;
  if (result.ok) return result.unchanged === true && result.created === false;
  return isDuplicateRefusal(result.status, result.code);
}

export function createWriter(options: CreateWriterOptions): StatsWriter {
  const counts = new WriteCounters();
  const pool = new UserPool(options.clients, counts);
  const ctx: WriteContext = { pool, counts, clock: options.clock, backoff: options.backoff, isolateBelow: options.isolateBelow ?? 8 };
  const keys = new KeyResolver(options.tables, pool);
  const changes = options.settings.writeOnlyChanges === true ? new ChangeFilter(options.tables, pool, counts) : undefined;
  const budgetMs = options.settings.retryBudgetSeconds * 1000;
  const caps = { rows: Math.max(1, Math.min(options.settings.batchSize, 1000)), bytes: Math.max(1024, options.settings.maxBatchBytes) };
  const inflight = new Set<Promise<unknown>>();
  let closed = false;

  /** Groups the unsettled items by table and route and sends them; order between groups does not matter. */
  async function sendAll(call: WriteCall, items: readonly Item[]): Promise<void> {
    // By table, then by route (a bulk action or $batch): two lookups per item, no key text built.
    type Group = { meta: TableMeta | undefined; bulk: BulkAssembler | undefined; items: Item[] };
    const byTable = new Map<string, Map<BulkAssembler | undefined, Group>>();
    const groups: Group[] = [];
    for (const item of items) {
      if (call.results[item.index] !== undefined) continue;
      const table = item.op.table;
      const meta = options.tables(table);
      const bulk = bulkAssemblerFor(item.op, meta, options.settings.useBulkActions);
      let routes = byTable.get(table);
      if (routes === undefined) {
        routes = new Map();
        byTable.set(table, routes);
      }
      let g = routes.get(bulk);
      if (g === undefined) {
        g = { meta, bulk, items: [] };
        routes.set(bulk, g);
        groups.push(g);
      }
      g.items.push(item);
    }
    const tasks: Promise<void>[] = [];
    for (const { meta, bulk, items: grouped } of groups) {
      for (const chunk of chunks(grouped, meta, bulk, caps)) {
        tasks.push(bulk !== undefined && meta !== undefined ? sendBulk(ctx, call, chunk, meta, bulk) : sendBatch(ctx, call, chunk));
      }
    }
    await Promise.all(tasks);
  }

  /**
   * Sends the call's items, then again those that must go once more: creates sent unread that met a
   * row (read and narrowed first), and narrowed creates that lost a race (as the upserts they were).
   */
  async function settle(call: WriteCall, items: readonly Item[], narrowed: Map<Item, Narrowed>): Promise<void> {
    /** Narrowed creates back to the upserts they were, unanswered, to be sent again. */
    const putBack = (back: readonly Item[]): void => {
      for (const i of back) {
        restoreFallback(i);
        call.results[i.index] = undefined;
        narrowed.delete(i);
      }
    };
    await sendAll(call, items);
    // Creates sent unread (new-rows.ts) that met a row: read and narrowed now, as they would have
    // been, and sent again as what that makes them (a create, an update of what changed, nothing).
    const missed = changes === undefined ? [] : items.filter((i) => i.unread && lostRace(call.results[i.index]));
    if (changes !== undefined && missed.length > 0) {
      changes.missed(missed);
      putBack(missed);
      for (const [item, n] of await changes.apply(missed, call.results, caps.rows, false)) {
        if (n.as === "create") item.fallback = n.original;
        else narrowed.set(item, n);
      }
      await sendAll(call, missed);
    }
    // A create narrowed from an upsert whose row appeared between the read and the write, answered
    // on its own (a $batch part, or a bulk request of mixed rows split down to one): once more as
    // the upsert it was.
    const raced = items.filter((i) => i.fallback !== undefined && lostRace(call.results[i.index]));
    if (raced.length > 0) {
      putBack(raced);
      await sendAll(call, raced);
    }
  }

  async function write(operations: readonly Operation[], writeOptions?: WriteOptions): Promise<readonly WriteOutcome[]> {
    if (closed) throw new Error("writer is closed");
    // These headers go on the $batch request and on each of its parts: Microsoft's pages on bypass
    // headers and impersonation show single requests and do not say whether a part inherits them
    // from the enclosing $batch, so both carry them.
    const call: WriteCall = {
      results: new Array<WriteOutcome | undefined>(operations.length).fill(undefined),
      headers: { ...(options.headers ?? {}), ...(writeOptions?.headers ?? {}) },
    };
    const items: Item[] = [];
    operations.forEach((op, index) => {
      const item = newItem(index, op, new RetryBudget(budgetMs));
      const invalid = validate(item);
      if (invalid !== undefined) call.results[index] = invalid;
      else items.push(item);
    });
    await keys.resolve(items, call.results);
    const narrowed = changes === undefined ? new Map<Item, Narrowed>() : await changes.apply(items, call.results, caps.rows);
    for (const [item, n] of narrowed) {
      if (n.as === "create") item.fallback = n.original;
      // Only the updates are looked at again below (a create's way back is its fallback): the rest
      // need not be held while the batch is in flight.
      if (n.as !== "update") narrowed.delete(item);
    }

    // Held in `inflight` until every send of the call is done, so that close() waits for them.
    const all = settle(call, items, narrowed);
    inflight.add(all);
    try {
      await all;
    } finally {
      inflight.delete(all);
    }
    // A narrowed upsert answers as what it became: an update (created: false) or a create.
    for (const [item, n] of narrowed) {
      const r = call.results[item.index];
      if (n.as === "update" && r?.ok === true && r.unchanged !== true) call.results[item.index] = { ok: true, created: false };
    }
    return call.results.map((r) => r ?? reject(0, "", "operation was not answered"));
  }

  return {
    write,
    async close() {
      closed = true;
      await Promise.allSettled([...inflight]);
    },
    stats: () => counts.report(options.clients),
  };
}
