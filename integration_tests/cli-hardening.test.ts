// Issue 14 items 3 to 14, through the built CLI against the emulator over real HTTPS: bounded
// memory, safe files and hosts, and messages that say what is wrong and where.
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

function errorOf(r: { traces: Json[] }): Json {
  expect(r.traces).toHaveLength(1);
  return (r.traces[0] as Json)["error"] as Json;
}

function check(extra: Json) {
  return runCli({ args: ["check", "--config", "{file:config.json}"], files: { "config.json": { ...config, ...extra } }, secrets });
}

function statusOf(r: { messages: Json[] }): Json {
  const m = r.messages.find((x) => x["type"] === "CONNECTION_STATUS");
  return (m?.["connectionStatus"] ?? {}) as Json;
}

describe("item 7: the dead-letter file", () => {
  const tmp = mkdtempSync(join(tmpdir(), "hardening-dl-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const tooLong = () => record("contacts", { emailaddress1: `dl-${Math.random()}@hardening.example`, firstname: "x".repeat(500) });

  it("is created 0600 at the start and holds the rejected record", async () => {
    const path = join(tmp, "dead.jsonl");
    const r = await write([tooLong(), state(1, 1)], { config: { dead_letter_path: path } });
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(1);
  });

  it("a folder is a config error before anything is written (write), a FAILED status (check)", async () => {
    const email = "dl-dir@hardening.example";
    const r = await write([record("contacts", { emailaddress1: email }), state(1, 1)], { config: { dead_letter_path: tmp } });
    expect(r.code).toBe(1);
    expect(r.states).toEqual([]);
    const e = errorOf(r);
    expect(e["failure_type"]).toBe("config_error");
    expect(e["message"]).toContain(`dead_letter_path "${tmp}" cannot be used: it is a folder`);
    expect(await reader.rows("contacts", { filter: `emailaddress1 eq '${email}'`, select: ["emailaddress1"] })).toEqual([]);
    const c = await check({ dead_letter_path: join(tmp, "missing", "dead.jsonl") });
    expect(statusOf(c)).toMatchObject({ status: "FAILED", message: expect.stringContaining("its folder does not exist") });
  });

  it("a symbolic link is never followed", async () => {
    const target = join(tmp, "elsewhere");
    writeFileSync(target, "");
    const link = join(tmp, "link.jsonl");
    symlinkSync(target, link);
    const r = await write([tooLong(), state(1, 1)], { config: { dead_letter_path: link } });
    expect(r.code).toBe(1);
    expect(errorOf(r)).toMatchObject({ failure_type: "config_error", message: expect.stringContaining("symbolic link") });
    expect(readFileSync(target, "utf8")).toBe("");
  });
});

describe("item 9: where the credential goes", () => {
  it("user-info in authority_host or web_api_endpoint is a config error, nothing sent", async () => {
    const authority = new URL(emu.connection.authority_host);
    const c = await check({ authority_host: `https://login.microsoftonline.com@${authority.host}` });
    expect(statusOf(c)).toMatchObject({ status: "FAILED", message: expect.stringContaining("/authority_host must not hold a user name or password before an @") });
    const endpoint = new URL(emu.connection.web_api_endpoint);
    const w = await write([], { config: { web_api_endpoint: `https://contoso.crm.dynamics.com@${endpoint.host}${endpoint.pathname}` } });
    expect(w.code).toBe(1);
    expect(errorOf(w)).toMatchObject({ failure_type: "config_error", message: expect.stringContaining("/web_api_endpoint must not hold a user name or password") });
  });

  it("a sign-in host that is not Microsoft's needs allow_custom_authority_host; check names the host the credential went to", async () => {
    const host = new URL(emu.connection.authority_host).host;
    const refused = await check({ allow_custom_authority_host: false });
    expect(statusOf(refused)).toMatchObject({ status: "FAILED", message: expect.stringContaining(`/authority_host names ${host}, which is not a Microsoft Entra ID sign-in host`) });
    const allowed = await check({});
    expect(statusOf(allowed)).toMatchObject({ status: "SUCCEEDED", message: expect.stringContaining(`the credential was sent to ${host}, which is not a Microsoft sign-in host (allow_custom_authority_host is true)`) });
  });
});

describe("item 8: --input naming a missing file or a folder", () => {
  const tmp = mkdtempSync(join(tmpdir(), "hardening-input-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  for (const [what, path, reason] of [
    ["a missing file", join(tmp, "missing.jsonl"), "no such file"],
    ["a folder", tmp, "it is a folder; give the path of a file"],
  ] as const) {
    it(`${what}: a TRACE (Airbyte) naming the path and the reason`, async () => {
      const r = await runCli({
        args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}", "--input", path],
        files: { "config.json": config, "catalog.json": catalog },
        secrets,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).not.toMatch(/Unhandled 'error' event|Internal error/);
      expect(errorOf(r)).toMatchObject({ failure_type: "config_error", message: `--input ${JSON.stringify(path)} cannot be read: ${reason}` });
    });

    it(`${what}: a FATAL line (Singer) naming the path and the reason`, async () => {
      const r = await runCli({ args: ["--config", "{file:config.json}", "--input", path], files: { "config.json": config }, secrets, protocol: "singer" });
      expect(r.code).toBe(1);
      expect(r.stdout).toEqual([]);
      expect(r.stderr).toContain(`FATAL config_error: --input ${JSON.stringify(path)} cannot be read: ${reason}`);
    });
  }
});

describe("item 5: a 503 with Retry-After: 0", () => {
  it("is retried with a floor and jitter: within a 5 s budget, tens of attempts, not a hundred in half a second", async () => {
    const rules = ["POST", "PATCH"].map((method) => ({ fault: "status" as const, status: 503, retryAfterSeconds: 0, method, path: "/api/data/" }));
    emu.emulator.faults.add(...rules);
    try {
      const started = Date.now();
      const r = await write([record("contacts", { emailaddress1: "retry-after-zero@hardening.example" }), state(1, 1)], { config: { retry_budget_seconds: 5 } });
      const elapsed = Date.now() - started;
      const fired = emu.emulator.faults.fired().reduce((n, f) => n + f.fired, 0);
      expect(r.code).toBe(1);
      expect(errorOf(r)).toMatchObject({ failure_type: "transient_error" });
      // 250 ms floor plus up to 250 ms jitter per wait: 5 s of budget holds 10 to 20 waits.
      expect(fired).toBeGreaterThanOrEqual(10);
      expect(fired).toBeLessThanOrEqual(21);
      expect(elapsed).toBeGreaterThan(4_000);
    } finally {
      emu.emulator.faults.clear();
    }
  });
});

describe("item 14: Singer keys, and no arguments", () => {
  const singer = (input: string[], extra: Json = {}) =>
    runCli({ args: ["--config", "{file:config.json}"], files: { "config.json": { ...config, ...extra } }, input, secrets, protocol: "singer" });
  const schema = (stream: string, keys: string[]) => JSON.stringify({ type: "SCHEMA", stream, schema: { type: "object" }, key_properties: keys });
  const rec = (stream: string, data: Json) => JSON.stringify({ type: "RECORD", stream, record: data });
  const singerState = (n: number) => JSON.stringify({ type: "STATE", value: { n } });

  it("a record missing its key property fails the run (MissingKeyPropertiesError), naming line and stream; the state before it goes out", async () => {
    const r = await singer([schema("contacts", ["emailaddress1"]), rec("contacts", { emailaddress1: "mkp-ok@hardening.example" }), singerState(1), rec("contacts", { firstname: "No key" }), singerState(2)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toEqual([JSON.stringify({ n: 1 })]);
    expect(r.stderr).toMatch(/FATAL \w+: line 4, stream "contacts": RECORD is missing key property "emailaddress1" of its stream's SCHEMA key_properties \("emailaddress1"\) \(MissingKeyPropertiesError\)/);
  });

  it("a stream with no key warns once, before its first record, that every run creates new rows", async () => {
    const extra = { streams: [{ name: "keyless", table: "contact" }] };
    const r = await singer([schema("keyless", []), rec("keyless", { emailaddress1: "keyless-1@hardening.example" }), schema("keyless", []), rec("keyless", { emailaddress1: "keyless-2@hardening.example" }), singerState(1)], extra);
    expect(r.code, r.stderr).toBe(0);
    const warnings = r.stderr.split("\n").filter((l) => l.includes('stream "keyless" has no key'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/every run creates new rows/);
  });

  it("no arguments at all exits 2 with the usage on stderr", async () => {
    const r = await runCli({ args: [], secrets, protocol: "singer" });
    expect(r.code).toBe(2);
    expect(r.stdout).toEqual([]);
    expect(r.stderr).toMatch(/no command given/);
    expect(r.stderr).toMatch(/destination-dynamics365 write --config CONFIG/);
  });
});

describe("item 10: config file errors say where", () => {
  const tmp = mkdtempSync(join(tmpdir(), "hardening-config-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("a trailing comma names the file, line and column (write: TRACE; check: FAILED), never the file's text", async () => {
    const path = join(tmp, "config.json");
    const text = JSON.stringify(config, null, 2).replace(/\n}$/, ",\n}");
    writeFileSync(path, text);
    const line = text.split("\n").length;
    const w = await runCli({ args: ["write", "--config", path, "--catalog", "{file:catalog.json}"], files: { "catalog.json": catalog }, secrets });
    expect(w.code).toBe(1);
    expect(errorOf(w)).toMatchObject({ failure_type: "config_error", message: `The config file ${JSON.stringify(path)} is not valid JSON at line ${line}, column 1 (a trailing comma: JSON allows no comma before } or ])` });
    const c = await runCli({ args: ["check", "--config", path], secrets });
    expect(statusOf(c)).toMatchObject({ status: "FAILED", message: expect.stringContaining(`is not valid JSON at line ${line}, column 1`) });
  });

  it("a wrong path names the path and the reason", async () => {
    const path = join(tmp, "nope", "config.json");
    const w = await runCli({ args: ["write", "--config", path, "--catalog", "{file:catalog.json}"], files: { "catalog.json": catalog }, secrets });
    expect(w.code).toBe(1);
    expect(errorOf(w)).toMatchObject({ failure_type: "config_error", message: `The config file ${JSON.stringify(path)} cannot be read: no such file` });
    const folder = await runCli({ args: ["write", "--config", tmp, "--catalog", "{file:catalog.json}"], files: { "catalog.json": catalog }, secrets });
    expect(errorOf(folder)).toMatchObject({ message: `The config file ${JSON.stringify(tmp)} cannot be read: it is a folder; give the path of a file` });
  });
});

describe("item 11: bad input from the source says so, the same way in both modes", () => {
  const singer = (input: string[]) => runCli({ args: ["--config", "{file:config.json}"], files: { "config.json": config }, input, secrets, protocol: "singer" });

  it("a malformed line: system_error naming the line and the source, in both modes", async () => {
    const a = await write([state(1, 0), '{"type":"RECORD", oops']);
    expect(a.code).toBe(1);
    expect(errorOf(a)).toMatchObject({ failure_type: "system_error", message: "line 2: The line is not valid JSON; the source sent input this destination cannot take; fix the source (or report it to its maintainers), then rerun from the last state" });
    const s = await singer(['{"type":"STATE","value":{}}', '{"type":"RECORD", oops']);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain("FATAL system_error: line 2: The line is not valid JSON; the source sent input this destination cannot take");
  });

  it("an unknown stream: config_error naming the line and the stream, in both modes", async () => {
    const a = await write([state(1, 0), record("nope", { a: 1 })]);
    expect(a.code).toBe(1);
    expect(errorOf(a)).toMatchObject({ failure_type: "config_error", stream_descriptor: { name: "nope" }, message: expect.stringMatching(/^line 2, stream "nope": the source sent a RECORD for a stream the configured catalog does not list/) });
    const s = await singer([JSON.stringify({ type: "SCHEMA", stream: "nope", schema: { type: "object" }, key_properties: [] }), JSON.stringify({ type: "RECORD", stream: "nope", record: { a: 1 } })]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/FATAL config_error: line 1: the source sent stream "nope", which no entry of the configuration's streams maps to a table/);
  });
});

describe("item 12: a Dataverse refusal says what its code means and what to do", () => {
  it("an update of a row that does not exist: the warning explains the code, once", async () => {
    const r = await runCli({
      args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
      files: { "config.json": { ...config, max_rejected_share: 1 }, "catalog.json": configuredCatalog([{ name: "contacts", mode: "update" }]) },
      input: [record("contacts", { emailaddress1: "no-such-row@hardening.example", firstname: "Ghost" }), state(1, 1)],
      secrets,
    });
    expect(r.code, r.stderr).toBe(0);
    const warning = r.logs.find((l) => l.includes("rejected"));
    expect(warning).toMatch(/Dataverse refused the row \(HTTP 404\): a row (with the given key values|the request names) does not exist .*; sync the lookup target's stream first or in the same run, or use upsert mode to create missing rows \((0x[0-9a-f]{8}|http_404)\)/);
    expect(warning).not.toMatch(/(0x[0-9a-f]{8})\) \(\1\)/);
    expect(r.states[0]).toMatchObject({ destinationStats: { recordCount: 0, rejectedRecordCount: 1 } });
  });
});

describe("item 13: messages a new user can act on", () => {
  it("a table given by its entity-set name gets 'did you mean `contact`' (check and write)", async () => {
    const streams = [{ name: "contacts", table: "contacts", key: { columns: ["emailaddress1"] } }];
    const c = await check({ streams });
    expect(statusOf(c)).toMatchObject({ status: "FAILED", message: expect.stringContaining('table "contacts" does not exist in this environment; did you mean `contact` (its logical name)?') });
    const w = await write([record("contacts", { emailaddress1: "dym@hardening.example" })], { config: { streams } });
    expect(w.code).toBe(1);
    expect(errorOf(w)).toMatchObject({ failure_type: "config_error", message: expect.stringContaining("did you mean `contact` (its logical name)?") });
  });

  it("an untrusted certificate names ca_file and TLS-inspecting proxies", async () => {
    const { ca_file: _ca, ...withoutCa } = config as Json & { ca_file?: string };
    const c = await runCli({ args: ["check", "--config", "{file:config.json}"], files: { "config.json": withoutCa }, secrets });
    expect(statusOf(c)).toMatchObject({ status: "FAILED", message: expect.stringMatching(/CERT_UNTRUSTED; a private CA, or a proxy that inspects TLS, signs it: give that CA's certificate \(PEM\) as ca_file/) });
  });

  it("a secret with whitespace around it is named as such, before any sign-in", async () => {
    const secret = emu.connection.client_secret;
    const c = await check({ client_secret: `${secret}\n` });
    expect(statusOf(c)).toMatchObject({ status: "FAILED", message: expect.stringContaining("/credentials/client_secret has whitespace before or after it") });
  });
});
