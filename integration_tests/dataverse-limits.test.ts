// The emulator's service-protection limits (scaled preset: a 3 s window of 60 requests per user).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../src/http/clock.js";
import { MetadataLoader } from "../src/dataverse/metadata.js";
import { createWriter } from "../src/dataverse/writer.js";
import type { Operation } from "../src/model/operation.js";
import { contactUpserts, POOL_APPS, startHarness, type Harness } from "./dataverse-env.js";

let h: Harness;
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
  return contactUpserts(n, prefix, "Limit");
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
    const out = await w.write(contacts(600, "lim"));
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
    // The case before this one filled the main user's window: let that 3 s window pass, so each
    // user's window holds only this case's requests.
    await new Promise((resolve) => setTimeout(resolve, 3_100));
    const before = h.emulator.stats().requests.byClient;
    const out = await w.write(contacts(600, "limpool"));
    expect(out.filter((o) => !o.ok)).toEqual([]);
    const after = h.emulator.stats().requests.byClient;
    const sent = clients.map((c) => (after[c.clientId] ?? 0) - (before[c.clientId] ?? 0));
    for (const n of sent) expect(n).toBeGreaterThan(10);
    // 120 write requests: one shared window of 60 would throttle every user. Each user has its own,
    // so a user that sent no more than its window's 60 requests was never answered 429, whatever
    // the speed of the machine (the other users' requests do not count against it).
    const users = w.stats().users;
    expect(sent.reduce((a, n) => a + n, 0)).toBeGreaterThan(60);
    const withinOwnWindow = sent.map((n, i) => ({ n, throttled429: users[i]?.throttled429 })).filter((u) => u.n <= 60);
    expect(withinOwnWindow.length, "every user sent more than 60 requests: the case tests nothing").toBeGreaterThan(0);
    for (const u of withinOwnWindow) expect(u.throttled429).toBe(0);
  });
});
