import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.js";
import { airbyteInput, singerInput } from "./messages.js";

const loaded = loadConfig({
  web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2/",
  tenant_id: "t",
  client_id: "c",
  client_secret: "s",
  streams: [{ name: "people", table: "contact" }],
});

describe("Airbyte lines as sync messages", () => {
  it("a RECORD keeps its stream descriptor and data; a STATE is held as an Airbyte state", () => {
    const input = airbyteInput();
    expect(input.decode(JSON.stringify({ type: "RECORD", record: { stream: "s", namespace: "n", data: { a: 1 }, emitted_at: 1 } }), 1)).toMatchObject({
      kind: "record",
      stream: { name: "s", namespace: "n" },
      data: { a: 1 },
    });
    const state = input.decode(JSON.stringify({ type: "STATE", state: { type: "STREAM", stream: { stream_descriptor: { name: "s" } } } }), 2);
    expect(state).toMatchObject({ kind: "state", held: { protocol: "airbyte", state: { stateType: "STREAM" } } });
  });

  it("a message a destination does not read is ignored at DEBUG, with a note naming its type", () => {
    expect(airbyteInput().decode(JSON.stringify({ type: "LOG", log: { level: "INFO", message: "x" } }), 1)).toEqual({
      kind: "ignored",
      type: "LOG",
      level: "DEBUG",
      note: "LOG messages on the input are ignored by a destination",
    });
  });
});

describe("Singer lines as sync messages", () => {
  it("a RECORD before its stream's SCHEMA is a record_before_schema error naming the line and stream", () => {
    const input = singerInput(loaded);
    expect(() => input.decode(JSON.stringify({ type: "RECORD", stream: "people", record: { a: 1 } }), 4)).toThrow(
      expect.objectContaining({ code: "record_before_schema", context: { line: 4, stream: "people" } }),
    );
  });

  it("a SCHEMA declares its stream, resolved from the configuration only when asked; its records follow", () => {
    const input = singerInput(loaded);
    const declared = input.decode(JSON.stringify({ type: "SCHEMA", stream: "people", schema: {}, key_properties: ["emailaddress1"] }), 1);
    expect(declared).toMatchObject({ kind: "declare", stream: { name: "people" } });
    if (declared.kind !== "declare") throw new Error("not a declaration");
    expect(declared.resolve()).toMatchObject({ stream: { name: "people" }, mapping: { table: "contact" } });
    expect(input.decode(JSON.stringify({ type: "RECORD", stream: "people", record: { emailaddress1: "a@x.org", a: 1 } }), 2)).toEqual({ kind: "record", stream: { name: "people" }, data: { emailaddress1: "a@x.org", a: 1 } });
    // Issue 14 item 14: a record without its key properties fails the run, as the Meltano SDK's sinks do.
    expect(() => input.decode(JSON.stringify({ type: "RECORD", stream: "people", record: { a: 1 } }), 4)).toThrow(
      expect.objectContaining({ name: "MissingKeyPropertiesError", code: "missing_key_properties", context: { line: 4, stream: "people" } }),
    );
    expect(input.decode(JSON.stringify({ type: "STATE", value: { b: 2 } }), 3)).toEqual({ kind: "state", held: { protocol: "singer", value: { b: 2 } } });
  });

  it("ACTIVATE_VERSION is ignored at INFO with its own reason", () => {
    expect(singerInput(loaded).decode(JSON.stringify({ type: "ACTIVATE_VERSION", stream: "people", version: 1 }), 1)).toMatchObject({
      kind: "ignored",
      level: "INFO",
      note: "ACTIVATE_VERSION messages are ignored: table versions are not supported by this target",
    });
  });
});
