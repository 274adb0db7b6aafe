// The write path of a batch: parents first, then the rows in the order they were read, then a
// slot, then the writer; each outcome goes back to the sync that owns the ledger. Waiting here
// (for a parent, an earlier request of the same row, a free slot) is waited for by the stdin
// reader, which is how backpressure reaches stdin.
import type { RecordIssue } from "../model/operation.js";
import type { WriteOptions, WriteOutcome, Writer } from "../model/writer.js";
import type { ErrorContext } from "../protocol/errors.js";
import { streamContext } from "../protocol/errors.js";
import type { PendingOp } from "./batcher.js";
import { PipelineError } from "./errors.js";
import { refusalSummary } from "./refusals.js";
import type { Sink } from "./sink.js";
import type { Slots } from "./slots.js";

/** A bind whose target row is missing: by id (ObjectDoesNotExist) or by key (RecordNotFoundByEntityKey). */
export const MISSING_TARGET_CODES: ReadonlySet<string> = new Set(["0x80040217", "0x80060891"]);

type Written = Extract<WriteOutcome, { ok: true }>;
type Refused = Extract<WriteOutcome, { ok: false }>;

/** What the sender needs from the sync that owns the run: its failure, its work, its ledger. */
export interface SendHost {
  readonly writer: Writer;
  readonly writeOptions: WriteOptions | undefined;
  readonly slots: Slots;
  /** Once the run has failed, nothing more is sent. */
  failed(): boolean;
  fail(err: unknown, context?: ErrorContext): void;
  /** Work the end of the run waits for; with a sink, that sink's drain waits for it too. */
  track(sink: Sink | undefined, work: Promise<void>): void;
  written(sink: Sink, item: PendingOp, outcome: Written): void;
  rejected(sink: Sink, item: PendingOp, issues: readonly RecordIssue[], outcome: Refused): Promise<void>;
  /** A request's outcomes are all settled: states may have become safe. */
  settled(): void;
}

export class Sender {
  readonly #host: SendHost;
  /** Per row (see rowIdentity), the last request holding it that has not settled yet. */
  readonly #rowTails = new Map<string, Promise<void>>();

  constructor(host: SendHost) {
    this.#host = host;
  }

  /**
   * Sends the sink's pending batch. Parents first: when this stream's lookups point at the
   * table of another stream of this sync, that stream's pending rows are sent and committed
   * before ours, so a contact and its account sent together end up linked. Resolves once the
   * request has a slot (or is not sent at all).
   */
  async flush(sink: Sink, chain: Set<Sink> = new Set()): Promise<void> {
    if (sink.pending === 0 || this.#host.failed()) return;
    chain.add(sink);
    for (const parent of sink.parents) {
      if (chain.has(parent)) continue;
      if (parent.pending > 0) await this.flush(parent, chain);
      await parent.drain();
    }
    if (sink.pending === 0) return;
    const items = sink.takeBatch();
    // Claim the rows now, before any await, so requests holding a row go out in the order their
    // batches were cut, whoever flushes (a full batch, the timer, a child's flush): each request
    // first waits for the earlier one holding any of its rows to settle, the writer's retries
    // included, so the later values land last. Two flushes both waiting for the same request
    // (the timer's and a full batch's) would otherwise both go once it settles.
    let settled = (): void => undefined;
    const mine = new Promise<void>((resolve) => (settled = resolve));
    const earlier = new Set<Promise<void>>();
    for (const i of items) {
      if (i.rowKey === undefined) continue;
      const previous = this.#rowTails.get(i.rowKey);
      if (previous !== undefined) earlier.add(previous);
      this.#rowTails.set(i.rowKey, mine);
    }
    const bytes = items.reduce((n, i) => n + i.bytes, 0);
    let slotTaken = (): void => undefined;
    const gotSlot = new Promise<void>((resolve) => (slotTaken = resolve));
    let resend: Promise<void> | undefined;
    const sent = (async () => {
      if (earlier.size > 0) await Promise.all(earlier);
      await this.#host.slots.acquire(bytes);
      slotTaken();
      try {
        ({ resend } = await this.#send(sink, items));
      } finally {
        this.#host.slots.release(bytes);
      }
    })().finally(slotTaken);
    // Tracked from now on, so a child stream's drain waits for it even before it has a slot.
    this.#host.track(sink, sent);
    // The rows stay claimed until a resend after a missing lookup target has settled too (that
    // resend is kept out of the sink's in-flight sends, see #send, but a later write of its row
    // must wait for it).
    void sent
      .then(
        () => resend,
        () => undefined,
      )
      .finally(() => {
        for (const i of items) if (i.rowKey !== undefined && this.#rowTails.get(i.rowKey) === mine) this.#rowTails.delete(i.rowKey);
        settled();
      });
    // Backpressure: the caller (the stdin reader) waits until the request has a slot.
    await gotSlot;
  }

  /** Writes one request; `resend` is the second try of rows whose lookup target came later. */
  async #send(sink: Sink, items: readonly PendingOp[]): Promise<{ readonly resend?: Promise<void> }> {
    const host = this.#host;
    if (host.failed()) return {};
    let outcomes: readonly WriteOutcome[];
    try {
      outcomes = await host.writer.write(
        items.map((i) => i.operation),
        host.writeOptions,
      );
    } catch (err) {
      host.fail(err, streamContext(sink.descriptor));
      return {};
    }
    if (outcomes.length !== items.length) {
      host.fail(new PipelineError("writer_contract", "Internal error: the writer returned a different number of outcomes than operations", "system_error"));
      return {};
    }
    const retry: PendingOp[] = [];
    const parentBusy = sink.parents.some((p) => p.busy);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as PendingOp;
      const outcome = outcomes[i] as WriteOutcome;
      if (outcome.ok) {
        host.written(sink, item, outcome);
      } else if (MISSING_TARGET_CODES.has(outcome.code) && item.attempt === 0 && parentBusy && item.operation.bindings.length > 0) {
        retry.push({ ...item, attempt: 1 });
      } else {
        const code = outcome.code === "" ? `http_${outcome.status}` : outcome.code;
        await host.rejected(sink, item, [{ field: "", code, message: refusalSummary(outcome) }], outcome);
      }
    }
    host.settled();
    if (retry.length > 0) {
      sink.tallyRetried(retry.length);
      // Not among the sink's in-flight sends: a resend waits for parents, and a parent may wait for this sink's.
      const resend = this.#resend(sink, retry);
      host.track(undefined, resend);
      return { resend: resend.catch(() => undefined) };
    }
    return {};
  }

  /** Sends rows again once every parent's pending and in-flight rows have settled. */
  async #resend(sink: Sink, items: PendingOp[]): Promise<void> {
    for (const parent of sink.parents) {
      if (parent.pending > 0) await this.flush(parent, new Set([sink]));
      await parent.drain();
    }
    const bytes = items.reduce((n, i) => n + i.bytes, 0);
    await this.#host.slots.acquire(bytes);
    try {
      await this.#send(sink, items);
    } finally {
      this.#host.slots.release(bytes);
    }
  }
}
