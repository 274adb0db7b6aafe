import { describe, expect, it } from "vitest";
import { planStream } from "../mapping/plan.js";
import type { Operation } from "../model/operation.js";
import { contactTable, fixtureTables, streamMapping } from "../mapping/test-fixtures.js";
import type { PendingOp } from "./batcher.js";
import { CheckpointLedger } from "./ledger.js";
import { Sink, writtenCount } from "./sink.js";
import type { Rejection } from "./sink.js";

function sink(maxRows = 2): Sink {
  const mapping = streamMapping({});
  const { plan, issues } = planStream(mapping, contactTable(), fixtureTables());
  if (plan === undefined) throw new Error(JSON.stringify(issues));
  return new Sink({ key: "contacts", descriptor: { name: "contacts" }, mapping, plan, maxRows, maxBytes: 1_000_000 });
}

const ledger = new CheckpointLedger();
const ticket = () => ledger.open("contacts");

function pending(s: Sink, data: Record<string, unknown>, line = 1): PendingOp {
  const r = s.accept(data, line, ticket(), false);
  if ("issues" in r) throw new Error(JSON.stringify(r.issues));
  return r;
}

describe("Sink", () => {
  it("accepts a mapped record as a pending operation of its row, without the record unless dead letters keep records", () => {
    const s = sink();
    const item = pending(s, { contoso_externalid: "E1", firstname: "Ann" }, 7);
    expect(item).toMatchObject({ line: 7, attempt: 0, record: undefined, operation: { kind: "upsert", table: "contact" } });
    expect(item.rowKey).toBeDefined();
    expect(item.bytes).toBeGreaterThan(0);
  });

  it("a record mapping refuses comes back with its issues, and with the record when dead letters keep records", () => {
    const s = sink();
    const data = { contoso_externalid: "E1", firstname: "x".repeat(51) };
    const r = s.accept(data, 3, ticket(), true) as Rejection;
    expect(r.issues[0]).toMatchObject({ field: "/firstname" });
    expect(r.rejected).toMatchObject({ line: 3, record: data });
  });

  it("a second record of a row already pending waits for the next batch, as does one past the row cap", () => {
    const s = sink(2);
    s.add(pending(s, { contoso_externalid: "E1" }));
    expect(s.mustFlushBefore(pending(s, { contoso_externalid: "E1" }))).toBe(true);
    const second = pending(s, { contoso_externalid: "E2" });
    expect(s.mustFlushBefore(second)).toBe(false);
    s.add(second);
    expect(s.isFull).toBe(true);
    expect(s.mustFlushBefore(pending(s, { contoso_externalid: "E3" }))).toBe(true);
    expect(s.takeBatch()).toHaveLength(2);
    expect(s.pending).toBe(0);
    expect(s.isFull).toBe(false);
  });

  it("tallies each outcome by what it says: unchanged first, then created, updated, or upserted when an upsert does not say", () => {
    const s = sink();
    const op = pending(s, { contoso_externalid: "E1" }).operation;
    const del: Operation = { ...op, kind: "delete" };
    s.tallyWritten(op, { ok: true, created: true }, 1);
    s.tallyWritten(op, { ok: true, created: false }, 2);
    s.tallyWritten(op, { ok: true }, 3);
    s.tallyWritten(op, { ok: true, created: false, unchanged: true }, 4);
    s.tallyWritten(del, { ok: true }, 5);
    expect(s.counts).toMatchObject({ created: 1, updated: 1, upserted: 1, unchanged: 1, deleted: 1 });
    expect(writtenCount(s.counts)).toBe(5);
    expect(s.lastAt).toBe(5);
  });

  it("a rejection says how many of its code the stream had before, so only the first is reported", () => {
    const s = sink();
    expect([s.tallyRejected("a", 1), s.tallyRejected("a", 2), s.tallyRejected("b", 3)]).toEqual([0, 1, 0]);
    expect(s.counts.rejected).toBe(3);
    expect(s.rejectionsByCode).toEqual(new Map([["a", 2], ["b", 1]]));
  });

  it("is busy while rows are pending or a send is in flight, and drain waits for the sends", async () => {
    const s = sink();
    expect(s.busy).toBe(false);
    s.add(pending(s, { contoso_externalid: "E1" }));
    expect(s.busy).toBe(true);
    s.takeBatch();
    let done = (): void => undefined;
    s.track(new Promise<void>((r) => (done = r)));
    expect(s.busy).toBe(true);
    let drained = false;
    const draining = s.drain().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    done();
    await draining;
    expect(s.busy).toBe(false);
  });

  it("reports each ignored field once per stream, with the reason that is true for it", () => {
    const s = sink();
    expect(s.newIgnoredFields({ contoso_externalid: "E1", nosuch: 1 })).toEqual([{ field: "nosuch", reason: "it is not mapped and table contact has no column of that name" }]);
    expect(s.newIgnoredFields({ contoso_externalid: "E2", nosuch: 2 })).toBeUndefined();
  });
});
