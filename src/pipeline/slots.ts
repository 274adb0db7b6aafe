// A FIFO counting semaphore over batches and their bytes: batches are sent in the order they were
// cut, at most `size` at once and, together, at most `maxBytes` (estimated wire bytes) unless the
// batch is alone. A caller waiting here is how backpressure travels from the writer back to the
// stdin reader, and the byte cap is what bounds memory when records are large.
/**
 * Batches in flight over the whole sync, whatever the pool's size: each holds its operations and
 * the rows read back for them, so this is what bounds the connector's memory. 48 is three users at
 * the default max_concurrency of 16, so a pool of three keeps each user as busy as one user alone;
 * 48 batches of a thousand rows keep that pool under 200 MB (docs/benchmarks.md).
 */
export const MAX_BATCHES_IN_FLIGHT = 48;

/**
 * Slots for a sync over `users` application users: max_concurrency per user (a batch is one request
 * at a time: its read of the current rows, then its write), within MAX_BATCHES_IN_FLIGHT.
 */
export function batchesInFlight(maxConcurrency: number, users = 1): number {
  return Math.max(2, Math.min(maxConcurrency * users, MAX_BATCHES_IN_FLIGHT));
}

export class Slots {
  #free: number;
  #bytes = 0;
  readonly #maxBytes: number;
  readonly #waiters: { bytes: number; grant: () => void }[] = [];

  constructor(size: number, maxBytes: number = Number.POSITIVE_INFINITY) {
    this.#free = Math.max(1, size);
    this.#maxBytes = Math.max(1, maxBytes);
  }

  /** Estimated bytes of the batches holding a slot. */
  get bytesInFlight(): number {
    return this.#bytes;
  }

  #fits(bytes: number): boolean {
    return this.#free > 0 && (this.#bytes === 0 || this.#bytes + bytes <= this.#maxBytes);
  }

  async acquire(bytes = 0): Promise<void> {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#free -= 1;
      this.#bytes += bytes;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push({ bytes, grant: resolve }));
  }

  release(bytes = 0): void {
    this.#free += 1;
    this.#bytes -= bytes;
    // In order: a large batch at the head is not overtaken by smaller ones behind it.
    for (let head = this.#waiters[0]; head !== undefined && this.#fits(head.bytes); head = this.#waiters[0]) {
      this.#waiters.shift();
      this.#free -= 1;
      this.#bytes += head.bytes;
      head.grant();
    }
  }
}
