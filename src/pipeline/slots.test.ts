import { describe, expect, it } from "vitest";
import { batchesInFlight, MAX_BATCHES_IN_FLIGHT, Slots } from "./slots.js";

const tick = () => new Promise((r) => setImmediate(r));

describe("Slots", () => {
  it("holds at most `size` batches, granting waiters in order", async () => {
    const slots = new Slots(2);
    const order: number[] = [];
    await slots.acquire();
    await slots.acquire();
    const third = slots.acquire().then(() => order.push(3));
    const fourth = slots.acquire().then(() => order.push(4));
    await tick();
    expect(order).toEqual([]);
    slots.release();
    await third;
    expect(order).toEqual([3]);
    slots.release();
    await fourth;
    expect(order).toEqual([3, 4]);
  });

  it("caps the bytes in flight, lets a batch larger than the cap go alone, and never lets a small batch overtake a waiting large one", async () => {
    const slots = new Slots(10, 100);
    const order: string[] = [];
    await slots.acquire(60);
    const big = slots.acquire(150).then(() => order.push("big"));
    const small = slots.acquire(10).then(() => order.push("small"));
    await tick();
    // 60 + 150 > 100: the big batch waits, and the small one waits behind it although it would fit.
    expect(order).toEqual([]);
    slots.release(60);
    await big;
    await tick();
    // Alone in flight the big batch goes despite the cap; the small one must wait for it.
    expect(order).toEqual(["big"]);
    expect(slots.bytesInFlight).toBe(150);
    slots.release(150);
    await small;
    expect(order).toEqual(["big", "small"]);
    expect(slots.bytesInFlight).toBe(10);
  });
});

describe("batchesInFlight", () => {
  it("is max_concurrency per application user, at least two, at most MAX_BATCHES_IN_FLIGHT in all", () => {
    expect(batchesInFlight(16)).toBe(16);
    expect(batchesInFlight(1)).toBe(2);
    expect(batchesInFlight(8, 2)).toBe(16);
    expect(batchesInFlight(16, 3)).toBe(MAX_BATCHES_IN_FLIGHT);
    expect(batchesInFlight(52)).toBe(MAX_BATCHES_IN_FLIGHT);
  });
});
