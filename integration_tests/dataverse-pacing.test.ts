// Pacing on the x-ms-ratelimit-* headers (issue 13), against the emulator's execution-time limit:
// a window of 3 s and 12,000 ms of execution per user (the faithful preset's 4 s of execution per
// second, in a short window), answers held for their modelled execution time. Paced, a user spends
// its budget as the window gives it back and is never answered 429; unpaced, the same load probes
// past the budget and is.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../src/http/clock.js";
import { MetadataLoader } from "../src/dataverse/metadata.js";
import { createWriter } from "../src/dataverse/writer.js";
import type { DataverseClient } from "../src/dataverse/client.js";
import type { Operation } from "../src/model/operation.js";
import { contactUpserts, POOL_APPS, startHarness, type Harness } from "./dataverse-env.js";

let h: Harness;
let dir: string;
let meta: MetadataLoader;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pacing-"));
  const limits = join(dir, "limits.json");
  writeFileSync(limits, JSON.stringify({ preset: "faithful", windowSeconds: 3, maxExecutionMs: 12_000 }));
  h = await startHarness({ limits, latency: true });
  // Metadata read as another user: the paced user's window holds only what its own client sent.
  const reader = POOL_APPS[1];
  if (reader === undefined) throw new Error("no pool app");
  meta = new MetadataLoader(h.client({ clientId: reader.clientId, secret: reader.secret }));
  await meta.loadTable("contact");
});
afterAll(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

function contacts(n: number, prefix: string): Operation[] {
  return contactUpserts(n, prefix, "Paced");
}

async function load(client: DataverseClient, prefix: string): Promise<{ served429: number; failed: number }> {
  const w = createWriter({
    clients: [client],
    tables: meta.lookup,
    // 100 rows per UpsertMultiple: 206 ms of execution each, about 58 per window's budget.
    settings: { batchSize: 100, maxBatchBytes: 8e6, retryBudgetSeconds: 60, useBulkActions: true },
    clock: systemClock,
  });
  const before = h.emulator.stats().throttled.byKind.execution;
  // 100 requests: more than one window's budget.
  const out = await w.write(contacts(10_000, prefix));
  return { served429: h.emulator.stats().throttled.byKind.execution - before, failed: out.filter((o) => !o.ok).length };
}

// Both halves hang on wall-clock timing inside a 3 s window: on a loaded machine a paced send can
// land after the budget its header promised, and an unpaced one can miss the window's edge, so the
// case gave 0-7 refusals either way under CI's load. It runs on demand (PACING_TIMING=1 npm test);
// the bench measures the same thing on the faithful 30 s window (docs/benchmarks.md: no 429 after
// the first window in any connector run), and pacing-simulated.test.ts runs the same pacer against
// the emulator's ServiceProtection on a virtual clock, where the outcome does not hang on load.
const TIMING = process.env["PACING_TIMING"] === "1";

describe("pacing on the rate-limit headers", () => {
  it.runIf(TIMING)("paced, a user writes past its window's execution budget without a 429; unpaced, the same load is refused", async () => {
    const [other] = POOL_APPS;
    if (other === undefined) throw new Error("no pool app");
    const unpaced = await load(h.client({ clientId: other.clientId, secret: other.secret, initial: 8, max: 8, pacing: false }), "unpaced");
    const paced = await load(h.client({ initial: 8, max: 8 }), "paced");
    expect(unpaced.failed).toBe(0);
    expect(paced.failed).toBe(0);
    expect(unpaced.served429).toBeGreaterThan(0);
    expect(paced.served429).toBe(0);
  }, 60_000);
});
