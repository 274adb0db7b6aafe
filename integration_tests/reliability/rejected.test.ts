// Rejected records (issue 6 item 3): a record refused for its own content is rejected, not retried:
// counted in destinationStats.rejectedRecordCount, written to the dead-letter file with stream, key,
// field, code and message (and the record unless configured off), summarised per stream; the sync
// fails once rejections pass max_rejected_share; a misconfiguration that would reject every record
// fails at once, never record by record.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDS } from "../../emulator/default-environment.js";
import { runConnector, workdir } from "./connector.js";
import { crashAndResume, startsWith, type CrashResumeOptions, type Scenario } from "./crash-resume.js";
import { readDeadLetters } from "./deadletters.js";
import { startTestEmulator, type TestEmulator } from "./emulator.js";
import { createRng } from "./prng.js";
import { parseLine, recordLine, statesIn, streamStateLine, traceErrorsIn } from "./protocol.js";
import { contactUpsert } from "./scenarios.js";
import { WebApiReader } from "./webapi.js";

const SETTINGS = { batch_size: 25, max_concurrency: 2, retry_budget_seconds: 20, flush_interval_seconds: 1, max_rejected_share: 0.5 };
const TOO_LONG = "x".repeat(51); // contact.firstname MaxLength is 50

describe("rejected records", () => {
  let emu: TestEmulator;
  let files: ReturnType<typeof workdir>;
  beforeAll(async () => {
    emu = await startTestEmulator();
    files = workdir("rejected");
  });
  afterAll(async () => {
    await emu?.close();
    files?.remove();
  });

  function options(extra: Partial<CrashResumeOptions>): CrashResumeOptions {
    return { records: 200, stateEvery: 20, rng: createRng(1), connection: emu.connection, settings: SETTINGS, runTimeoutMs: 60_000, ...extra };
  }

  it("refused by mapping (too long) and by Dataverse (missing lookup target): rejected once, counted, dead-lettered", async () => {
    const deadLetterPath = join(files.dir, "content.jsonl");
    const tooLong = (i: number): boolean => i % 10 === 3;
    const noTarget = (i: number): boolean => i % 10 === 6;
    const base = contactUpsert("rj");
    const scenario: Scenario = {
      ...base,
      streamConfig: {
        ...base.streamConfig,
        fields: { account_number: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } } },
      },
      record: (i) => ({
        ...base.record(i),
        ...(tooLong(i) ? { firstname: TOO_LONG } : {}),
        ...(noTarget(i) ? { account_number: `MISSING-${i}` } : {}),
      }),
      expectRejected: (i) => tooLong(i) || noTarget(i),
    };
    const report = await crashAndResume(scenario, options({ settings: { ...SETTINGS, dead_letter_path: deadLetterPath }, runs: [{}] }));
    expect(report.rejected).toBe(40);

    const letters = readDeadLetters(deadLetterPath);
    expect(letters).toHaveLength(40);
    for (const letter of letters) {
      expect(letter.stream).toBe(scenario.stream);
      const record = letter.record as Record<string, unknown> | undefined;
      expect(record, "record included by default").toBeTypeOf("object");
      const email = String(record?.["emailaddress1"]);
      const i = Number(/-(\d+)@/.exec(email)?.[1]);
      if (tooLong(i)) {
        expect(letter.field).toBe("/firstname");
        expect(letter.code).toBeTypeOf("string");
      } else {
        expect(noTarget(i)).toBe(true);
        // Dataverse's code for a bind by a key that matches no row (0x80060891) or by id (0x80040217).
        expect(["0x80060891", "0x80040217"]).toContain(letter.code);
        expect(JSON.stringify(letter.key), `key of record ${i}`).toContain(email);
      }
      expect(String(letter.message)).not.toContain(TOO_LONG);
    }
    // Summarised per stream at the end of the run: a LOG naming the stream and its rejections.
    const logs = (report.results[0]?.stdout ?? [])
      .map(parseLine)
      .filter((m) => m?.["type"] === "LOG")
      .map((m) => JSON.stringify(m));
    expect(logs.some((l) => l.includes(scenario.stream) && /reject/i.test(l) && l.includes("40"))).toBe(true);
    // Rejected, not retried: the connector's own count of resends (every HTTP attempt after the
    // first and every $batch part sent again) stays at 0, and no answer asked for a retry.
    const summary = logs.find((l) => l.includes("summary:") && l.includes(`"${scenario.stream}"`.replace(/"/g, '\\"')));
    expect(summary, logs.join("\n")).toMatch(/retried 0,/);
    const statuses = Object.keys(emu.emulator.stats().requests.byStatus).map(Number);
    expect(statuses.filter((st) => st === 429 || st >= 500)).toEqual([]);
  });

  // With dead_letter_include_record off, the key is what names the record besides its line number.
  it("a record refused by mapping is dead-lettered with its key", async () => {
    const deadLetterPath = join(files.dir, "mapping-key.jsonl");
    const base = contactUpsert("rjkey");
    const scenario: Scenario = { ...base, record: (i) => ({ ...base.record(i), ...(i % 2 === 0 ? { firstname: TOO_LONG } : {}) }), expectRejected: (i) => i % 2 === 0 };
    await crashAndResume(scenario, options({ records: 20, settings: { ...SETTINGS, max_rejected_share: 1, dead_letter_path: deadLetterPath, dead_letter_include_record: false }, runs: [{}] }));
    const letters = readDeadLetters(deadLetterPath);
    expect(letters).toHaveLength(10);
    for (const letter of letters) expect(JSON.stringify(letter.key ?? null)).toMatch(/rjkey-\d+@example\.com/);
  });

  it("alternate-key duplicates on create are refused by Dataverse and rejected", async () => {
    const deadLetterPath = join(files.dir, "duplicates.jsonl");
    const stream = "rj_leads";
    // Records 150..199 reuse the e-mail of 0..49: lead.emailaddress1 is an alternate key.
    const email = (i: number): string => `rj-lead-${i >= 150 ? i - 150 : i}@example.com`;
    const scenario: Scenario = {
      label: "rj-leads",
      stream,
      entitySet: "leads",
      streamConfig: { name: stream, table: "lead", mode: "create" },
      catalogMode: "append",
      record: (i) => ({ subject: `rj-lead-${i}`, lastname: `Lead ${i}`, emailaddress1: email(i) }),
      identityColumn: "subject",
      identity: (i) => `rj-lead-${i}`,
      compareColumns: ["emailaddress1"],
      tableFilter: startsWith("subject", "rj-lead-"),
      expectRejected: (i) => i >= 150,
    };
    // One request at a time, so the originals are committed before their duplicates arrive.
    const report = await crashAndResume(scenario, options({ settings: { ...SETTINGS, max_concurrency: 1, dead_letter_path: deadLetterPath }, runs: [{}] }));
    expect(report.rejected).toBe(50);
    const letters = readDeadLetters(deadLetterPath);
    expect(letters).toHaveLength(50);
    expect(new Set(letters.map((l) => l.code))).toEqual(new Set(["0x80060892"]));
  });

  // The emulator applies the published "accounts with the same account name" rule when a write asks
  // for duplicate detection (issue 18): the connector's duplicate_detection setting must ask for it,
  // and each match must cost only its own record.
  it("duplicate detection on: accounts whose name a rule finds again are rejected with 0x80040333, in the connector's words when the record is left out", async () => {
    const deadLetterPath = join(files.dir, "duplicate-detection.jsonl");
    const stream = "rjdd_accounts";
    // Records 150..199 reuse the names of 0..49 under new account numbers.
    const name = (i: number): string => `RJDD Company ${i >= 150 ? i - 150 : i}`;
    const scenario: Scenario = {
      label: "rjdd-accounts",
      stream,
      entitySet: "accounts",
      streamConfig: { name: stream, table: "account", mode: "upsert", key: { columns: ["accountnumber"] } },
      catalogMode: "append_dedup",
      primaryKey: ["accountnumber"],
      record: (i) => ({ accountnumber: `rjdd-${i}`, name: name(i) }),
      identityColumn: "accountnumber",
      identity: (i) => `rjdd-${i}`,
      compareColumns: ["name"],
      tableFilter: startsWith("accountnumber", "rjdd-"),
      expectRejected: (i) => i >= 150,
    };
    // One request at a time, so the originals are committed before their duplicates arrive.
    const settings = { ...SETTINGS, max_concurrency: 1, duplicate_detection: true, dead_letter_path: deadLetterPath, dead_letter_include_record: false };
    const report = await crashAndResume(scenario, options({ settings, runs: [{}] }));
    expect(report.rejected).toBe(50);
    const letters = readDeadLetters(deadLetterPath);
    expect(letters).toHaveLength(50);
    for (const letter of letters) {
      expect(letter.raw).toMatchObject({ code: "0x80040333", status: 412 });
      expect(letter.message).toBe("Dataverse refused the row (HTTP 412 0x80040333): a duplicate-detection rule matched an existing row; set duplicate_detection to false, or change the table's duplicate-detection rule.");
    }
  });

  it("update of a missing row in update mode is a rejected record, not a failure; include_record off keeps values out", async () => {
    const seed = contactUpsert("rjupd");
    await crashAndResume(seed, options({ records: 100, runs: [{}] }));
    const deadLetterPath = join(files.dir, "update.jsonl");
    const stream = "rjupd_updates";
    const scenario: Scenario = {
      ...seed,
      label: "rjupd-update",
      stream,
      streamConfig: { name: stream, table: "contact", mode: "update", key: { columns: ["emailaddress1"] } },
      catalogMode: "append",
      record: (i) => ({ emailaddress1: `rjupd-${i}@example.com`, firstname: `Updated ${i}` }),
      compareColumns: ["firstname"],
      expectRejected: (i) => i >= 100,
    };
    const report = await crashAndResume(
      scenario,
      options({ records: 200, settings: { ...SETTINGS, dead_letter_path: deadLetterPath, dead_letter_include_record: false }, runs: [{}] }),
    );
    expect(report.rejected).toBe(100);
    const letters = readDeadLetters(deadLetterPath);
    expect(letters).toHaveLength(100);
    for (const letter of letters) {
      expect(letter.record).toBeUndefined();
      expect(letter.text).not.toContain("Updated ");
      expect(letter.stream).toBe(stream);
      // Dataverse's own text can quote values, so without the record the message is the connector's, by code.
      expect(letter.message).toMatch(/^Dataverse refused the row \(HTTP 404 0x[0-9a-f]+\): a row .* does not exist/i);
    }
  });

  it("the sync fails once rejections pass max_rejected_share, without a state past its data", async () => {
    const deadLetterPath = join(files.dir, "share.jsonl");
    const base = contactUpsert("rjshare");
    const scenario: Scenario = {
      ...base,
      record: (i) => ({ ...base.record(i), ...(i % 2 === 0 ? { firstname: TOO_LONG } : {}) }),
      expectRejected: (i) => i % 2 === 0,
    };
    const files2 = workdir("rejected-share");
    try {
      const config = files2.json("config.json", {
        ...emu.connection,
        ...SETTINGS,
        max_rejected_share: 0.1,
        dead_letter_path: deadLetterPath,
        streams: [scenario.streamConfig],
      });
      const catalog = files2.json("catalog.json", catalogFor(scenario.stream, "append_dedup", ["emailaddress1"]));
      const input: string[] = [];
      for (let i = 0; i < 1000; i += 1) {
        input.push(recordLine(scenario.stream, scenario.record(i)));
        if ((i + 1) % 20 === 0) input.push(streamStateLine(scenario.stream, (i + 1) / 20, i + 1));
      }
      const result = await runConnector({ args: ["write", "--config", config, "--catalog", catalog], input, timeoutMs: 60_000 });
      expect(result.timedOut).toBe(false);
      expect(result.signal, result.stderr.slice(-1500)).toBe(null);
      expect(result.code).not.toBe(0);
      const errors = traceErrorsIn(result.stdout);
      expect(errors, `exit ${String(result.code)}; stdout tail ${result.stdout.slice(-3).join("\n")}; stderr ${result.stderr.slice(-1500)}`).toHaveLength(1);
      expect(errors[0]?.message).toMatch(/reject/i);
      // It stops soon after the share is passed (checked after 100 records), not at the end of the input.
      const rejectedOnDisk = readDeadLetters(deadLetterPath).length;
      expect(rejectedOnDisk).toBeGreaterThanOrEqual(10);
      expect(rejectedOnDisk).toBeLessThan(500);
      // Whatever states came out are backed by rows (the good half of each interval).
      const reader = new WebApiReader(emu.connection);
      try {
        const rows = await reader.rows("contacts", { select: ["emailaddress1"], filter: scenario.tableFilter });
        const present = new Set(rows.map((r) => String(r["emailaddress1"])));
        for (const state of statesIn(result.stdout)) {
          const cursor = (state.id ?? 0) * 20;
          for (let i = 1; i < cursor; i += 2) expect(present.has(scenario.identity(i)), `record ${i} before state ${state.id}`).toBe(true);
        }
      } finally {
        await reader.close();
      }
    } finally {
      files2.remove();
    }
  });

  describe("a misconfiguration that would reject every record fails at once", () => {
    async function failsAtOnce(streamConfig: Record<string, unknown>, credentials: { client_id: string; client_secret: string } | undefined, table: string) {
      const run = workdir("rejected-misconfig");
      try {
        const deadLetterPath = join(run.dir, "dl.jsonl");
        const stream = String(streamConfig["name"]);
        const config = run.json("config.json", { ...emu.connection, ...credentials, ...SETTINGS, dead_letter_path: deadLetterPath, streams: [streamConfig] });
        const catalog = run.json("catalog.json", catalogFor(stream, "append_dedup", []));
        const input: string[] = [];
        for (let i = 0; i < 300; i += 1) {
          input.push(recordLine(stream, table === "account" ? { accountnumber: `MC-${i}`, name: `Account ${i}` } : { emailaddress1: `mc-${i}@example.com`, nickname_x: "n" }));
          if ((i + 1) % 50 === 0) input.push(streamStateLine(stream, (i + 1) / 50, i + 1));
        }
        const result = await runConnector({ args: ["write", "--config", config, "--catalog", catalog], input, timeoutMs: 60_000 });
        expect(result.timedOut).toBe(false);
        expect(result.code).not.toBe(0);
        const errors = traceErrorsIn(result.stdout);
        expect(errors.map((e) => e.failureType)).toEqual(["config_error"]);
        expect(statesIn(result.stdout)).toEqual([]);
        // Not record by record: nothing was dead-lettered.
        expect(readDeadLetters(deadLetterPath)).toEqual([]);
        return errors[0]?.message ?? "";
      } finally {
        run.remove();
      }
    }

    it("a mapping to a column the table does not have", async () => {
      const message = await failsAtOnce(
        { name: "mc_contacts", table: "contact", mode: "upsert", key: { columns: ["emailaddress1"] }, fields: { nickname_x: "new_nosuchcolumn" } },
        undefined,
        "contact",
      );
      expect(message).toContain("new_nosuchcolumn");
    });

    it("an application user without the write privilege on the table (read-only app on account)", async () => {
      const { clientId, secret } = DEFAULT_IDS.readOnlyApp;
      const message = await failsAtOnce(
        { name: "mc_accounts", table: "account", mode: "upsert", key: { columns: ["accountnumber"] } },
        { client_id: clientId, client_secret: secret },
        "account",
      );
      expect(message).toMatch(/privilege/i);
      expect(message).toContain("account");
    });
  });
});

function catalogFor(stream: string, mode: string, primaryKey: readonly string[]): unknown {
  return {
    streams: [
      {
        stream: { name: stream, json_schema: { type: "object", properties: {} }, supported_sync_modes: ["incremental"] },
        sync_mode: "incremental",
        destination_sync_mode: mode,
        ...(primaryKey.length > 0 ? { primary_key: primaryKey.map((k) => [k]) } : {}),
      },
    ],
  };
}
