import { describe, expect, it } from "vitest";
import { parseAirbyteMessage, stateWithStats } from "./airbyte.js";
import { parseSingerMessage } from "./singer.js";

describe("parseAirbyteMessage", () => {
  it("reads a record with namespace", () => {
    expect(parseAirbyteMessage('{"type":"RECORD","record":{"stream":"c","namespace":"n","data":{"a":1},"emitted_at":5}}', 3)).toEqual({
      kind: "record",
      stream: { name: "c", namespace: "n" },
      data: { a: 1 },
      emittedAt: 5,
    });
  });
  it.each([
    ["{not json", "malformed_json"],
    ["[1]", "invalid_message"],
    ['{"type":"BOGUS"}', "unknown_message_type"],
    ['{"type":"RECORD","record":{"stream":"c","data":[1]}}', "non_object_data"],
    ['{"type":"RECORD","record":{"stream":"c","data":"x"}}', "non_object_data"],
    ['{"type":"STATE","state":{"type":"STREAM"}}', "invalid_message"],
  ])("rejects %s with %s naming the line", (text, code) => {
    expect(() => parseAirbyteMessage(text, 7)).toThrow(expect.objectContaining({ code, context: expect.objectContaining({ line: 7 }) }));
  });
  it("never quotes the input in its message", () => {
    let thrown: unknown;
    try {
      parseAirbyteMessage('{"secretvalue', 1);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).toMatchObject({ code: "malformed_json" });
    expect(String((thrown as Error).message)).not.toContain("secretvalue");
  });
  it("ignores known message types a destination does not consume", () => {
    expect(parseAirbyteMessage('{"type":"LOG","log":{"level":"INFO","message":"x"}}', 1)).toEqual({ kind: "ignored", type: "LOG" });
    expect(parseAirbyteMessage('{"type":"TRACE","trace":{"type":"ESTIMATE"}}', 1)).toEqual({ kind: "ignored", type: "TRACE" });
  });
  it("reads stream status and state kinds", () => {
    expect(
      parseAirbyteMessage('{"type":"TRACE","trace":{"type":"STREAM_STATUS","emitted_at":1,"stream_status":{"stream_descriptor":{"name":"a"},"status":"COMPLETE"}}}', 1),
    ).toEqual({ kind: "stream_status", stream: { name: "a" }, status: "COMPLETE" });
    const g = parseAirbyteMessage('{"type":"STATE","state":{"type":"GLOBAL","global":{"stream_states":[{"stream_descriptor":{"name":"a"}},{"stream_descriptor":{"name":"b","namespace":"n"}}]}}}', 1);
    expect(g).toMatchObject({ kind: "state", state: { stateType: "GLOBAL", streams: [{ name: "a" }, { name: "b", namespace: "n" }] } });
    expect(parseAirbyteMessage('{"type":"STATE","state":{"data":{"x":1}}}', 1)).toMatchObject({ state: { stateType: "LEGACY" } });
  });
  it("a GLOBAL state with shared_state only (no stream_states, as Airbyte's exchange_rate fixture sends) is a state to echo, not an error", () => {
    const text = '{"type":"STATE","state":{"type":"GLOBAL","global":{"shared_state":{"cursor":"2024-01-01"}},"sourceStats":{"recordCount":3.0}}}';
    const g = parseAirbyteMessage(text, 1);
    expect(g).toMatchObject({ kind: "state", state: { stateType: "GLOBAL", streams: [] } });
    const raw = g.kind === "state" ? g.state.raw : {};
    // The echo adds the empty stream_states that airbyte_protocol.yaml requires of a GLOBAL state.
    expect(stateWithStats(raw, 3, 0)).toEqual({ type: "GLOBAL", global: { shared_state: { cursor: "2024-01-01" }, stream_states: [] }, sourceStats: { recordCount: 3 }, destinationStats: { recordCount: 3 } });
    expect(() => parseAirbyteMessage('{"type":"STATE","state":{"type":"GLOBAL","global":{"stream_states":{}}}}', 1)).toThrow(/stream_states/);
  });
});

describe("state envelope", () => {
  it("keeps keys beside `state` on the message so they can be echoed, and adds none when there are none", () => {
    const withId = parseAirbyteMessage('{"type":"STATE","id":9,"trace_ctx":{"a":1},"state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"c"}}}}', 1);
    expect(withId).toMatchObject({ kind: "state", state: { envelope: { id: 9, trace_ctx: { a: 1 } } } });
    const plain = parseAirbyteMessage('{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"c"}}}}', 1);
    expect(plain.kind === "state" ? plain.state.envelope : "not a state").toBeUndefined();
  });
});

describe("stateWithStats", () => {
  it("keeps unknown fields such as id and sets counts, rejected only when positive", () => {
    const raw = { type: "STREAM", id: 17, stream: { stream_descriptor: { name: "c" } }, sourceStats: { recordCount: 3 }, extra: { z: 1 } };
    expect(stateWithStats(raw, 3, 0)).toEqual({ ...raw, destinationStats: { recordCount: 3 } });
    expect(stateWithStats(raw, 2, 1)).toEqual({ ...raw, destinationStats: { recordCount: 2, rejectedRecordCount: 1 } });
  });
});

describe("parseSingerMessage", () => {
  it("reads schema, record, state case-insensitively and ignores ACTIVATE_VERSION", () => {
    expect(parseSingerMessage('{"type":"schema","stream":"s","schema":{},"key_properties":["id"]}', 1)).toEqual({
      kind: "schema",
      stream: "s",
      schema: {},
      keyProperties: ["id"],
    });
    expect(parseSingerMessage('{"type":"RECORD","stream":"s","record":{"id":1}}', 1)).toEqual({ kind: "record", stream: "s", data: { id: 1 } });
    expect(parseSingerMessage('{"type":"STATE","value":{"b":1}}', 1)).toEqual({ kind: "state", value: { b: 1 } });
    expect(parseSingerMessage('{"type":"ACTIVATE_VERSION","stream":"s","version":1}', 1)).toMatchObject({ kind: "ignored" });
  });
  it("rejects unknown types and non-object records with the line", () => {
    // The Singer spec permits other message types: they are skipped, not an error.
    expect(parseSingerMessage('{"type":"NOPE","stream":"s"}', 4)).toEqual({ kind: "ignored", type: "NOPE", stream: "s" });
    expect(() => parseSingerMessage('{"type":"RECORD","stream":"s","record":5}', 4)).toThrow(expect.objectContaining({ code: "non_object_data" }));
  });
});
