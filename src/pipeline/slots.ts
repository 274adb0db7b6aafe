// A FIFO counting semaphore: batches are sent in the order they were cut, and a caller waiting
// for a slot is how backpressure travels from the writer back to the stdin reader.
export class Slots {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(size: number) {
    this.#free = Math.max(1, size);
  }

  async acquire(): Promise<void> {
    if (this.#free > 0 && this.#waiters.length === 0) {
      this.#free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined) next();
    else this.#free += 1;
  }
}
