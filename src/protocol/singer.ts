// Singer spec v0.3 messages (plus the ACTIVATE_VERSION and BATCH extensions of the Meltano SDK).
import { ProtocolError } from "./errors.js";
import { exactRecordMessage, isJsonObject, parseJsonLine } from "./airbyte.js";
import type { JsonObject } from "./airbyte.js";

export type SingerMessage =
  | { readonly kind: "schema"; readonly stream: string; readonly schema: JsonObject; readonly keyProperties: readonly string[] }
  | { readonly kind: "record"; readonly stream: string; readonly data: JsonObject }
  | { readonly kind: "state"; readonly value: unknown }
  | { readonly kind: "ignored"; readonly type: string; readonly stream?: string };

export function parseSingerMessage(text: string, line: number): SingerMessage {
  const msg = parseJsonLine(text, line);
  if (!isJsonObject(msg)) throw new ProtocolError("invalid_message", "The line is not a JSON object", { line });
  const rawType = msg["type"];
  if (typeof rawType !== "string") throw new ProtocolError("invalid_message", "The message has no type", { line });
  // The Singer spec treats message types case-insensitively.
  const type = rawType.toUpperCase();
  const stream = msg["stream"];
  switch (type) {
    case "SCHEMA": {
      if (typeof stream !== "string") throw new ProtocolError("invalid_message", "SCHEMA has no stream name", { line });
      const schema = msg["schema"];
      if (!isJsonObject(schema)) throw new ProtocolError("invalid_message", "SCHEMA has no schema object", { line, stream });
      const keys = msg["key_properties"];
      if (keys !== undefined && (!Array.isArray(keys) || !keys.every((k): k is string => typeof k === "string"))) {
        throw new ProtocolError("invalid_message", "SCHEMA key_properties is not a list of strings", { line, stream });
      }
      return { kind: "schema", stream, schema, keyProperties: keys ?? [] };
    }
    case "RECORD": {
      if (typeof stream !== "string") throw new ProtocolError("invalid_message", "RECORD has no stream name", { line });
      const record = exactRecordMessage(text, msg, line)["record"];
      if (!isJsonObject(record)) throw new ProtocolError("non_object_data", "RECORD record is not a JSON object", { line, stream, field: "/record" });
      return { kind: "record", stream, data: record };
    }
    case "STATE":
      if (!("value" in msg)) throw new ProtocolError("invalid_message", "STATE has no value", { line });
      return { kind: "state", value: msg["value"] };
    case "ACTIVATE_VERSION":
      return typeof stream === "string" ? { kind: "ignored", type, stream } : { kind: "ignored", type };
    case "BATCH":
      throw new ProtocolError("unsupported_message_type", "BATCH messages are not supported; send RECORD messages", { line });
    default:
      // The Singer spec permits message types beyond its own; a target skips what it does not read.
      return typeof stream === "string" ? { kind: "ignored", type, stream } : { kind: "ignored", type };
  }
}
