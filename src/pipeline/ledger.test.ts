import { describe, expect, it } from "vitest";
import type { InputState } from "../protocol/airbyte.js";
import { CheckpointLedger } from "./ledger.js";
import type { HeldState, ReleasedState, StateStreams, Ticket } from "./ledger.js";

function streamState(stream: string, cursor: number, sourceCount: number): HeldState {
  const raw = { type: "STREAM", stream: { stream_descriptor: { name: stream }, stream_state: { cursor } }, sourceStats: { recordCount: sourceCount }, id: cursor };
  const state: InputState = { stateType: "STREAM", streams: [{ name: stream }], raw };
  return { protocol: "airbyte", state };
}

function globalState(cursor: number, sourceCount: number): HeldState {
  const raw = { type: "GLOBAL", global: { shared_state: { cursor }, stream_states: [] }, sourceStats: { recordCount: sourceCount }, id: cursor };
  return { protocol: "airbyte", state: { stateType: "GLOBAL", streams: [], raw } };
}

function rawOf(r: ReleasedState): Record<string, unknown> {
  if (r.held.protocol !== "airbyte") throw new Error("not airbyte");
  return r.held.state.raw;
}

/** A seeded PRNG (mulberry32), so a failure replays. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("CheckpointLedger", () => {
  it("given a million states behind one pending record, holds a bounded number and releases them in linear time", () => {
    const ledger = new CheckpointLedger();
    const first = ledger.open("contacts");
    const started = Date.now();
    const n = 1_000_000;
    for (let i = 1; i <= n; i++) ledger.addState(streamState("contacts", i, i === 1 ? 1 : 0), ["contacts"]);
    expect(ledger.heldCount).toBeLessThanOrEqual(1001);
    expect(ledger.release()).toEqual([]);
    ledger.settle(first, "written");
    const out = ledger.release();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ledger.heldCount).toBe(0);
    // The first state reports the record; the last one (coalesced) carries the source's counts of all it stands for.
    expect(out[0]).toMatchObject({ recordCount: 1, rejectedRecordCount: 0 });
    const last = out[out.length - 1] as ReleasedState;
    expect(rawOf(last)).toMatchObject({ id: n, stream: { stream_state: { cursor: n } } });
    const ids = out.map((r) => rawOf(r)["id"] as number);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it("under 1000 held states, every state goes out as it came in", () => {
    const ledger = new CheckpointLedger();
    const t = ledger.open("a");
    for (let i = 1; i <= 999; i++) ledger.addState(streamState("a", i, 0), ["a"]);
    ledger.settle(t, "rejected");
    const out = ledger.release();
    expect(out).toHaveLength(999);
    expect(out[0]).toMatchObject({ recordCount: 0, rejectedRecordCount: 1 });
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    for (const kind of ["STREAM", "GLOBAL"] as const) {
      it(`coalesced ${kind} states still report exactly the records since the previous state of their stream (seed ${seed})`, () => {
        const rand = prng(seed);
        const ledger = new CheckpointLedger({ coalesceAfter: 3 });
        const streams = ["a", "b", "c"];
        const pending: Ticket[] = [];
        const sinceState = new Map<string, number>(streams.map((s) => [s, 0]));
        let sinceGlobal = 0;
        let cursor = 0;
        const out: ReleasedState[] = [];
        const lastSent = new Map<string, number>();
        for (let step = 0; step < 3000; step++) {
          const r = rand();
          if (r < 0.5) {
            const s = streams[Math.floor(rand() * streams.length)] as string;
            pending.push(ledger.open(s));
            sinceState.set(s, (sinceState.get(s) ?? 0) + 1);
            sinceGlobal += 1;
          } else if (r < 0.7) {
            cursor += 1;
            if (kind === "GLOBAL") {
              ledger.addState(globalState(cursor, sinceGlobal), "all");
              sinceGlobal = 0;
              lastSent.set("*", cursor);
            } else {
              const s = streams[Math.floor(rand() * streams.length)] as string;
              ledger.addState(streamState(s, cursor, sinceState.get(s) ?? 0), [s]);
              sinceState.set(s, 0);
              lastSent.set(s, cursor);
            }
          } else if (pending.length > 0) {
            // Settle a random pending record; now and then one stays pending for long.
            const i = Math.floor(rand() * pending.length);
            const [t] = pending.splice(i, 1);
            ledger.settle(t as Ticket, rand() < 0.2 ? "rejected" : "written");
          }
          out.push(...ledger.release());
          expect(ledger.heldCount).toBeLessThanOrEqual(3 * (kind === "GLOBAL" ? 1 : streams.length) + 1);
        }
        for (const t of pending.splice(0)) ledger.settle(t, "written");
        out.push(...ledger.release());
        expect(ledger.heldCount).toBe(0);
        const lastOut = new Map<string, number>();
        for (const r of out) {
          const raw = rawOf(r);
          const source = (raw["sourceStats"] as { recordCount: number }).recordCount;
          expect(r.recordCount + r.rejectedRecordCount).toBe(source);
          const key = kind === "GLOBAL" ? "*" : ((raw["stream"] as { stream_descriptor: { name: string } }).stream_descriptor.name);
          const id = raw["id"] as number;
          expect(id).toBeGreaterThan(lastOut.get(key) ?? 0);
          lastOut.set(key, id);
        }
        // The latest state of every stream goes out.
        expect(lastOut).toEqual(lastSent);
      });
    }
  }

  it("keeps the record counts of a stream read after its coalesced state for that stream's next state", () => {
    const ledger = new CheckpointLedger({ coalesceAfter: 1 });
    const stuck = ledger.open("a");
    ledger.addState(streamState("a", 1, 1), ["a"]);
    const a2 = ledger.open("a");
    ledger.addState(streamState("b", 2, 0), ["b"]); // coalesces; a2 is after a's state 1
    ledger.settle(a2, "written");
    ledger.addState(streamState("a", 3, 1), ["a"]); // coalesces; now a2 is before a's latest state
    ledger.settle(stuck, "written");
    const out = ledger.release();
    expect(out.map((r) => [rawOf(r)["id"], r.recordCount, (rawOf(r)["sourceStats"] as { recordCount: number }).recordCount])).toEqual([
      [2, 0, 0],
      [3, 2, 2],
    ]);
  });
});
