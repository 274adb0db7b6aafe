// Hostile input for the connector, generated from a seed. Two kinds of case:
//  - record cases: a well-formed RECORD whose values are hostile (wrong types, huge strings and
//    numbers, deep nesting, NUL, invalid UTF-8, unicode and odd field names, and the characters that
//    mean something in OData URLs in every place a value can reach a URL: alternate-key values,
//    lookup key values, GUID fields). Many go through one connector run; each must end as a written
//    row or a clean rejection.
//  - line cases: a line that is not a valid message at all. Each ends its run, so each gets one.
import type { Rng } from "../reliability/prng.js";
import { recordLine, streamStateLine } from "../reliability/protocol.js";

/** Every character that means something in an OData URL, plus the ones Dataverse refuses in key URLs. */
export const URL_CHARS = ["'", "/", "#", "%", "&", "?", "+", "\\", "<", ">", "*", ":", "=", ";", ",", "@", "$", "(", ")", " "];

const PIECES = [
  ...URL_CHARS,
  "''",
  "%27",
  "%2F",
  "%25",
  "%%",
  "../",
  "?$filter=x",
  "#frag",
  "a+b",
  "O'Brien",
  "accounts(1)",
  "$batch",
  "--batch_",
  "--changeset_",
  "HTTP/1.1 200 OK",
  "\r\n",
  "\n",
  "\t",
  "\u0000",
  "\u0007",
  "\u001f",
  "\u007f",
  "\u00a0",
  "é",
  "ß",
  "İ",
  "日本語",
  "👩‍👩‍👧",
  "\u202e",
  "\u0301",
  "\ufeff",
  "\ufffd",
  "null",
  "undefined",
  "__proto__",
  "{}",
  "[]",
  '"',
  "\\u0000",
  "<script>",
  "'; DROP TABLE contact; --",
];

/** Half a surrogate pair (JSON "\\ud800"): not text, so a record holding one is rejected (invalid_text). */
const LONE_SURROGATES = ["\ud800", "\udfff", "a\udc00b"];

/** Bugs this suite found, fixed; each is pinned by its smallest reproduction in fuzz.test.ts. */
export const FIXED_BUGS = {
  loneSurrogate:
    "src/dataverse/keys.ts: encodeURIComponent threw URIError on a lone surrogate (JSON \\ud800) in an alternate-key or lookup key value and the whole run failed with system_error; now the mapping rejects it (invalid_text)",
  deepRejected:
    "src/pipeline/deadletter.ts: JSON.stringify of a rejected record nested ~20,000 deep threw RangeError and the whole run failed; now the dead letter carries record null and record_omitted",
} as const;

/** The first `n` code points (never half a surrogate pair that was whole before the cut). */
export function cut(s: string, n: number, fromEnd = false): string {
  const points = Array.from(s);
  return (fromEnd ? points.slice(-n) : points.slice(0, n)).join("");
}

export function hostileString(rng: Rng, maxPieces = 6): string {
  const pieces = [...PIECES, ...LONE_SURROGATES];
  let s = "";
  const n = rng.int(1, maxPieces);
  for (let i = 0; i < n; i += 1) s += rng.chance(0.2) ? String.fromCharCode(rng.int(0x20, 0x7e)) : rng.pick(pieces);
  return s;
}

function hostileNumber(rng: Rng): number {
  return rng.pick([
    0, -0, 1.5, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, -(2 ** 53) - 2, 1e308, -1e308, 5e-324, 1e21, 123456789012345.678, 0.1 + 0.2,
  ]);
}

