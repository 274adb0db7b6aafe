// The emulator's service-protection limits (scaled preset: a 3 s window of 60 requests per user).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../src/http/clock.js";
import { MetadataLoader } from "../src/dataverse/metadata.js";
import { createWriter } from "../src/dataverse/writer.js";
import type { Operation } from "../src/model/operation.js";
import { POOL_APPS, startHarness, type Harness } from "./dataverse-env.js";

let h: Harness;
let singleUserMs = Number.POSITIVE_INFINITY;
let meta: MetadataLoader;
beforeAll(async () => {
  h = await startHarness({ limits: "scaled" });
  meta = new MetadataLoader(h.client({ initial: 2 }));
  await meta.loadTable("contact");
});
afterAll(async () => {
  await h?.close();
});

function contacts(n: number, prefix: string): Operation[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "upsert",
    table: "contact",
    entitySet: "contacts",
    ref: { kind: "key", values: [["emailaddress1", `${prefix}${i}@example.com`]] },
    columns: { lastname: "Limit" },
    bindings: [],
  }));
}

describe("under the scaled service-protection limits", () => {
  it("honours Retry-After: every record lands, and 429s stay few because the user pauses", async () => {
    const client = h.client({ initial: 8, max: 16 });
    const w = createWriter({
      clients: [client],
      tables: meta.lookup,
      settings: { batchSize: 5, maxBatchBytes: 8e6, retryBudgetSeconds: 60, useBulkActions: false },
      clock: systemClock,
    });
    const before = h.emulator.stats().throttled.total;
    const started = Date.now();
    const out = await w.write(contacts(600, "lim"));
    singleUserMs = Date.now() - started;
    expect(out.filter((o) => !o.ok)).toEqual([]);
    const s = w.stats();
    const served429 = h.emulator.stats().throttled.total - before;
    expect(s.throttled429).toBeGreaterThan(0);
    expect(s.throttled429).toBe(served429);
    // 120 requests against 60 per window: at least one full pause. Ignoring Retry-After would
    // hammer the closed window and collect a 429 per request instead.
    expect(s.throttledMs).toBeGreaterThan(0);
    expect(served429).toBeLessThan(40);
  });

  it("a pool of three users is throttled per user", async () => {
    const clients = [h.client({ initial: 4 }), ...POOL_APPS.map((a) => h.client({ clientId: a.clientId, secret: a.secret, initial: 4 }))];
    const w = createWriter({
      clients,
      tables: meta.lookup,
      settings: { batchSize: 5, maxBatchBytes: 8e6, retryBudgetSeconds: 60, useBulkActions: false },
      clock: systemClock,
    });
    const before = h.emulator.stats().requests.byClient;
    const started = Date.now();
    const out = await w.write(contacts(600, "limpool"));
    const poolMs = Date.now() - started;
    expect(out.filter((o) => !o.ok)).toEqual([]);
    const after = h.emulator.stats().requests.byClient;
    for (const c of clients) expect((after[c.clientId] ?? 0) - (before[c.clientId] ?? 0)).toBeGreaterThan(10);
    // Each user has its own window, so three users wait less than one did for the same work.
    expect(poolMs).toBeLessThan(singleUserMs);
  });
});
