import { describe, expect, it } from "vitest";
import { exactNumbersAsText, mayHoldInexactNumber } from "./exact-numbers.js";
import { parseAirbyteMessage } from "./airbyte.js";
import { parseSingerMessage } from "./singer.js";

describe("number literals a double cannot hold", () => {
  it.each([
    ['{"a":12345678901234567890}', '{"a":"12345678901234567890"}'],
    ['{"a":-12345678901234567891,"b":1}', '{"a":"-12345678901234567891","b":1}'],
    ['{"a":9007199254740993}', '{"a":"9007199254740993"}'],
    ['{"a":1.00000000000000000001}', '{"a":"1.00000000000000000001"}'],
    ['{"a":1.2345678901234567891e25}', '{"a":"12345678901234567891000000"}'],
    ['[123456789012345678901234, 5]', '["123456789012345678901234", 5]'],
  ])("%s becomes %s", (line, exact) => {
    expect(exactNumbersAsText(line)).toBe(exact);
  });

  it.each([
    '{"a":9007199254740992}', // 2^53, which a double holds
    '{"a":0.30000000000000004}', // 17 digits, the double's own shortest text
    '{"a":1e21,"b":100000000000000000000}',
    '{"a":"12345678901234567890"}', // already text
    '{"a\\"12345678901234567890":1}', // inside a string with an escaped quote
    '{"a":123456789012345}',
  ])("%s is left as it is", (line) => {
    expect(exactNumbersAsText(line)).toBe(line);
  });

  it("only lines with 16 digits or dots in a row are read again", () => {
    expect(mayHoldInexactNumber('{"a":123456789012345,"b":"2024-01-01T00:00:00.000Z"}')).toBe(false);
    expect(mayHoldInexactNumber('{"a":1234567890123456}')).toBe(true);
  });
});

describe("records keep the exact digits of integers beyond 2^53", () => {
  it("Airbyte RECORD data; a STATE is read as JSON.parse reads it", () => {
    const rec = parseAirbyteMessage('{"type":"RECORD","record":{"stream":"s","data":{"n":12345678901234567891,"m":7},"emitted_at":1}}', 1);
    expect(rec).toMatchObject({ kind: "record", data: { n: "12345678901234567891", m: 7 } });
    const state = parseAirbyteMessage('{"type":"STATE","state":{"type":"LEGACY","data":{"c":12345678901234567891}}}', 2);
    expect(state).toMatchObject({ kind: "state" });
  });
  it("Singer RECORD record", () => {
    expect(parseSingerMessage('{"type":"RECORD","stream":"s","record":{"id":12345678901234567890}}', 1)).toEqual({ kind: "record", stream: "s", data: { id: "12345678901234567890" } });
  });
});
