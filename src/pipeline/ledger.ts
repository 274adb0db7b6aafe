// The checkpoint ledger: states go out in the order received, each only once every record read
// before it is settled (committed, or rejected and reported). Records are counted, not kept, so
// memory does not grow with the number of records between two states.
//
// Nor with the number of states: a source can send states far faster than one slow record settles
// (a million states behind one record under a long Retry-After). Past COALESCE_AFTER held entries,
// each new state joins the last held entry instead of queueing behind it; an entry keeps one state
// per stream (one for GLOBAL, LEGACY and Singer states), the latest, with the source's counts of the
// states it replaced added in, so every state emitted still reports exactly the records between it
// and the previous state emitted for its stream (Airbyte's per-state record counts). The queue is
// read from a moving head, so releasing n states costs O(n), not O(n²).
import type { InputState } from "../protocol/airbyte.js";
import { mergeSourceStats } from "../protocol/airbyte.js";

export type HeldState = { readonly protocol: "airbyte"; readonly state: InputState } | { readonly protocol: "singer"; readonly value: unknown };

/** The streams a state reports counts for: its own (STREAM), or every stream (GLOBAL, LEGACY, Singer). */
export type StateStreams = readonly string[] | "all";

/** Held entries beyond which new states coalesce into the last one. */
export const COALESCE_AFTER = 1000;

interface Counts {
  written: number;
  rejected: number;
}

/** One stream's settled records in an entry: before its entry's latest state for that stream, and after it. */
interface StreamCounts {
  readonly before: Counts;
  readonly after: Counts;
}

interface Entry {
  /** The arrival order of the state that opened this entry (of the open epoch, for the open one). */
  readonly seq: number;
  /** Records of this entry not yet settled. */
  outstanding: number;
  readonly counts: Map<string, StreamCounts>;
  /** The states that close this entry, one per coalescing key, in the order of their latest arrival. */
  readonly states: Map<string, { held: HeldState; streams: StateStreams }>;
  /** Per stream: the seq of the latest epoch whose state (in this entry) reports the stream. */
  readonly boundary: Map<string, number>;
  /** The seq of the latest epoch closed by a state that reports every stream. */
  allBoundary: number;
  /** Set on an epoch coalesced into another entry: where its tickets now settle. */
  into?: Entry;
}

export interface Ticket {
  readonly epoch: Entry;
  readonly stream: string;
}

export interface ReleasedState {
  readonly held: HeldState;
  /** Records written / rejected that this state reports (per stream for STREAM states). */
  readonly recordCount: number;
  readonly rejectedRecordCount: number;
}

function newEntry(seq: number): Entry {
  return { seq, outstanding: 0, counts: new Map(), states: new Map(), boundary: new Map(), allBoundary: -1 };
}

function zero(): Counts {
  return { written: 0, rejected: 0 };
}

function addInto(to: Counts, from: Counts): void {
  to.written += from.written;
  to.rejected += from.rejected;
}

function coalescingKey(streams: StateStreams): string {
  return streams === "all" ? "*" : JSON.stringify(streams);
}

/** The latest state replaces an earlier one of the same key; the source's counts of both add up. */
function supersede(older: HeldState, newer: HeldState): HeldState {
  if (older.protocol === "airbyte" && newer.protocol === "airbyte") {
    return { protocol: "airbyte", state: { ...newer.state, raw: mergeSourceStats(older.state.raw, newer.state.raw) } };
  }
  return newer;
}

export class CheckpointLedger {
  /** Closed entries waiting to be released, from #head on. */
  #queue: Entry[] = [];
  #head = 0;
  #seq = 0;
  #held = 0;
  /** Settled counts of released entries not yet reported by a state, per stream key. */
  readonly #carry = new Map<string, Counts>();
  #open: Entry = newEntry(0);
  readonly #coalesceAfter: number;

  constructor(options: { coalesceAfter?: number } = {}) {
    this.#coalesceAfter = options.coalesceAfter ?? COALESCE_AFTER;
  }

  /** The open epoch's ticket per stream: a ticket holds nothing of its record, so they share it. */
  readonly #tickets = new Map<string, Ticket>();

