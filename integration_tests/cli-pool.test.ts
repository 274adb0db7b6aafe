// The application-user pool through the real CLI: max_concurrency is per application user, so a
// pool of three users keeps three times as many write requests in flight as one user would.
// Concurrency is observed on the emulator's side of the wire (Node's http.server diagnostics
// channel), each write held for a while by a delay fault, by counting events, never by comparing
// times: a request is in flight from its start until the emulator ends its answer. The same
// observer checks that no request carries a cookie (Microsoft: disable the affinity cookie so
// requests spread over web servers).
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POOL_APPS, testEnvironment } from "./dataverse-env.js";
import { configuredCatalog, record, runCli, streamState } from "./helpers/cli.js";
import { startTestEmulator, type TestEmulator } from "./reliability/emulator.js";

/** Long enough that the pipeline has the next batches ready while one is held; no assertion reads the clock. */
const HOLD_MS = 300;
const UPSERT_MULTIPLE = /\/contacts\/Microsoft\.Dynamics\.CRM\.UpsertMultiple$/;

/**
 * The contact UpsertMultiple requests in flight, counted on the server: +1 at the request's start,
 * -1 when the emulator ends its answer ("prefinish" is emitted inside `end()`, before the process
 * can read the connector's next request, so a request sent the moment an answer arrived is never
 * counted as overlapping the one answered).
 */
class WritesInFlight {
  inFlight = 0;
  /** The most writes in flight at one moment. */
  peak = 0;
  started = 0;
  /** Writes started before the first answer ended. */
  startedBeforeFirstAnswer = 0;
  answered = 0;
  /** Requests that carried a Cookie header (the emulator sets ARRAffinity on every answer, as Dataverse does). */
  cookies = 0;
  readonly #onStart = (m: unknown): void => {
    const { request: req, response: res } = m as { request: IncomingMessage; response: ServerResponse };
    if (req.headers.cookie !== undefined) this.cookies++;
    if (req.method !== "POST" || !UPSERT_MULTIPLE.test(req.url ?? "")) return;
    this.started++;
    if (this.answered === 0) this.startedBeforeFirstAnswer++;
    this.inFlight++;
    this.peak = Math.max(this.peak, this.inFlight);
    res.once("prefinish", () => {
      this.inFlight--;
      this.answered++;
    });
  };
  start(): this {
    subscribe("http.server.request.start", this.#onStart);
    return this;
  }
  stop(): void {
    unsubscribe("http.server.request.start", this.#onStart);
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
    // These tests count UpsertMultiple requests in flight: every row goes as sent, no read first.
    write_only_changes: false,
    ...(extraUsers > 0 ? { additional_app_users: POOL_APPS.slice(0, extraUsers).map((a) => ({ client_id: a.clientId, client_secret: a.secret })) } : {}),
    streams: [{ name: "people", table: "contact", mode: "upsert", key: { columns: ["emailaddress1"] } }],
  };
}

async function load(prefix: string, extraUsers: number, maxConcurrency = 1): Promise<{ peak: number; rows: number; cookies: number; startedBeforeFirstAnswer: number }> {
  const before = emu.emulator.service.rowCount("contact");
  const counter = new WritesInFlight().start();
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
    expect(counter.inFlight).toBe(0);
    return { peak: counter.peak, rows: emu.emulator.service.rowCount("contact") - before, cookies: counter.cookies, startedBeforeFirstAnswer: counter.startedBeforeFirstAnswer };
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
      // Requests sent before any answer came back: exactly the starting limit.
      expect(r.startedBeforeFirstAnswer).toBe(hint);
    } finally {
      await emu.close();
      emu = main;
    }
  }, 60_000);
});
