// The application-user pool through the real CLI: max_concurrency is per application user, so a
// pool of three users keeps three times as many write requests in flight as one user would.
// Concurrency is observed on the emulator's side of the wire (Node's http.server diagnostics
// channel), each write held for a while by a delay fault. The same observer checks that no request
// carries a cookie (Microsoft: disable the affinity cookie so requests spread over web servers).
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POOL_APPS, testEnvironment } from "./dataverse-env.js";
import { configuredCatalog, record, runCli, streamState } from "./helpers/cli.js";
import { startTestEmulator, type TestEmulator } from "./reliability/emulator.js";

const HOLD_MS = 300;
const UPSERT_MULTIPLE = /\/contacts\/Microsoft\.Dynamics\.CRM\.UpsertMultiple$/;

/**
 * Start times of the contact UpsertMultiple requests. Each is held HOLD_MS by a delay fault before
 * the emulator runs it, so two requests whose starts lie less than HOLD_MS apart were in flight
 * together; a request sent the moment another's answer arrived starts at least HOLD_MS after it
 * and is not counted as overlapping (the server's "finish" event can lag the client's next send).
 */
class WriteStarts {
  readonly starts: number[] = [];
  /** Requests that carried a Cookie header (the emulator sets ARRAffinity on every answer, as Dataverse does). */
  cookies = 0;
  readonly #onStart = (m: unknown): void => {
    const req = (m as { request: IncomingMessage }).request;
    if (req.headers.cookie !== undefined) this.cookies++;
    if (req.method === "POST" && UPSERT_MULTIPLE.test(req.url ?? "")) this.starts.push(performance.now());
  };
  start(): this {
    subscribe("http.server.request.start", this.#onStart);
    return this;
  }
  stop(): void {
    unsubscribe("http.server.request.start", this.#onStart);
  }
  /** The most requests held by the delay at one moment. */
  peak(): number {
    let best = 0;
    for (const t of this.starts) best = Math.max(best, this.starts.filter((u) => u <= t && t < u + HOLD_MS).length);
    return best;
  }
}

function startHeld(dopHint?: number): Promise<TestEmulator> {
  return startTestEmulator({
    environment: testEnvironment(),
    ...(dopHint === undefined ? {} : { limits: { enabled: false, dopHint } }),
    faults: [{ fault: "delay", method: "POST", pathRegex: "UpsertMultiple$", delayMs: HOLD_MS }],
  });
}

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startHeld();
});
afterAll(async () => emu.close());

function config(extraUsers: number, maxConcurrency = 1): Record<string, unknown> {
  return {
    ...emu.connection,
    max_concurrency: maxConcurrency,
    batch_size: 10,
    ...(extraUsers > 0 ? { additional_app_users: POOL_APPS.slice(0, extraUsers).map((a) => ({ client_id: a.clientId, client_secret: a.secret })) } : {}),
    streams: [{ name: "people", table: "contact", mode: "upsert", key: { columns: ["emailaddress1"] } }],
  };
}

async function load(prefix: string, extraUsers: number, maxConcurrency = 1): Promise<{ peak: number; rows: number; cookies: number; starts: number[] }> {
  const before = emu.emulator.service.rowCount("contact");
  const counter = new WriteStarts().start();
  try {
    const input = [...Array.from({ length: 90 }, (_, i) => record("people", { emailaddress1: `${prefix}${i}@example.com`, lastname: `L${i}` })), streamState("people", 1)];
    const r = await runCli({
      args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
      files: { "config.json": config(extraUsers, maxConcurrency), "catalog.json": configuredCatalog([{ name: "people", mode: "append_dedup", pk: [["emailaddress1"]] }]) },
      input,
      secrets: [emu.connection.client_secret, ...POOL_APPS.map((a) => a.secret)],
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.states).toHaveLength(1);
    return { peak: counter.peak(), rows: emu.emulator.service.rowCount("contact") - before, cookies: counter.cookies, starts: counter.starts };
  } finally {
    counter.stop();
  }
}

describe("write with an application-user pool", () => {
  it("max_concurrency counts per user: one user keeps 1 write in flight, a pool of three keeps 3", async () => {
    const single = await load("pool-single-", 0);
    expect(single.rows).toBe(90);
    expect(single.peak).toBe(1);
    const pool = await load("pool-three-", 2);
    expect(pool.rows).toBe(90);
    expect(pool.peak).toBe(3);
  }, 60_000);

  it("sends no cookie, so the affinity cookie Dataverse sets never pins requests to one web server", async () => {
    const r = await load("pool-cookie-", 2);
    expect(r.rows).toBe(90);
    expect(r.cookies).toBe(0);
  }, 60_000);
});

describe("starting concurrency", () => {
  // Microsoft: read x-ms-dop-hint and use it as the degree of parallelism; the connector starts each
  // user there (max_concurrency 8 here) and grows only after a full round of healthy answers.
  it.each([2, 6])("starts at the x-ms-dop-hint the server sends (%i), below or above the default of 4", async (hint) => {
    const main = emu;
    emu = await startHeld(hint);
    try {
      const r = await load(`dop-${hint}-`, 0, 8);
      expect(r.rows).toBe(90);
      const first = r.starts[0] ?? 0;
      // Requests sent before any answer came back: exactly the starting limit.
      expect(r.starts.filter((t) => t < first + HOLD_MS / 2)).toHaveLength(hint);
    } finally {
      await emu.close();
      emu = main;
    }
  }, 60_000);
});
