// Faults injected by the emulator over real sockets: throttling, 5xx bursts, resets, 413, revoked tokens.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "../src/http/clock.js";
import { DataverseError } from "../src/dataverse/errors.js";
import { MetadataLoader } from "../src/dataverse/metadata.js";
import { createWriter, type WriterSettings } from "../src/dataverse/writer.js";
import type { DataverseClient } from "../src/dataverse/client.js";
import type { Operation } from "../src/model/operation.js";
import { contactUpserts, startHarness, type Harness } from "./dataverse-env.js";

let h: Harness;
let meta: MetadataLoader;
beforeAll(async () => {
  h = await startHarness();
  meta = new MetadataLoader(h.client());
  await meta.loadTable("contact");
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  h.emulator.faults.clear();
});

const settings: WriterSettings = { batchSize: 200, maxBatchBytes: 8 * 1024 * 1024, retryBudgetSeconds: 20, useBulkActions: true };

function writerFor(client: DataverseClient, over: Partial<WriterSettings> = {}) {
  return createWriter({ clients: [client], tables: meta.lookup, settings: { ...settings, ...over }, clock: systemClock });
}

let seq = 0;
function contacts(n: number, prefix: string): Operation[] {
  return contactUpserts(n, `${prefix}${seq++}-`, "Fault");
}

async function count(prefix: string): Promise<number> {
  let n = 0;
  for await (const page of h.client().query("contacts", { select: ["contactid"], filter: `startswith(emailaddress1,'${prefix}')`, maxPageSize: 5000 })) n += page.length;
  return n;
}

describe("throttling", () => {
  it("given a 429 with Retry-After 1, pauses that user for the full second and resends once", async () => {
    h.emulator.faults.add({ fault: "throttle", path: "UpsertMultiple", count: 1, retryAfterSeconds: 1 });
    const client = h.client();
    const w = writerFor(client);
    const started = Date.now();
    const out = await w.write(contacts(100, "ra"));
    const elapsed = Date.now() - started;
    expect(out.every((o) => o.ok)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(w.stats()).toMatchObject({ throttled429: 1, retries: 1 });
    expect(w.stats().tables.get("contact")).toMatchObject({ throttled429: 1, retries: 1 });
    expect(client.throttle.stats().pausedMs).toBeGreaterThanOrEqual(1000);
    expect(await count("ra")).toBe(100);
  });

  it("a Retry-After longer than the budget fails the write as transient without waiting it out", async () => {
    h.emulator.faults.add({ fault: "throttle", path: "UpsertMultiple", count: 1, retryAfterSeconds: 30 });
    // A clock that never moves: waiting out the Retry-After would park a sleeper on it forever.
    const clock = new ManualClock();
    const w = createWriter({ clients: [h.client({ clock })], tables: meta.lookup, settings: { ...settings, retryBudgetSeconds: 5 }, clock });
    const settled = w.write(contacts(10, "rb")).then(
      () => undefined,
      (e: unknown) => e,
    );
    let err: unknown;
    for (;;) {
      const done = await Promise.race([settled.then((e) => ({ e })), new Promise<undefined>((r) => setTimeout(() => r(undefined), 20))]);
      if (done !== undefined) {
        err = done.e;
        break;
      }
      expect(clock.pending, "the writer is waiting out a Retry-After longer than its budget").toBe(0);
    }
    expect(h.emulator.faults.fired().map((f) => f.fired)).toEqual([1]);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).kind).toBe("transient");
    expect((err as DataverseError).status).toBe(429);
  });
});

describe("server errors and broken connections", () => {
  it("survives a burst of 503s and 502s", async () => {
    h.emulator.faults.add({ fault: "status", status: 503, path: "UpsertMultiple", count: 3 }, { fault: "status", status: 502, path: "UpsertMultiple", count: 2 });
    const w = writerFor(h.client());
    const out = await w.write(contacts(400, "burst"));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(w.stats().retries).toBeGreaterThanOrEqual(5);
    expect(w.stats().tables.get("contact")?.retries).toBe(w.stats().retries);
    expect(await count("burst")).toBe(400);
  });

  it("a $batch request answered 503 is resent", async () => {
    const w = writerFor(h.client(), { useBulkActions: false });
    h.emulator.faults.add({ fault: "status", status: 503, method: "POST", path: "$batch", count: 2 });
    const out = await w.write(contacts(50, "part"));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(await count("part")).toBe(50);
  });

  it("a connection reset mid-response is retried (upserts are idempotent)", async () => {
    h.emulator.faults.add({ fault: "reset", path: "UpsertMultiple", count: 2 });
    const w = writerFor(h.client());
    const out = await w.write(contacts(300, "reset"));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(await count("reset")).toBe(300);
  });

  it("413 payload too large: splits and resends", async () => {
    h.emulator.faults.add({ fault: "too-large", path: "UpsertMultiple", count: 1 });
    const w = writerFor(h.client());
    const out = await w.write(contacts(200, "big"));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(w.stats().bulkRequests).toBeGreaterThanOrEqual(3);
    expect(await count("big")).toBe(200);
  });

  it("a request that hangs times out and is retried", async () => {
    h.emulator.faults.add({ fault: "hang", path: "UpsertMultiple", count: 1 });
    const { createUndiciTransport } = await import("../src/http/transport.js");
    const { readFileSync } = await import("node:fs");
    const { DataverseClient } = await import("../src/dataverse/client.js");
    const { Throttle } = await import("../src/http/throttle.js");
    const transport = createUndiciTransport({ caPem: readFileSync(h.emulator.config.ca_file), defaultTimeoutMs: 500 });
    try {
      const client = new DataverseClient({
        endpoint: new URL(h.emulator.config.web_api_endpoint),
        transport,
        tokens: h.tokenProvider(),
        clock: systemClock,
        throttle: new Throttle({ clock: systemClock, initial: 4, max: 8 }),
        retryBudgetMs: 10_000,
        timeoutMs: 500,
      });
      const out = await writerFor(client).write(contacts(20, "hang"));
      expect(out.every((o) => o.ok)).toBe(true);
      expect(await count("hang")).toBe(20);
      // The hang fired once and the write still completed: the hung request was given up and resent.
      // How many attempts that took depends on the machine (a slow answer can time out too), so the
      // count of retries is bounded below only.
      expect(h.emulator.faults.fired().map((f) => f.fired)).toEqual([1]);
      expect(client.counters.retries).toBeGreaterThanOrEqual(1);
    } finally {
      await transport.close();
    }
  });
});

describe("tokens", () => {
  it("a revoked token is replaced once and the write goes on", async () => {
    const client = h.client();
    const w = writerFor(client);
    await w.write(contacts(5, "tok"));
    const issued = h.emulator.stats().tokensIssued;
    h.emulator.faults.revokeTokens(h.emulator.config.client_id);
    const out = await w.write(contacts(5, "tok"));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(h.emulator.stats().tokensIssued).toBe(issued + 1);
    expect(client.counters.unauthorizedRefreshes).toBe(1);
  });

  it("a token refused again after a refresh fails as unauthorized (config error), after one refresh", async () => {
    h.emulator.faults.add({ fault: "revoke-tokens", path: "UpsertMultiple" });
    const client = h.client();
    const err = await writerFor(client).write(contacts(5, "tok2")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).kind).toBe("unauthorized");
    expect(client.counters.unauthorizedRefreshes).toBe(1);
  });
});