/** A value of any JSON type, hostile where it can be. */
export function hostileValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(0, 9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return hostileNumber(rng);
    case 3:
      return depth > 2 ? "x" : { [hostileString(rng, 2)]: hostileValue(rng, depth + 1) };
    case 4:
      return depth > 2 ? [] : [hostileValue(rng, depth + 1), hostileValue(rng, depth + 1)];
    case 5:
      return "x".repeat(rng.pick([51, 101, 4_001, 100_001, 1_000_001]));
    case 6:
      return rng.pick(["", " ", "0", "1e999", "NaN", "Infinity", "-0", "0x1F", "1,5", "true", "2024-02-30", "1752-12-31", "9999-12-31T23:59:60Z"]);
    default:
      return hostileString(rng);
  }
}

/** Nested arrays `depth` deep, as JSON text (building it as a value would blow the stack of JSON.stringify). */
export function deepJson(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

export const FUZZ_STREAMS = {
  contacts: "fz_contacts",
  accounts: "fz_accounts",
  byId: "fz_contacts_by_id",
} as const;

/** The config `streams` entries the fuzz runs use. */
export function fuzzStreamConfigs(): Record<string, unknown>[] {
  return [
    {
      name: FUZZ_STREAMS.contacts,
      table: "contact",
      mode: "upsert",
      key: { columns: ["emailaddress1"] },
      fields: {
        account_number: { column: "parentcustomerid", lookup: { table: "account", by: "alternate_key", key_columns: ["accountnumber"] } },
      },
    },
    {
      name: FUZZ_STREAMS.accounts,
      table: "account",
      mode: "upsert",
      key: { columns: ["accountnumber"] },
      // A lookup by GUID: the value goes into a bind URL (/contacts(<guid>)).
      fields: { contact_id: { column: "primarycontactid", lookup: { table: "contact", by: "id" } } },
    },
    { name: FUZZ_STREAMS.byId, table: "contact", mode: "upsert", key: { id_field: "id" } },
  ];
}

export interface RecordCase {
  readonly stream: string;
  /** Marker embedded in the record, to find it again in the dead-letter file and the table. */
  readonly marker: string;
  readonly line: string | Buffer;
  /** For an accepted contacts/accounts record: the exact key value the row must carry. */
  readonly expectedKey?: { readonly entitySet: string; readonly column: string; readonly value: string };
}

/** A marker no hostile string can contain. */
export function markerOf(run: number, i: number): string {
  return `QZ${run}.${i}QZ`;
}

const GUIDS = [
  "00000000-0000-0000-0000-000000000000",
  "{6ba7b811-9dad-11d1-80b4-00c04fd430c8}",
  "6BA7B811-9DAD-11D1-80B4-00C04FD430C8",
  "6ba7b8119dad11d180b400c04fd430c8",
  "6ba7b811-9dad-11d1-80b4-00c04fd430c8')/contacts(",
  "6ba7b811-9dad-11d1-80b4-00c04fd430c8%27",
  " 6ba7b811-9dad-11d1-80b4-00c04fd430c8 ",
  "6ba7b811-9dad-11d1-80b4-00c04fd430c8?$select=x",
  "6ba7b811-9dad-11d1-80b4-00c04fd430c8#",
];

export function recordCase(rng: Rng, run: number, i: number): RecordCase {
  const marker = markerOf(run, i);
  const kind = rng.int(0, 9);
  if (kind <= 4) {
    // contact upsert by emailaddress1 (MaxLength 100): the key value is hostile.
    const prefix = cut(hostileString(rng, 5), 70);
    const email = rng.chance(0.05) ? `${prefix}${"k".repeat(101)}${marker}` : `${prefix}${marker}`;
    const data: Record<string, unknown> = { emailaddress1: email };
    if (rng.chance(0.6)) data["firstname"] = rng.chance(0.5) ? cut(hostileString(rng, 3), 50) : hostileValue(rng);
    if (rng.chance(0.3)) data["lastname"] = hostileValue(rng);
    if (rng.chance(0.3)) data["telephone1"] = hostileValue(rng);
    if (rng.chance(0.3)) data["birthdate"] = hostileValue(rng);
    if (rng.chance(0.3)) data["account_number"] = rng.chance(0.7) ? cut(hostileString(rng, 3), 20) : hostileValue(rng);
    if (rng.chance(0.2)) data[hostileString(rng, 2)] = hostileValue(rng);
    const deleted = rng.chance(0.05);
    if (deleted) data["_ab_cdc_deleted_at"] = hostileValue(rng);
    const deep = rng.chance(0.03) ? rng.pick([100, 2_000, 20_000]) : 0;
    let line: string | Buffer = recordLine(FUZZ_STREAMS.contacts, data);
    if (deep > 0) {
      // A deep value in an unknown field, in a record that is also rejected (too long firstname), so
      // the dead-letter writer has to serialise it.
      line = line.replace('"data":{', `"data":{"firstname":"${"y".repeat(60)}","deep":${deepJson(deep)},`);
    }
    const exact = email.length <= 100 && deep === 0 && !deleted;
    return {
      stream: FUZZ_STREAMS.contacts,
      marker,
      line,
      ...(exact ? { expectedKey: { entitySet: "contacts", column: "emailaddress1", value: email } } : {}),
    };
  }
  if (kind <= 7) {
    // account upsert by accountnumber (MaxLength 20): short hostile keys, hostile numbers.
    const accountnumber = cut(`${cut(hostileString(rng, 2), 8)}${marker}`, 20, true);
    const data: Record<string, unknown> = { accountnumber, name: rng.chance(0.7) ? `Fuzz ${marker}` : hostileValue(rng) };
    if (rng.chance(0.5)) data["numberofemployees"] = rng.chance(0.7) ? hostileNumber(rng) : hostileValue(rng);
    if (rng.chance(0.5)) data["revenue"] = rng.chance(0.7) ? hostileNumber(rng) : hostileValue(rng);
    if (rng.chance(0.3)) data["contact_id"] = rng.chance(0.6) ? rng.pick(GUIDS) : hostileValue(rng);
    const line = recordLine(FUZZ_STREAMS.accounts, data);
    // A key cut from the left may have lost part of the marker; only full markers are traced.
    return { stream: FUZZ_STREAMS.accounts, marker: accountnumber.includes(marker) ? marker : `${marker}-untraced`, line };
  }
  // contact by a GUID from a source field: hostile GUIDs must never reach a URL unchecked.
  const id = rng.chance(0.7) ? rng.pick(GUIDS) : hostileValue(rng);
  const line = recordLine(FUZZ_STREAMS.byId, { id, lastname: `ById ${marker}` });
  return { stream: FUZZ_STREAMS.byId, marker, line };
}

/** Record cases with, after every `stateEvery`, one state per stream (STREAM states count per stream). */
export function recordRun(rng: Rng, run: number, count: number, stateEvery: number): { lines: Array<string | Buffer>; cases: RecordCase[]; states: number } {
  const lines: Array<string | Buffer> = [];
  const cases: RecordCase[] = [];
  let states = 0;
  for (let i = 0; i < count; i += 1) {
    const c = recordCase(rng, run, i);
    cases.push(c);
    lines.push(c.line);
    if ((i + 1) % stateEvery === 0 || i === count - 1) {
      for (const stream of Object.values(FUZZ_STREAMS)) {
        states += 1;
        lines.push(streamStateLine(stream, states, i + 1));
      }
    }
  }
  return { lines, cases, states };
}

/** Lines that are not valid messages (or barely are). Each one gets its own run. */
export function lineCases(): Array<{ name: string; line: string | Buffer }> {
  const record = (data: unknown, stream: unknown = FUZZ_STREAMS.contacts, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ type: "RECORD", record: { stream, data, emitted_at: 1, ...extra } });
  return [
    { name: "truncated JSON", line: '{"type":"RECORD","record":{"stream":"fz_contacts"' },
    { name: "a lone brace", line: "{" },
    { name: "trailing garbage", line: `${record({ emailaddress1: "a@x" })} trailing` },
    { name: "two messages on one line", line: `${record({ emailaddress1: "a@x" })}${record({ emailaddress1: "b@x" })}` },
    { name: "JSON null", line: "null" },
    { name: "JSON array", line: "[]" },
    { name: "JSON string", line: '"RECORD"' },
    { name: "JSON number", line: "42" },
    { name: "no type", line: '{"record":{}}' },
    { name: "unknown type", line: '{"type":"WHAT"}' },
    { name: "type of the wrong type", line: '{"type":7}' },
    { name: "record null", line: '{"type":"RECORD","record":null}' },
    { name: "data not an object", line: record("not an object") },
    { name: "data an array", line: record([1, 2]) },
    { name: "data null", line: record(null) },
    { name: "stream not a string", line: record({}, { name: "x" }) },
    { name: "unknown stream", line: record({}, "no_such_stream") },
    { name: "stream with URL characters", line: record({}, "a/b?c#d%e'f") },
    { name: "emitted_at a string", line: JSON.stringify({ type: "RECORD", record: { stream: FUZZ_STREAMS.contacts, data: { emailaddress1: "e@x" }, emitted_at: "x" } }) },
    { name: "state a string", line: '{"type":"STATE","state":"x"}' },
    { name: "state without payload", line: '{"type":"STATE"}' },
    { name: "state of an unknown type", line: '{"type":"STATE","state":{"type":"WHAT"}}' },
    { name: "stream state without descriptor", line: '{"type":"STATE","state":{"type":"STREAM","stream":{}}}' },
    { name: "duplicate keys", line: '{"type":"RECORD","type":"STATE","state":{"type":"LEGACY","data":{}}}' },
    { name: "raw NUL byte", line: Buffer.from([0x7b, 0x00, 0x7d]) },
    { name: "raw NUL inside a string", line: Buffer.concat([Buffer.from('{"type":"RECORD","record":{"stream":"fz_contacts","data":{"emailaddress1":"a'), Buffer.from([0]), Buffer.from('b@x"},"emitted_at":1}}')]) },
    { name: "invalid UTF-8 outside strings", line: Buffer.from([0xff, 0xfe, 0xfd]) },
    {
      name: "invalid UTF-8 inside a string value",
      line: Buffer.concat([
        Buffer.from('{"type":"RECORD","record":{"stream":"fz_contacts","emitted_at":1,"data":{"emailaddress1":"u@x","firstname":"'),
        Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
        Buffer.from('"}}}'),
      ]),
    },
    { name: "UTF-16 BOM and text", line: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"type":"LOG"}', "utf16le")]) },
    { name: "UTF-8 BOM before a message", line: `\ufeff${record({ emailaddress1: "bom@x" })}` },
    { name: "empty line", line: "" },
    { name: "whitespace only", line: " \t " },
    { name: "deeply nested line", line: deepJson(200_000) },
    { name: "deeply nested data", line: `{"type":"RECORD","record":{"stream":"fz_contacts","emitted_at":1,"data":{"emailaddress1":"d@x","deep":${deepJson(200_000)}}}}` },
    { name: "huge number literal", line: record({ emailaddress1: "n@x", numberofemployees: 1 }).replace('"numberofemployees":1', `"numberofemployees":1${"0".repeat(400)}`) },
    { name: "a 4 MB string", line: record({ emailaddress1: "big@x", firstname: "b".repeat(4 << 20) }) },
    { name: "__proto__ in data", line: '{"type":"RECORD","record":{"stream":"fz_contacts","emitted_at":1,"data":{"emailaddress1":"p@x","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}}}' },
    { name: "record for a stream with a URL-character key", line: record({ "em'ail/addr#1": "x" }) },
    { name: "a CR in the middle of a line", line: `${record({ emailaddress1: "cr@x" }).slice(0, 20)}\r${record({ emailaddress1: "cr@x" }).slice(20)}` },
  ];
}
