// The Writer (model/writer.ts): operations in, one outcome per operation out.
//
// Strategy (issue 5):
// - Bulk first: UpsertMultiple / CreateMultiple / UpdateMultiple where the table's sdkmessagefilter
//   probe says the message exists, in requests capped by rows (batchSize) and bytes (maxBatchBytes).
// - A bulk request is all-or-nothing on standard tables. When one is refused for its content, its
//   operations are split in halves and resent as bulk, down to `isolateBelow` operations, which go
//   through $batch with `Prefer: odata.continue-on-error`: each part then answers for itself, so one
//   bad row costs its own rejection plus about 2·log2(n) small bulk requests, not the other 999 rows.
// - $batch without changesets (each part its own transaction) for deletes, deactivations, tables
//   without bulk messages, and when bulk actions are off.
// - Retries: the HTTP request is retried by the client (429, 502-504, resets, timeouts) within the
//   budget; inside a $batch, retryable parts are resent on their own, never their committed
//   neighbours.
//
// Idempotency and at-least-once: upsert, update, delete, deactivate and create with a GUID or key are
// idempotent, so resending after a timeout or reset is safe. A plain create (no id, no key) resent
// after a reset whose answer was lost may create the row twice: plain creates are at-least-once.
import type { Clock } from "../http/clock.js";
import { classifyStatus, nextDelay, RetryBudget, type BackoffOptions } from "../http/retry.js";
import { ThrottlePool, type Permit, type ThrottleStats } from "../http/throttle.js";
import { DATAVERSE_RETRY_RULE } from "./limits.js";
import type { HttpResponse } from "../http/transport.js";
import type { Operation, RowRef, ColumnValue } from "../model/operation.js";
import type { TableLookup, TableMeta } from "../model/table-meta.js";
import type { Writer, WriteOptions, WriteOutcome } from "../model/writer.js";
import { buildBatch, matchResponses, parseBatchResponse, type BatchPartResponse, type BatchRequestPart } from "./batch.js";
import { bodyText, type ClientRequest, type DataverseClient } from "./client.js";
import { DataverseError, errorFromResponse, isRunLevel, parseErrorBody } from "./errors.js";
import { bindUrl, encodeQueryValue, entityPath, isUrlAddressable, KeyLiteralError, keyFilter } from "./keys.js";
import { keyColumnType, keyIdentity } from "../model/key-identity.js";
import { lookupOfValueName } from "../model/lookup.js";

