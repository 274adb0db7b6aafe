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
  const declared = new Set<string>();
  return {
    decode(text, line) {
      const msg = parseSingerMessage(text, line);
      switch (msg.kind) {
        case "schema":
          declared.add(msg.stream);
          return { kind: "declare", stream: { name: msg.stream }, resolve: () => resolveSingerStream(loaded, msg.stream, msg.keyProperties, line) };
        case "record":
          if (!declared.has(msg.stream)) throw new ProtocolError("record_before_schema", "RECORD before the SCHEMA of its stream", { line, stream: msg.stream });
          return { kind: "record", stream: { name: msg.stream }, data: msg.data };
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
