// Issue 14 items 3 to 14, through the built CLI against the emulator over real HTTPS: bounded
// memory, safe files and hosts, and messages that say what is wrong and where.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEmulator } from "./reliability/emulator.js";
import type { TestEmulator } from "./reliability/emulator.js";
import { WebApiReader } from "./reliability/webapi.js";
import { configuredCatalog, record, runCli } from "./helpers/cli.js";
import type { Json } from "./helpers/cli.js";

let emu: TestEmulator;
let reader: WebApiReader;
let config: Json;
let secrets: string[];

beforeAll(async () => {
  emu = await startTestEmulator();
  reader = new WebApiReader(emu.connection);
  config = {
    ...emu.connection,
    streams: [{ name: "contacts", table: "contact", key: { columns: ["emailaddress1"] } }],
    flush_interval_seconds: 600,
  };
  secrets = [emu.connection.client_secret, await reader.accessToken()];
});

afterAll(async () => {
  await reader?.close();
  await emu?.close();
});

const catalog = configuredCatalog([{ name: "contacts", mode: "append_dedup" }]);

function write(input: Iterable<string>, extra: { config?: Json; env?: Record<string, string>; timeoutMs?: number } = {}) {
  return runCli({
    args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
    files: { "config.json": { ...config, ...(extra.config ?? {}) }, "catalog.json": catalog },
    input,
    secrets,
    ...(extra.env !== undefined ? { env: extra.env } : {}),
    ...(extra.timeoutMs !== undefined ? { timeoutMs: extra.timeoutMs } : {}),
  });
}

function state(id: number, count: number): string {
  return JSON.stringify({ type: "STATE", state: { type: "STREAM", stream: { stream_descriptor: { name: "contacts" }, stream_state: { cursor: id } }, sourceStats: { recordCount: count }, id } });
}

describe("item 4: states held behind one pending record", () => {
  it("300,000 states behind one record: bounded, fast, the latest state out last, counts that add up", async () => {
    const n = 300_000;
    function* input(): Generator<string> {
      yield record("contacts", { emailaddress1: "held-behind@hardening.example", firstname: "Held" });
      for (let i = 1; i <= n; i++) yield state(i, i === 1 ? 1 : 0);
    }
    const started = Date.now();
    const r = await write(input(), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(90_000);
    // Past 1000 held, states coalesce: one per stream stands for those it replaced.
    expect(r.states.length).toBeLessThanOrEqual(1001);
    expect(r.states.at(-1)).toMatchObject({ id: n, stream: { stream_state: { cursor: n } } });
    const ids = r.states.map((s) => s["id"] as number);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    for (const s of r.states) {
      const d = s["destinationStats"] as { recordCount: number; rejectedRecordCount?: number };
      expect(d.recordCount + (d.rejectedRecordCount ?? 0)).toBe((s["sourceStats"] as { recordCount: number }).recordCount);
    }
    const total = r.states.reduce((sum, s) => sum + (s["destinationStats"] as { recordCount: number }).recordCount, 0);
    expect(total).toBe(1);
  }, 150_000);
});

describe("item 3: a line that would parse past the heap", () => {
  it("30 MB of {},{},… on one line is refused with its line number, no V8 abort; the state before it goes out", async () => {
    const huge = `{"type":"RECORD","record":{"stream":"contacts","data":{"emailaddress1":"huge@hardening.example","x":[${"{},".repeat(10_000_000)}{}]},"emitted_at":1}}`;
    const r = await write([record("contacts", { emailaddress1: "before-huge@hardening.example" }), state(1, 1), huge, state(2, 1)], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(r.signal).toBeNull();
    expect(r.states.map((s) => s["id"])).toEqual([1]);
    expect(r.traces).toHaveLength(1);
    const error = (r.traces[0] as Json)["error"] as Json;
    expect(error["message"]).toMatch(/line 3/);
    expect(error["message"]).toMatch(/more than 1,000,000 JSON values/);
  }, 150_000);
});