export interface WriterSettings {
  /** Rows per request (bulk targets or $batch parts); Dataverse allows 1000 parts per $batch. */
  readonly batchSize: number;
  readonly maxBatchBytes: number;
  readonly retryBudgetSeconds: number;
  readonly useBulkActions: boolean;
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

export interface WriterStats {
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
  readonly users: readonly ThrottleStats[];
  /** Write requests (attempts, retries included), 429 answers and resends (as `retries`) per table logical name. */
  readonly tables: ReadonlyMap<string, { readonly requests: number; readonly throttled429: number; readonly retries: number }>;
}

export interface StatsWriter extends Writer {
  stats(): WriterStats;
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

type Result = WriteOutcome;

interface Item {
  readonly index: number;
  op: Operation;
  /** Key values to put in the body when the row had to be created without a URL key. */
  extraColumns?: Readonly<Record<string, ColumnValue>>;
  readonly budget: RetryBudget;
  attempts: number;
  /** The row's entity path (`contacts(emailaddress1='…')`), computed once when validated. */
  path?: string;
  /** Its bulk target as JSON, serialised once when chunking: the size check and every send reuse it. */
  target?: string | undefined;
}

const BULK_MESSAGE = { create: "CreateMultiple", update: "UpdateMultiple", upsert: "UpsertMultiple" } as const;

/** 404 codes that mean "no such row": none, by id (0x80040217), by alternate key (0x80060891). */
const ROW_MISSING_CODES: ReadonlySet<string> = new Set(["", "0x80040217", "0x80060891"]);
/** 412 codes on a create-only write that mean "that row exists": none (Learn's example), duplicate key. */
const ROW_EXISTS_CODES: ReadonlySet<string> = new Set(["", "0x80040237"]);

function hasLookupKeyPart(ref: Operation["ref"]): boolean {
  return ref.kind === "key" && ref.values.some(([c]) => lookupOfValueName(c) !== undefined);
}

/**
 * URL-unusable keys are looked up in groups: one GET whose $filter ORs up to this many key
 * equalities, and whose filter text stays under LOOKUP_FILTER_CHARS once percent-encoded.
 * Microsoft's pages we could find give no URL length limit for a Web API GET, so both caps are
 * conservative: 50 keys of typical length make a URL of a few KB.
 */
const LOOKUP_CHUNK = 50;
const LOOKUP_FILTER_CHARS = 8000;

/** The identity of a key ref's values in a table (model/key-identity.ts); undefined when a value has none. */
function canonicalRef(meta: TableMeta, values: ReadonlyArray<readonly [string, unknown]>): string | undefined {
  return keyIdentity(values, (column) => keyColumnType(meta, column));
}

/**
 * GUIDs of rows found by key for one write call, by `entitySet|canonical key`; null when a grouped
 * lookup showed the row does not exist. A ref absent from the map goes through the per-row lookup.
 */
type KnownIds = Map<string, string | null>;

/** A request answered 429 by every user in turn this many times is given up as transient. */
const MAX_REROUTES = 50;

function reject(status: number, code: string, message: string): Result {
  return { ok: false, status, code, message };
}

export function createWriter(options: CreateWriterOptions): StatsWriter {
  if (options.clients.length === 0) throw new Error("createWriter needs at least one client");
  const pool = new ThrottlePool(options.clients.map((c) => c.throttle));
  const budgetMs = options.settings.retryBudgetSeconds * 1000;
  const batchSize = Math.max(1, Math.min(options.settings.batchSize, 1000));
  const maxBytes = Math.max(1024, options.settings.maxBatchBytes);
  const isolateBelow = options.isolateBelow ?? 8;
  const counters = { bulkRequests: 0, batchRequests: 0, recordsSent: 0, bulkSplits: 0, waitedRetries: 0, rerouted: 0 };
  const inflight = new Set<Promise<unknown>>();
  /** $batch parts answered 429 inside a 200 $batch, per table (the client sees only the 200). */
  const partThrottled = new Map<string, number>();
  /** Resends the clients do not see, per table: $batch parts sent again, requests moved to another user after a 429. */
  const resent = new Map<string, number>();
  let closed = false;

  const rootPath = (options.clients[0] as DataverseClient).rootPath;

  async function withClient<T>(fn: (client: DataverseClient, permit: Permit) => Promise<T>): Promise<T> {
    const { index, permit } = await pool.acquire();
    const client = options.clients[index] as DataverseClient;
    return fn(client, permit);
  }

  const pooled = options.clients.length > 1;
  // The main user signed in for WhoAmI; the others would otherwise sign in on their first request,
  // a second or more after the main user started (msal's discovery and token round trips).
  if (pooled) for (const c of options.clients.slice(1)) c.prefetchToken();

  /**
   * Sends with a budget shared by the items: the least remaining one bounds the request.
   *
   * With one user the client retries a 429 itself, after its Retry-After. In a pool a 429 speaks
   * for one user only (service protection limits are per user): the client pauses that user and
   * hands the answer back, and the request goes at once to another user that is not paused. Only
   * when every user is paused does it wait, for the first pause to end, and that wait is charged
   * to the budget like a Retry-After. Without this, a request could sit out a 3 s Retry-After while
   * the other users idle with budget to spare (the tail of a pooled run).
   */
  async function sendShared(items: readonly Item[], req: Omit<ClientRequest, "budget" | "permit">): Promise<{ res: HttpResponse; client: DataverseClient }> {
    const remaining = Math.min(...items.map((i) => i.budget.remainingMs));
    const budget = new RetryBudget(remaining);
    const tag = items[0]?.op.table;
    const send: Omit<ClientRequest, "permit"> = {
      ...req,
      budget,
      ...(tag !== undefined ? { tag } : {}),
      ...(pooled ? { handBack: [...(req.handBack ?? []), 429] } : {}),
    };
    try {
      for (let rerouted = 0; ; rerouted++) {
        const { index, permit } = await pool.acquire();
        const client = options.clients[index] as DataverseClient;
        const res = await client.send({ ...send, permit });
        if (!pooled || res.status !== 429 || req.handBack?.includes(429) === true) return { res, client };
        const waitMs = Math.min(...pool.throttles.map((t) => t.pauseRemainingMs));
        if (rerouted >= MAX_REROUTES || !budget.tryCharge(waitMs)) {
          throw errorFromResponse(req.method, client.resolve(req.path), res, true);
        }
        counters.rerouted++;
        if (tag !== undefined) resent.set(tag, (resent.get(tag) ?? 0) + 1);
      }
    } finally {
      for (const i of items) i.budget.charge(budget.spentMs);
    }
  }

  function bodyFor(item: Item, meta: TableMeta | undefined, forBulk: boolean): Record<string, unknown> {
    const { op } = item;
    const body: Record<string, unknown> = {};
    if (forBulk && meta !== undefined) body["@odata.type"] = `Microsoft.Dynamics.CRM.${meta.logicalName}`;
    for (const [k, v] of Object.entries(item.extraColumns ?? {})) body[k] = v;
    for (const [k, v] of Object.entries(op.columns)) body[k] = v;
    for (const b of op.bindings) {
      if (b.target === null) body[b.navigationProperty] = null;
      else body[`${b.navigationProperty}@odata.bind`] = bindUrl(b.target.entitySet, b.target.ref);
    }
    return body;
  }

  /** One bulk target (@odata.type, columns, bindings and the row's id or key) as JSON. */
  function bulkTargetJson(item: Item, meta: TableMeta, kind: "create" | "update" | "upsert"): string {
    const body = bodyFor(item, meta, true);
    const ref = item.op.ref;
    if (ref.kind === "id") body[meta.primaryIdAttribute] = ref.id;
    else if (ref.kind === "key") {
      // bulkKind keeps creates whose key has a lookup part off this path (see keyColumnsForBody).
      if (kind === "create") for (const [c, v] of ref.values) body[c] = v;
      // The key goes in @odata.id only: the same column in the body breaks the create path (0x80040216).
      else body["@odata.id"] = item.path ?? entityPath(item.op.entitySet, ref);
    }
    return JSON.stringify(body);
  }

  // ---- single operations as $batch parts ----

  function partFor(item: Item, extra: Readonly<Record<string, string>>): BatchRequestPart {
    const { op } = item;
    const url = (path: string): string => `${rootPath}${path}`;
    switch (op.kind) {
      case "delete":
        return { method: "DELETE", url: url(item.path ?? entityPath(op.entitySet, op.ref)), headers: { ...extra } };
      case "deactivate":
      case "update":
        // If-Match: * turns PATCH into update-only: a missing row answers 404 instead of being created.
        return {
          method: "PATCH",
          url: url(item.path ?? entityPath(op.entitySet, op.ref)),
          headers: { ...extra, "If-Match": "*" },
          body: JSON.stringify(bodyFor(item, undefined, false)),
        };
      case "upsert":
        if (op.ref.kind === "none") return { method: "POST", url: url(op.entitySet), headers: { ...extra }, body: JSON.stringify(bodyFor(item, undefined, false)) };
        return { method: "PATCH", url: url(item.path ?? entityPath(op.entitySet, op.ref)), headers: { ...extra }, body: JSON.stringify(bodyFor(item, undefined, false)) };
      case "create":
        if (op.ref.kind === "none") return { method: "POST", url: url(op.entitySet), headers: { ...extra }, body: JSON.stringify(bodyFor(item, undefined, false)) };
        // Create with a known id or key: If-None-Match: * makes the PATCH create-only, so a replay
        // after a crash finds the row instead of creating a second one.
        return {
          method: "PATCH",
          url: url(item.path ?? entityPath(op.entitySet, op.ref)),
          headers: { ...extra, "If-None-Match": "*" },
          body: JSON.stringify(bodyFor(item, undefined, false)),
        };
    }
  }

  type Verdict = { kind: "done"; result: Result } | { kind: "retry"; retryAfterMs?: number } | { kind: "fatal"; error: DataverseError };

  function verdict(item: Item, method: string, path: string, res: { status: number; headers: Readonly<Record<string, string>>; body: Buffer | string }): Verdict {
    const { op } = item;
    const s = res.status;
    if (s >= 200 && s < 300) {
      const created = s === 201 || (op.kind === "create" && s < 300) ? true : undefined;
      return { kind: "done", result: created === undefined ? { ok: true } : { ok: true, created } };
    }
    const { code, message } = parseErrorBody(res.body);
    // The row is gone already, by id or by key; any other 404 (an unknown entity set, say) is not.
    if (s === 404 && (op.kind === "delete" || op.kind === "deactivate") && ROW_MISSING_CODES.has(code)) return { kind: "done", result: { ok: true, unchanged: true } };
    // A replayed create-with-id meets the row it created before: already done, not a rejection.
    // Learn shows If-None-Match's 412 with an empty code; a duplicate-key code means the same row.
    if (s === 412 && op.kind === "create" && op.ref.kind !== "none" && ROW_EXISTS_CODES.has(code)) return { kind: "done", result: { ok: true, created: false, unchanged: true } };
    const decision = classifyStatus(s, res.headers, DATAVERSE_RETRY_RULE);
    if (decision.retryable) return decision.retryAfterMs === undefined ? { kind: "retry" } : { kind: "retry", retryAfterMs: decision.retryAfterMs };
    if (isRunLevel(s, code)) return { kind: "fatal", error: errorFromResponse(method, path, res, false) };
    if (s === 404 && op.kind === "update") return { kind: "done", result: reject(404, code, message || "row does not exist") };
    return { kind: "done", result: reject(s, code, message) };
  }

  // ---- $batch path ----

  async function sendBatch(items: Item[], results: (Result | undefined)[], extra: Readonly<Record<string, string>>): Promise<void> {
    let pending = items;
    while (pending.length > 0) {
      const parts = pending.map((i) => partFor(i, extra));
      const built = buildBatch(parts);
      counters.batchRequests++;
      counters.recordsSent += pending.length;
      const { res, client } = await sendShared(pending, {
        method: "POST",
        path: "$batch",
        headers: { ...extra, "Content-Type": built.contentType, Prefer: "odata.continue-on-error" },
        body: built.body,
        units: pending.length,
      });
      if (isRunLevel(res.status, parseErrorBody(res.body).code)) throw errorFromResponse("POST", `${rootPath}$batch`, res, false);
      if (res.status === 413 || (res.status >= 400 && pending.length > 1 && !isRunLevel(res.status, parseErrorBody(res.body).code) && res.status !== 429)) {
        // Too large, or refused as a whole: halve until each part answers for itself.
        if (pending.length === 1) {
          const only = pending[0] as Item;
          const { code, message } = parseErrorBody(res.body);
          results[only.index] = reject(res.status, code, message);
          return;
        }
        const mid = Math.ceil(pending.length / 2);
        await Promise.all([sendBatch(pending.slice(0, mid), results, extra), sendBatch(pending.slice(mid), results, extra)]);
        return;
      }
      let answers: (BatchPartResponse | undefined)[];
      if (res.status >= 200 && res.status < 300 && /multipart\/mixed/i.test(res.headers["content-type"] ?? "")) {
        answers = matchResponses(pending.length, parseBatchResponse(res.headers["content-type"] ?? "", bodyText(res.body)));
      } else {
        // A single-part batch refused as a whole: that answer belongs to the part.
        answers = pending.length === 1 ? [{ status: res.status, headers: res.headers, body: bodyText(res.body) }] : [];
      }
      const again: Item[] = [];
      let waitMs = 0;
      for (let k = 0; k < pending.length; k++) {
        const item = pending[k] as Item;
        const answer = answers[k];
        const part = parts[k] as BatchRequestPart;
        if (answer === undefined) {
          // Not attempted (the server stopped early): resending cannot duplicate anything.
          item.attempts++;
          if (item.attempts > 5) {
            throw new DataverseError({
              kind: "unexpected",
              status: res.status,
              code: "",
              method: "POST",
              path: `${rootPath}$batch`,
              retryable: false,
              serverMessage: "",
              summary: "the $batch answer repeatedly left operations unanswered",
            });
          }
          again.push(item);
          continue;
        }
        const v = verdict(item, part.method, part.url, answer);
        if (v.kind === "fatal") throw v.error;
        if (v.kind === "done") {
          results[item.index] = v.result;
          continue;
        }
        item.attempts++;
        const delay = nextDelay(item.attempts, v.retryAfterMs === undefined ? { retryable: true } : { retryable: true, retryAfterMs: v.retryAfterMs }, options.backoff);
        if (!item.budget.tryCharge(delay)) {
          throw new DataverseError({
            kind: "transient",
            status: answer.status,
            code: parseErrorBody(answer.body).code,
            method: part.method,
            path: part.url.split("?")[0] ?? part.url,
            retryable: true,
            serverMessage: parseErrorBody(answer.body).message,
          });
        }
        waitMs = Math.max(waitMs, delay);
        // A 429 on a part is still this user's service protection speaking: pause all its sends.
        if (answer.status === 429) {
          client.throttle.pause(delay);
          partThrottled.set(item.op.table, (partThrottled.get(item.op.table) ?? 0) + 1);
        }
        again.push(item);
      }
      counters.waitedRetries += again.length;
      for (const item of again) resent.set(item.op.table, (resent.get(item.op.table) ?? 0) + 1);
      if (again.length > 0 && waitMs > 0) await options.clock.sleep(waitMs);
      pending = again;
    }
  }

  // ---- bulk path ----

  async function sendBulk(items: Item[], meta: TableMeta, kind: "create" | "update" | "upsert", results: (Result | undefined)[], extra: Readonly<Record<string, string>>): Promise<void> {
    // Targets are joined as JSON text: each was serialised once by chunks() (for its size). Once in
    // the body they are dropped from the items, so a request in flight holds its records' JSON once,
    // not twice; a halved request after a refusal serialises its targets again (a rare path).
    const targets: string[] = new Array<string>(items.length);
    for (let k = 0; k < items.length; k++) {
      const item = items[k] as Item;
      targets[k] = item.target ?? bulkTargetJson(item, meta, kind);
      item.target = undefined;
    }
    // As bytes: the joined text is garbage as soon as it is encoded, and a retry resends the same bytes.
    const body = Buffer.from(`{"Targets":[${targets.join(",")}]}`, "utf8");
    targets.length = 0;
    const message = BULK_MESSAGE[kind];
    counters.bulkRequests++;
    counters.recordsSent += items.length;
    const path = `${meta.entitySetName}/Microsoft.Dynamics.CRM.${message}`;
    const { res } = await sendShared(items, {
      method: "POST",
      path,
      headers: { ...extra },
      body,
      units: items.length,
    });
    if (res.status >= 200 && res.status < 300) {
      for (const i of items) results[i.index] = kind === "create" ? { ok: true, created: true } : { ok: true };
      return;
    }
    const { code } = parseErrorBody(res.body);
    if (isRunLevel(res.status, code)) throw errorFromResponse("POST", `${rootPath}${path}`, res, false);
    counters.bulkSplits++;
    if (items.length <= isolateBelow && res.status !== 413) {
      await sendBatch(items, results, extra);
      return;
    }
    if (items.length === 1) {
      const only = items[0] as Item;
      const { message: m } = parseErrorBody(res.body);
      results[only.index] = reject(res.status, code, m);
      return;
    }
    const mid = Math.ceil(items.length / 2);
    await Promise.all([
      sendBulk(items.slice(0, mid), meta, kind, results, extra),
      sendBulk(items.slice(mid), meta, kind, results, extra),
    ]);
  }

  // ---- keys Dataverse cannot take in a URL ----

  function knownKey(entitySet: string, meta: TableMeta, ref: RowRef): string | undefined {
    if (ref.kind !== "key") return undefined;
    const canonical = canonicalRef(meta, ref.values);
    return canonical === undefined ? undefined : `${entitySet}|${canonical}`;
  }

  /**
   * Finds the GUIDs of all URL-unusable key refs of a write (rows and lookup targets) with one
   * query per chunk of keys instead of one per ref. A chunk whose answer holds a row matching none
   * of its keys (a comparison we got wrong) proves nothing about absence, so its unmatched keys are
   * left to the per-row lookup; so is every key of a chunk whose query failed.
   */
  async function prefetchIds(items: readonly Item[]): Promise<KnownIds> {
    const known: KnownIds = new Map();
    interface Wanted {
      readonly key: string;
      readonly clause: string;
    }
    const groups = new Map<string, { entitySet: string; meta: TableMeta; columns: string[]; wanted: Map<string, Wanted> }>();
    const want = (entitySet: string, table: string, ref: RowRef): void => {
      if (ref.kind !== "key" || isUrlAddressable(ref)) return;
      const meta = options.tables(table);
      if (meta === undefined) return;
      const key = knownKey(entitySet, meta, ref);
      if (key === undefined) return;
      let clause: string;
      try {
        clause = `(${keyFilter(ref)})`;
      } catch (err) {
        if (err instanceof KeyLiteralError) return;
        throw err;
      }
      const columns = ref.values.map(([c]) => c).sort();
      const groupKey = `${entitySet}|${columns.join(",")}`;
      let g = groups.get(groupKey);
      if (g === undefined) {
        g = { entitySet, meta, columns, wanted: new Map() };
        groups.set(groupKey, g);
      }
      g.wanted.set(key, { key, clause });
    };
    for (const { op } of items) {
      want(op.entitySet, op.table, op.ref);
      for (const b of op.bindings) if (b.target !== null) want(b.target.entitySet, b.target.table, b.target.ref);
    }

    const lookups: Promise<void>[] = [];
    for (const g of groups.values()) {
      let chunk: Wanted[] = [];
      let chars = 0;
      const flush = (): void => {
        if (chunk.length > 0) lookups.push(lookupChunk(g.entitySet, g.meta, g.columns, chunk, known));
        chunk = [];
        chars = 0;
      };
      for (const w of g.wanted.values()) {
        const size = encodeQueryValue(w.clause).length + 4;
        if (chunk.length >= LOOKUP_CHUNK || (chunk.length > 0 && chars + size > LOOKUP_FILTER_CHARS)) flush();
        chunk.push(w);
        chars += size;
      }
      flush();
    }
    await Promise.all(lookups);
    return known;
  }

  async function lookupChunk(entitySet: string, meta: TableMeta, columns: readonly string[], chunk: readonly { key: string; clause: string }[], known: KnownIds): Promise<void> {
    const pid = meta.primaryIdAttribute;
    const wanted = new Set(chunk.map((w) => w.key));
    let rows: Record<string, unknown>[];
    try {
      rows = await withClient(async (client, permit) => {
        permit.release({ kind: "neutral" });
        const out: Record<string, unknown>[] = [];
        const filter = chunk.map((w) => w.clause).join(" or ");
        for await (const page of client.query(entitySet, { select: [pid, ...columns.filter((c) => c !== pid)], filter, maxPageSize: 5000 })) out.push(...page);
        return out;
      });
    } catch (err) {
      if (err instanceof DataverseError) return;
      throw err;
    }
    let allMatched = true;
    for (const row of rows) {
      const id = row[pid];
      const canonical = canonicalRef(meta, columns.map((c) => [c, row[c]] as const));
      const key = canonical === undefined ? undefined : `${entitySet}|${canonical}`;
      if (typeof id !== "string" || key === undefined || !wanted.has(key)) {
        allMatched = false;
        continue;
      }
      if (!known.has(key)) known.set(key, id);
    }
    if (allMatched) for (const key of wanted) if (!known.has(key)) known.set(key, null);
  }

  async function findId(entitySet: string, table: string, ref: RowRef, known: KnownIds): Promise<string | undefined | "no-meta"> {
    const meta = options.tables(table);
    if (meta === undefined) return "no-meta";
    const key = knownKey(entitySet, meta, ref);
    const hit = key === undefined ? undefined : known.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const rows = withClient(async (client, permit) => {
      permit.release({ kind: "neutral" });
      for await (const page of client.query(entitySet, { select: [meta.primaryIdAttribute], filter: keyFilter(ref), top: 2 })) return page;
      return [];
    });
    const page = await rows;
    const first = page[0];
    const id = first?.[meta.primaryIdAttribute];
    return typeof id === "string" ? id : undefined;
  }

  /**
   * A key's columns as a create body holds them. A lookup part (`_new_contactid_value`) is a
   * read-only computed property in a body (Learn: "Lookup properties are read-only"), so it becomes
   * `<nav>@odata.bind` through the table's one N:1 relationship on that column; a string names why not.
   */
  function keyColumnsForBody(table: string, values: readonly (readonly [string, ColumnValue])[]): Record<string, ColumnValue> | string {
    const out: Record<string, ColumnValue> = {};
    for (const [c, v] of values) {
      const lookup = lookupOfValueName(c);
      if (lookup === undefined) {
        out[c] = v;
        continue;
      }
      const rels = options.tables(table)?.manyToOne.filter((r) => r.referencingAttribute === lookup) ?? [];
      const rel = rels.length === 1 ? rels[0] : undefined;
      const target = rel === undefined ? undefined : options.tables(rel.referencedEntity);
      if (rel === undefined || target === undefined || typeof v !== "string") {
        return `key column ${lookup} of table ${table} is a lookup whose target cannot be bound on create (a key value Dataverse cannot address in a URL made the connector create the row by POST)`;
      }
      out[`${rel.navigationProperty}@odata.bind`] = `/${target.entitySetName}(${v.toLowerCase()})`;
    }
    return out;
  }

  /** Rewrites refs and bindings that hold URL-unusable key values into GUIDs; may settle the item. */
  async function resolveUnaddressable(item: Item, results: (Result | undefined)[], known: KnownIds): Promise<void> {
    const { op } = item;
    let ref = op.ref;
    let extraColumns: Record<string, ColumnValue> | undefined;
    if (!isUrlAddressable(ref) && ref.kind === "key") {
      const found = await findId(op.entitySet, op.table, ref, known);
      if (found === "no-meta") {
        results[item.index] = reject(0, "", `key of table ${op.table} holds characters Dataverse cannot address in a URL, and its metadata is not loaded`);
        return;
      }
      if (found !== undefined) ref = { kind: "id", id: found };
      else if (op.kind === "delete" || op.kind === "deactivate") {
        results[item.index] = { ok: true, unchanged: true };
        return;
      } else if (op.kind === "update") {
        results[item.index] = reject(404, "", "row does not exist");
        return;
      } else {
        // Not there yet: create it with the key columns in the body (a URL cannot carry them).
        const columns = keyColumnsForBody(op.table, ref.values);
        if (typeof columns === "string") {
          results[item.index] = reject(0, "", columns);
          return;
        }
        extraColumns = columns;
        ref = { kind: "none" };
      }
    }
    const bindings = [];
    for (const b of op.bindings) {
      if (b.target === null || isUrlAddressable(b.target.ref)) {
        bindings.push(b);
        continue;
      }
      const found = await findId(b.target.entitySet, b.target.table, b.target.ref, known);
      if (found === undefined || found === "no-meta") {
        results[item.index] = reject(404, "", `lookup ${b.navigationProperty}: target row not found`);
        return;
      }
      bindings.push({ ...b, target: { ...b.target, ref: { kind: "id" as const, id: found } } });
    }
    item.op = { ...op, ref, bindings };
    delete item.path;
    if (ref.kind !== "none") item.path = entityPath(op.entitySet, ref);
    if (extraColumns !== undefined) item.extraColumns = extraColumns;
  }

  function needsResolution(op: Operation): boolean {
    return !isUrlAddressable(op.ref) || op.bindings.some((b) => b.target !== null && !isUrlAddressable(b.target.ref));
  }

  /** A rejection for an operation no request can carry; otherwise keeps its entity path on the item. */
  function validate(item: Item): Result | undefined {
    const { op } = item;
    try {
      if (op.ref.kind !== "none") item.path = entityPath(op.entitySet, op.ref);
      for (const b of op.bindings) if (b.target !== null) bindUrl(b.target.entitySet, b.target.ref);
    } catch (err) {
      if (err instanceof KeyLiteralError) return reject(0, err.code, err.message);
      throw err;
    }
    if (op.ref.kind === "none" && (op.kind === "update" || op.kind === "delete" || op.kind === "deactivate")) {
      return reject(0, "NO_KEY", `${op.kind} needs the row's id or key`);
    }
    return undefined;
  }

  // ---- grouping and chunking ----

  function* chunks(items: readonly Item[], meta: TableMeta | undefined, bulk: "create" | "update" | "upsert" | undefined): Generator<Item[]> {
    let current: Item[] = [];
    let bytes = 0;
    for (const item of items) {
      let size: number;
      if (bulk !== undefined && meta !== undefined) {
        const json = bulkTargetJson(item, meta, bulk);
        item.target = json;
        size = Buffer.byteLength(json) + 200;
      } else {
        size = Buffer.byteLength(JSON.stringify(bodyFor(item, meta, false))) + 200;
      }
      if (current.length > 0 && (current.length >= batchSize || bytes + size > maxBytes)) {
        yield current;
        current = [];
        bytes = 0;
      }
      current.push(item);
      bytes += size;
    }
    if (current.length > 0) yield current;
  }

  function bulkKind(op: Operation, meta: TableMeta | undefined): "create" | "update" | "upsert" | undefined {
    if (!options.settings.useBulkActions || meta === undefined) return undefined;
    // bulk-operations: on elastic tables a bulk action may succeed in part, where this writer treats
    // a failed bulk request as all-or-nothing and re-sends its rows (a plain create would then land
    // twice). Their rows go through $batch with continue-on-error, whose answer is per row.
    if (meta.tableType === "Elastic") return undefined;
    // A create addressed by a key with a lookup part goes as PATCH + If-None-Match through $batch: the
    // URL key carries `_x_value=<guid>`, which a CreateMultiple body cannot (lookup properties are read-only).
    if (op.kind === "create" && meta.bulk.createMultiple && !hasLookupKeyPart(op.ref)) return "create";
    if (op.kind === "update" && meta.bulk.updateMultiple && op.ref.kind !== "none") return "update";
    if (op.kind === "upsert" && meta.bulk.upsertMultiple) return "upsert";
    return undefined;
  }

  async function write(operations: readonly Operation[], writeOptions?: WriteOptions): Promise<readonly WriteOutcome[]> {
    if (closed) throw new Error("writer is closed");
    // These headers go on the $batch request and on each of its parts: Microsoft's pages on bypass
    // headers and impersonation show single requests and do not say whether a part inherits them
    // from the enclosing $batch, so both carry them.
    const extra = { ...(options.headers ?? {}), ...(writeOptions?.headers ?? {}) };
    const results: (Result | undefined)[] = new Array<Result | undefined>(operations.length).fill(undefined);
    const items: Item[] = [];
    operations.forEach((op, index) => {
      const item: Item = { index, op, budget: new RetryBudget(budgetMs), attempts: 0 };
      const invalid = validate(item);
      if (invalid !== undefined) results[index] = invalid;
      else items.push(item);
    });

    const unaddressable = items.filter((i) => needsResolution(i.op));
    if (unaddressable.length > 0) {
      const known = await prefetchIds(unaddressable);
      await Promise.all(unaddressable.map((i) => resolveUnaddressable(i, results, known)));
    }
    const live = items.filter((i) => results[i.index] === undefined);

    // Group by table and route; order between groups does not matter (operations are independent).
    const groups = new Map<string, { meta: TableMeta | undefined; bulk: "create" | "update" | "upsert" | undefined; items: Item[] }>();
    for (const item of live) {
      const meta = options.tables(item.op.table);
      const bulk = bulkKind(item.op, meta);
      const key = `${item.op.table}|${bulk ?? "batch"}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { meta, bulk, items: [] };
        groups.set(key, g);
      }
      g.items.push(item);
    }

    const tasks: Promise<void>[] = [];
    for (const g of groups.values()) {
      for (const chunk of chunks(g.items, g.meta, g.bulk)) {
        const meta = g.meta;
        const bulk = g.bulk;
        tasks.push(bulk !== undefined && meta !== undefined ? sendBulk(chunk, meta, bulk, results, extra) : sendBatch(chunk, results, extra));
      }
    }
    const all = Promise.all(tasks);
    inflight.add(all);
    try {
      await all;
    } finally {
      inflight.delete(all);
    }
    return results.map((r) => r ?? reject(0, "", "operation was not answered"));
  }

  return {
    write,
    async close() {
      closed = true;
      await Promise.allSettled([...inflight]);
    },
    stats(): WriterStats {
      let requests = 0;
      let retries = 0;
      let throttled429 = 0;
      for (const c of options.clients) {
        requests += c.counters.requests;
        retries += c.counters.retries;
        throttled429 += c.counters.throttled429;
      }
      const users = options.clients.map((c) => c.throttle.stats());
      const tables = new Map<string, { requests: number; throttled429: number; retries: number }>();
      const tableSum = (table: string): { requests: number; throttled429: number; retries: number } => {
        let sum = tables.get(table);
        if (sum === undefined) {
          sum = { requests: 0, throttled429: 0, retries: 0 };
          tables.set(table, sum);
        }
        return sum;
      };
      for (const c of options.clients) {
        for (const [table, t] of c.tagged) {
          const sum = tableSum(table);
          sum.requests += t.requests;
          sum.throttled429 += t.throttled429;
          sum.retries += t.retries;
        }
      }
      let parts429 = 0;
      for (const [table, n] of partThrottled) {
        parts429 += n;
        tableSum(table).throttled429 += n;
      }
      for (const [table, n] of resent) tableSum(table).retries += n;
      const writeRequests = counters.bulkRequests + counters.batchRequests;
      return {
        requests,
        bulkRequests: counters.bulkRequests,
        batchRequests: counters.batchRequests,
        recordsSent: counters.recordsSent,
        recordsPerRequest: writeRequests === 0 ? 0 : counters.recordsSent / writeRequests,
        throttled429: throttled429 + parts429,
        retries: retries + counters.waitedRetries + counters.rerouted,
        throttledMs: users.reduce((a, u) => a + u.pausedMs, 0),
        bulkSplits: counters.bulkSplits,
        users,
        tables,
      };
    },
  };
}
