// Hostile input (issue 6 item 4). Record cases go many to a run: each must end as a written row
// (with its exact key) or a clean rejection in the dead-letter file, never as a crash, a hang or a
// malformed request. Line cases get a run each: a clean TRACE error naming the line, or acceptance.
// CI size below; the large version is `node scripts/fuzz.mjs` (>= 10,000 cases). Replay: FUZZ_SEED.
// Fixed seeds for the line sample and all record runs but the last, which takes a fresh seed.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertNoSecrets, findTokenShapes } from "../helpers/no-secrets.js";
import { runConnector, workdir, type RunResult } from "../reliability/connector.js";
import { readDeadLetters } from "../reliability/deadletters.js";
import { startTestEmulator, type TestEmulator } from "../reliability/emulator.js";
import { createRng, fixedSeed, intFromEnv, seedFromEnv } from "../reliability/prng.js";
import { nonProtocolLines, recordLine, statesIn, streamStateLine, traceErrorsIn } from "../reliability/protocol.js";
import { odataString, WebApiReader } from "../reliability/webapi.js";
import { deepJson, FUZZ_STREAMS, fuzzStreamConfigs, FIXED_BUGS, lineCases, markerOf, recordRun, URL_CHARS, type RecordCase } from "./generate.js";

const RUNS = intFromEnv("FUZZ_RUNS", 2);
const RECORDS_PER_RUN = intFromEnv("FUZZ_RECORDS_PER_RUN", 150);
const LINE_CASES = intFromEnv("FUZZ_LINE_CASES", 12);
const RUN_TIMEOUT_MS = intFromEnv("FUZZ_RUN_TIMEOUT_MS", 90_000);

/**
 * Dataverse answers that mean our request was malformed, not that the record was bad: a payload or
 * framing error, a URL that does not name a resource, an OData-level parse error.
 */
const MALFORMED_REQUEST_CODES = new Set(["0x80048d19", "0x8006088a", "0x80060888", "0x0"]);

/** A Node crash or an uncaught error printed on stderr. */
const CRASH_ON_STDERR = /(^\s+at .+:\d+:\d+\)?$)|Uncaught|node:internal|(TypeError|RangeError|SyntaxError|ReferenceError|URIError)\b/m;

function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

function expectNoCrash(result: RunResult, label: string, secret?: string): void {
  const texts = { stdout: result.stdout.join("\n"), stderr: result.stderr };
  if (secret !== undefined) assertNoSecrets(texts, [{ label: "client secret", value: secret }]);
  expect(findTokenShapes(texts), `${label}: a token on stdout/stderr`).toEqual([]);
  expect(result.timedOut, `${label}: hang (no end within ${RUN_TIMEOUT_MS} ms)`).toBe(false);
  expect(result.signal, `${label}: ended by a signal`).toBe(null);
  expect(CRASH_ON_STDERR.test(result.stderr), `${label}: crash on stderr: ${result.stderr.slice(-1500)}`).toBe(false);
  expect(nonProtocolLines(result.stdout), `${label}: non-protocol stdout`).toEqual([]);
  for (const error of traceErrorsIn(result.stdout)) {
    expect(error.message, `${label}: last-resort handler caught an internal error`).not.toMatch(/^Internal error/);
  }
}