  /**
   * Registers a record read from the input; settle its ticket exactly once. Records of one stream
   * in one epoch get the same (immutable) ticket: one object per record in flight would be 40 bytes
   * each of a batch's memory for nothing.
   */
  open(stream: string): Ticket {
    this.#open.outstanding += 1;
    let ticket = this.#tickets.get(stream);
    if (ticket === undefined || ticket.epoch !== this.#open) {
      ticket = { epoch: this.#open, stream };
      this.#tickets.set(stream, ticket);
    }
    return ticket;
  }

  settle(ticket: Ticket, outcome: "written" | "rejected"): void {
    const epoch = ticket.epoch;
    const entry = epoch.into ?? epoch;
    entry.outstanding -= 1;
    side(entry, ticket.stream, epoch.seq)[outcome] += 1;
  }

  /** Closes the open epoch with this state; `streams` are the stream keys whose counts it reports. */
  addState(held: HeldState, streams: StateStreams): void {
    const closed = this.#open;
    this.#seq += 1;
    this.#open = newEntry(this.#seq);
    this.#held += 1;
    const tail = this.#queue.length > this.#head ? this.#queue[this.#queue.length - 1] : undefined;
    if (tail === undefined || this.#queue.length - this.#head < this.#coalesceAfter) {
      closed.states.set(coalescingKey(streams), { held, streams });
      markBoundary(closed, streams, closed.seq);
      this.#queue.push(closed);
      return;
    }
    // Coalesce: the closed epoch's records and state join the tail entry.
    tail.outstanding += closed.outstanding;
    closed.into = tail;
    if (streams === "all") {
      for (const c of tail.counts.values()) moveAfterToBefore(c);
    } else {
      for (const s of streams) {
        const c = tail.counts.get(s);
        if (c !== undefined) moveAfterToBefore(c);
      }
    }
    markBoundary(tail, streams, closed.seq);
    // Records the closed epoch settled on its own: before this state, and after the tail's state
    // for their stream when this state does not report it.
    for (const [s, c] of closed.counts) addInto(side(tail, s, closed.seq), c.before);
    const key = coalescingKey(streams);
    const previous = tail.states.get(key);
    if (previous !== undefined) {
      tail.states.delete(key);
      this.#held -= 1;
    }
    tail.states.set(key, { held: previous === undefined ? held : supersede(previous.held, held), streams });
  }

  /** States received but not yet safe to emit. */
  get heldCount(): number {
    return this.#held;
  }

  /** Pops every state that is now safe, in order. */
  release(): ReleasedState[] {
    const out: ReleasedState[] = [];
    while (this.#head < this.#queue.length) {
      const head = this.#queue[this.#head] as Entry;
      if (head.outstanding !== 0) break;
      this.#queue[this.#head] = undefined as unknown as Entry;
      this.#head += 1;
      for (const [stream, c] of head.counts) this.#carried(stream, c.before);
      for (const { held, streams } of head.states.values()) {
        let written = 0;
        let rejected = 0;
        const take = (k: string): void => {
          const c = this.#carry.get(k);
          if (c !== undefined) {
            written += c.written;
            rejected += c.rejected;
            this.#carry.delete(k);
          }
        };
        if (streams === "all") for (const k of [...this.#carry.keys()]) take(k);
        else for (const k of streams) take(k);
        out.push({ held, recordCount: written, rejectedRecordCount: rejected });
        this.#held -= 1;
      }
      for (const [stream, c] of head.counts) this.#carried(stream, c.after);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  #carried(stream: string, c: Counts): void {
    if (c.written === 0 && c.rejected === 0) return;
    const carried = this.#carry.get(stream) ?? zero();
    addInto(carried, c);
    this.#carry.set(stream, carried);
  }
}

function streamCounts(entry: Entry, stream: string): StreamCounts {
  let c = entry.counts.get(stream);
  if (c === undefined) {
    c = { before: zero(), after: zero() };
    entry.counts.set(stream, c);
  }
  return c;
}

/** Where a record of `stream` read in epoch `seq` counts: after its stream's latest state in the entry, it belongs to the next state. */
function side(entry: Entry, stream: string, seq: number): Counts {
  const c = streamCounts(entry, stream);
  const boundary = Math.max(entry.allBoundary, entry.boundary.get(stream) ?? -1);
  return boundary >= 0 && seq > boundary ? c.after : c.before;
}

function moveAfterToBefore(c: StreamCounts): void {
  addInto(c.before, c.after);
  c.after.written = 0;
  c.after.rejected = 0;
}

function markBoundary(entry: Entry, streams: StateStreams, seq: number): void {
  if (streams === "all") entry.allBoundary = seq;
  else for (const s of streams) entry.boundary.set(s, seq);
}
