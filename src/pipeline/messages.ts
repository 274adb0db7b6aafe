// The input of a sync, whatever its protocol, as one kind of message: Airbyte's and Singer's
// lines are decoded here, and loop.ts routes the result without knowing which protocol it was.
import type { ResolvedStream } from "../config/catalog.js";
import { resolveSingerStream } from "../config/catalog.js";
import type { LoadedConfig } from "../config/load.js";
import { parseAirbyteMessage } from "../protocol/airbyte.js";
import type { JsonObject, LogLevel, StreamDescriptor, StreamStatus } from "../protocol/airbyte.js";
import { ProtocolError } from "../protocol/errors.js";
import { parseSingerMessage } from "../protocol/singer.js";
import type { HeldState } from "./ledger.js";

export type SyncMessage =
  | { readonly kind: "record"; readonly stream: StreamDescriptor; readonly data: JsonObject }
  | { readonly kind: "state"; readonly held: HeldState }
  | { readonly kind: "stream_status"; readonly stream: StreamDescriptor; readonly status: StreamStatus }
  /** A stream declared in the input (Singer's SCHEMA): set up on its first declaration, before its records. */
  | { readonly kind: "declare"; readonly stream: StreamDescriptor; readonly resolve: () => ResolvedStream }
  /** A message a destination does not act on; the loop logs `note` once per type. */
  | { readonly kind: "ignored"; readonly type: string; readonly level: LogLevel; readonly note: string };

/** A Singer RECORD without one of its stream's key_properties (the Meltano SDK's MissingKeyPropertiesError). */
export class MissingKeyPropertiesError extends ProtocolError {
  constructor(stream: string, line: number, missing: readonly string[], keys: readonly string[]) {
    super(
      "missing_key_properties",
      `RECORD is missing key propert${missing.length === 1 ? "y" : "ies"} ${missing.map((k) => JSON.stringify(k)).join(", ")} of its stream's SCHEMA key_properties (${keys.map((k) => JSON.stringify(k)).join(", ")}) (MissingKeyPropertiesError)`,
      { line, stream },
    );
  }
}

export interface InputProtocol {
  /** One non-blank line → one message; throws a ProtocolError naming the line when it is not one. */
  decode(text: string, line: number): SyncMessage;
}

/** Airbyte: streams come from the configured catalog, so nothing is declared in the input. */
export function airbyteInput(): InputProtocol {
  return {
    decode(text, line) {
      const msg = parseAirbyteMessage(text, line);
      switch (msg.kind) {
        case "record":
        case "stream_status":
          return msg;
        case "state":
          return { kind: "state", held: { protocol: "airbyte", state: msg.state } };
        case "ignored":
          return { kind: "ignored", type: msg.type, level: "DEBUG", note: `${msg.type} messages on the input are ignored by a destination` };
      }
    },
  };
}

/**
 * Singer: a SCHEMA declares its stream, whose table and key come from the configuration; a RECORD
 * before its stream's SCHEMA is an error. A repeated SCHEMA (taps resend it) keeps the first plan.
 */
export function singerInput(loaded: LoadedConfig): InputProtocol {
  /** Each declared stream's key_properties, from its latest SCHEMA. */
  const declared = new Map<string, readonly string[]>();
  return {
    decode(text, line) {
      const msg = parseSingerMessage(text, line);
      switch (msg.kind) {
        case "schema":
          declared.set(msg.stream, msg.keyProperties);
          return { kind: "declare", stream: { name: msg.stream }, resolve: () => resolveSingerStream(loaded, msg.stream, msg.keyProperties, line) };
        case "record": {
          const keys = declared.get(msg.stream);
          if (keys === undefined) throw new ProtocolError("record_before_schema", "RECORD before the SCHEMA of its stream", { line, stream: msg.stream });
          // As the Meltano SDK's sinks do (MissingKeyPropertiesError): a record without its key
          // properties fails the run, since no row can be matched for it.
          const missing = keys.filter((k) => !Object.hasOwn(msg.data, k));
          if (missing.length > 0) throw new MissingKeyPropertiesError(msg.stream, line, missing, keys);
          return { kind: "record", stream: { name: msg.stream }, data: msg.data };
        }
        case "state":
          return { kind: "state", held: { protocol: "singer", value: msg.value } };
        case "ignored":
          return {
            kind: "ignored",
            type: msg.type,
            level: "INFO",
            note:
              msg.type === "ACTIVATE_VERSION"
                ? `${msg.type} messages are ignored: table versions are not supported by this target`
                : `${msg.type} messages are not read by this target and are ignored`,
          };
      }
    },
  };
}
