// The checkpoint ledger: states go out in the order received, each only once every record read
// before it is settled (committed, or rejected and reported). Records are counted, not kept, so
// memory does not grow with the number of records between two states.
import type { InputState } from "../protocol/airbyte.js";

export type HeldState = { readonly protocol: "airbyte"; readonly state: InputState } | { readonly protocol: "singer"; readonly value: unknown };

interface Counts {
  written: number;
  rejected: number;
}

interface Epoch {
  /** Records of this epoch not yet settled. */
  outstanding: number;
  readonly counts: Map<string, Counts>;
  /** The state that closes this epoch; undefined for the open epoch. */
  state?: HeldState;
}

export interface Ticket {
  readonly epoch: Epoch;
  readonly stream: string;
}

export interface ReleasedState {
  readonly held: HeldState;
  /** Records written / rejected that this state reports (per stream for STREAM states). */
  readonly recordCount: number;
  readonly rejectedRecordCount: number;
}

function newEpoch(): Epoch {
  return { outstanding: 0, counts: new Map() };
}

export class CheckpointLedger {
  readonly #epochs: Epoch[] = [newEpoch()];
  /** Settled counts of released epochs not yet reported by a state, per stream key. */
  readonly #carry = new Map<string, Counts>();
  #open: Epoch = this.#epochs[0] as Epoch;

  /** Registers a record read from the input; settle its ticket exactly once. */
  open(stream: string): Ticket {
    this.#open.outstanding += 1;
    return { epoch: this.#open, stream };
  }

  settle(ticket: Ticket, outcome: "written" | "rejected"): void {
    const e = ticket.epoch;
    e.outstanding -= 1;
    let c = e.counts.get(ticket.stream);
    if (c === undefined) {
      c = { written: 0, rejected: 0 };
      e.counts.set(ticket.stream, c);
    }
    c[outcome] += 1;
  }

  addState(held: HeldState): void {
    this.#open.state = held;
    this.#open = newEpoch();
    this.#epochs.push(this.#open);
  }

  /** States received but not yet safe to emit. */
  get heldCount(): number {
    return this.#epochs.length - 1;
  }

  /** Pops every state that is now safe, in order. */
  release(streamKeysOf: (held: HeldState) => readonly string[] | "all"): ReleasedState[] {
    const out: ReleasedState[] = [];
    for (;;) {
      const head = this.#epochs[0];
      if (head === undefined || head.state === undefined || head.outstanding !== 0) break;
      this.#epochs.shift();
      for (const [stream, c] of head.counts) {
        const carried = this.#carry.get(stream) ?? { written: 0, rejected: 0 };
        carried.written += c.written;
        carried.rejected += c.rejected;
        this.#carry.set(stream, carried);
      }
      const keys = streamKeysOf(head.state);
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
      if (keys === "all") for (const k of [...this.#carry.keys()]) take(k);
      else for (const k of keys) take(k);
      out.push({ held: head.state, recordCount: written, rejectedRecordCount: rejected });
    }
    return out;
  }
}