describe("hostile input", () => {
  let emu: TestEmulator;
  let files: ReturnType<typeof workdir>;
  let catalog: string;
  beforeAll(async () => {
    emu = await startTestEmulator();
    files = workdir("fuzz");
    catalog = files.json("catalog.json", {
      streams: Object.values(FUZZ_STREAMS).map((name) => ({
        stream: { name, json_schema: { type: "object", properties: {} }, supported_sync_modes: ["incremental"] },
        sync_mode: "incremental",
        destination_sync_mode: "append_dedup",
      })),
    });
  });
  afterAll(async () => {
    await emu?.close();
    files?.remove();
  });

  function config(name: string, deadLetterPath: string): string {
    return files.json(name, {
      ...emu.connection,
      streams: fuzzStreamConfigs(),
      batch_size: 50,
      max_concurrency: 4,
      retry_budget_seconds: 20,
      flush_interval_seconds: 1,
      max_rejected_share: 1,
      dead_letter_path: deadLetterPath,
    });
  }

  it(`${RUNS} runs of ${RECORDS_PER_RUN} hostile records: each a row with its exact key or a clean rejection`, async () => {
    // Every run but the last draws from the fixed seed (the same cases each time, so a red run replays
    // as it was); the last draws from a fresh seed, to keep finding new inputs (FUZZ_SEED replays both).
    const fixed = fixedSeed("FUZZ_SEED", "fuzz records");
    const fresh = RUNS > 1 ? seedFromEnv("FUZZ_SEED", "fuzz records, last run") : fixed;
    const rngs = [createRng(fixed), createRng(fresh)];
    const seedOf = (run: number): number => (run === RUNS - 1 ? fresh : fixed);
    const seed = `${fixed}/${fresh}`;
    const reader = new WebApiReader(emu.connection);
    const codes = new Map<string, number>();
    const unusableKeyRejections: string[] = [];
    const examples = new Map<string, string>();
    try {
      for (let run = 0; run < RUNS; run += 1) {
        const deadLetterPath = join(files.dir, `dead-${run}.jsonl`);
        const rng = run === RUNS - 1 ? (rngs[1] as (typeof rngs)[number]) : (rngs[0] as (typeof rngs)[number]);
        const { lines, cases, states } = recordRun(rng, run, RECORDS_PER_RUN, 25);
        const result = await runConnector({
          args: ["write", "--config", config(`config-${run}.json`, deadLetterPath), "--catalog", catalog],
          input: lines,
          timeoutMs: RUN_TIMEOUT_MS,
        });
        const label = `seed ${seedOf(run)} run ${run} (replay with FUZZ_SEED=${seedOf(run)})`;
        expectNoCrash(result, label, emu.connection.client_secret);
        expect(traceErrorsIn(result.stdout).map((e) => e.message), `${label}: a record-level problem failed the whole run`).toEqual([]);
        expect(result.code, label).toBe(0);
        const emitted = statesIn(result.stdout);
        expect(emitted.map((s) => s.id), `${label}: states`).toEqual(Array.from({ length: states }, (_, i) => i + 1));
        const accounted = emitted.reduce((n, s) => n + (s.recordCount ?? 0) + (s.rejectedRecordCount ?? 0), 0);
        expect(accounted, `${label}: records counted in states`).toBe(RECORDS_PER_RUN);

        const letters = readDeadLetters(deadLetterPath);
        const rejectedMarkers = new Map<string, string>();
        for (const letter of letters) {
          expect(typeof letter.code === "string" && letter.code !== "", `${label}: dead letter without a code`).toBe(true);
          expect(typeof letter.message === "string" && letter.message !== "", `${label}: dead letter without a message`).toBe(true);
          const status = letter.raw["status"];
          const code = String(letter.code);
          codes.set(code, (codes.get(code) ?? 0) + 1);
          if (typeof status === "number") {
            expect(MALFORMED_REQUEST_CODES.has(code), `${label}: Dataverse called our request malformed (${status} ${code}): ${String(letter.message).slice(0, 200)}`).toBe(false);
          }
          const found = /QZ\d+\.\d+QZ/.exec(letter.text);
          // A lookup to an account that does not exist is a fair refusal, whatever the contact's key.
          const hasLookup = typeof letter.record === "object" && letter.record !== null && "account_number" in letter.record;
          if (found !== null) rejectedMarkers.set(found[0], typeof status === "number" && !hasLookup ? code : "");
          if (!examples.has(code)) examples.set(code, `${String(letter.field ?? "")} ${String(letter.message).slice(0, 160)}`);
        }
        expect(rejectedMarkers.size, `${label}: dead letters vs rejected counts`).toBeLessThanOrEqual(letters.length);
        const rejectedInStates = emitted.reduce((n, s) => n + (s.rejectedRecordCount ?? 0), 0);
        expect(letters.length, `${label}: dead-letter lines vs rejectedRecordCount`).toBe(rejectedInStates);

        // Accepted contacts carry their key exactly as sent, whatever characters it holds.
        const rows = await reader.rows("contacts", { select: ["emailaddress1"], filter: `contains(emailaddress1,${odataString(`QZ${run}.`)})` });
        const byMarker = new Map(rows.map((r) => [/QZ\d+\.\d+QZ/.exec(String(r["emailaddress1"]))?.[0] ?? "", String(r["emailaddress1"])]));
        const wrong: string[] = [];
        for (const c of cases as RecordCase[]) {
          if (c.expectedKey === undefined || c.stream !== FUZZ_STREAMS.contacts) continue;
          const rejectedBy = rejectedMarkers.get(c.marker);
          if (rejectedBy !== undefined) {
            // Refused by Dataverse (not by mapping) while its key holds a character Dataverse cannot
            // take in a key URL: the connector should have routed it another way (issue 4 item 1).
            // 0x80040278 (a control character, invalidcharactersinfield) refuses the value itself,
            // whatever the route, so it is a fair refusal.
            if (rejectedBy !== "" && rejectedBy !== "0x80040278" && URL_CHARS.some((ch) => "/<>*%&:\\?+".includes(ch) && c.expectedKey?.value.includes(ch))) {
              unusableKeyRejections.push(`${c.marker} ${rejectedBy}`);
            }
            continue;
          }
          const got = byMarker.get(c.marker);
          if (got !== c.expectedKey.value && got !== wellFormed(c.expectedKey.value)) wrong.push(`${c.marker}: ${got === undefined ? "missing" : "different key"}`);
        }
        expect(wrong.slice(0, 10), `${label}: accepted records whose row is missing or has another key`).toEqual([]);
      }
      expect(unusableKeyRejections.slice(0, 10), "keys with / < > * % & : \\ ? + must still land (issue 4 item 1)").toEqual([]);
    } finally {
      await reader.close();
      process.stderr.write(`[fuzz] seed ${seed} dead-letter codes ${JSON.stringify(Object.fromEntries(codes))}; ` +
        `contacts refused by Dataverse whose key has a URL-unusable character: ${JSON.stringify(unusableKeyRejections.slice(0, 10))}\n` +
        `[fuzz] an example per code: ${JSON.stringify(Object.fromEntries(examples))}\n`);
    }
  });

  // Bugs this suite found, each pinned by its smallest reproduction.
  describe("fixed bugs, pinned", () => {
    const cases: Array<{ name: string; bug: string; line: string; dead: Record<string, unknown> }> = [
      {
        name: "a lone surrogate in an alternate-key value",
        bug: FIXED_BUGS.loneSurrogate,
        line: recordLine(FUZZ_STREAMS.contacts, { emailaddress1: "a\ud800b@example.com" }),
        dead: { field: "/emailaddress1", code: "invalid_text" },
      },
      {
        name: "a lone surrogate in a lookup key value",
        bug: FIXED_BUGS.loneSurrogate,
        line: recordLine(FUZZ_STREAMS.contacts, { emailaddress1: "ls@example.com", account_number: "a\udc00" }),
        dead: { field: "/account_number", code: "invalid_text" },
      },
      {
        name: "a rejected record nested 20,000 deep",
        bug: FIXED_BUGS.deepRejected,
        dead: { code: "too_long", record: null, record_omitted: "too_deep_to_serialize" },
        line: `{"type":"RECORD","record":{"stream":"fz_contacts","emitted_at":1,"data":{"emailaddress1":"deep@example.com","firstname":"${"y".repeat(60)}","deep":${deepJson(20_000)}}}}`,
      },
    ];
    for (const c of cases) {
      it(`${c.name}: a rejection, not a failed run (${c.bug.split(":")[0]})`, async () => {
        const deadLetterPath = join(files.dir, `dead-pinned-${cases.indexOf(c)}.jsonl`);
        const result = await runConnector({
          args: ["write", "--config", config("config-pending.json", deadLetterPath), "--catalog", catalog],
          input: [c.line, streamStateLine(FUZZ_STREAMS.contacts, 1, 1)],
          timeoutMs: RUN_TIMEOUT_MS,
        });
        expectNoCrash(result, c.name, emu.connection.client_secret);
        expect(result.code, c.bug).toBe(0);
        expect(statesIn(result.stdout).map((s) => s.rejectedRecordCount)).toEqual([1]);
        const dead = readDeadLetters(deadLetterPath);
        expect(dead).toHaveLength(1);
        expect(dead[0]?.raw).toMatchObject({ stream: FUZZ_STREAMS.contacts, line: 1, ...c.dead });
      });
    }
  });

  describe("line cases", () => {
    const all = lineCases();
    const rng = createRng(fixedSeed("FUZZ_SEED", "fuzz lines"));
    // CI runs a seeded sample; the large version runs them all.
    const chosen = LINE_CASES >= all.length ? all : Array.from({ length: LINE_CASES }, () => rng.pick(all)).filter((c, i, a) => a.indexOf(c) === i);
    for (const c of chosen) {
      it(`${c.name}: accepted, or a clean TRACE naming line 3`, async () => {
        const deadLetterPath = join(files.dir, "dead-lines.jsonl");
        const good = (n: number): string => recordLine(FUZZ_STREAMS.contacts, { emailaddress1: `${markerOf(99, n)}@line.example`, firstname: "Good" });
        const input: Array<string | Buffer> = [good(1), streamStateLine(FUZZ_STREAMS.contacts, 1, 1), c.line, good(2), streamStateLine(FUZZ_STREAMS.contacts, 2, 2)];
        const result = await runConnector({
          args: ["write", "--config", config("config-lines.json", deadLetterPath), "--catalog", catalog],
          input,
          timeoutMs: RUN_TIMEOUT_MS,
        });
        expectNoCrash(result, c.name, emu.connection.client_secret);
        const ids = statesIn(result.stdout).map((s) => s.id);
        const errors = traceErrorsIn(result.stdout);
        if (result.code === 0) {
          expect(errors).toEqual([]);
          // Our two states, in order (a bad line may itself be a valid state without an id: echoed too).
          expect(ids.filter((id) => id !== undefined)).toEqual([1, 2]);
        } else {
          expect(errors, `${c.name}: exit ${String(result.code)} without one TRACE error`).toHaveLength(1);
          expect(errors[0]?.failureType).toBeDefined();
          expect(errors[0]?.message, `${c.name}: the TRACE should name the line`).toMatch(/\b3\b/);
          expect(ids.every((id) => id === 1), `${c.name}: a state after the bad line`).toBe(true);
        }
      });
    }
  });
});
