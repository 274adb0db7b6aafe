// Airbyte protocol v0 messages, in the shapes this destination reads and writes.
// Field names mix cases exactly as the protocol YAML does (connectionStatus, destination_catalog).
import { exactNumbersAsText, mayHoldInexactNumber } from "./exact-numbers.js";
import { ProtocolError, streamContext } from "./errors.js";
import { countJsonValues, MAX_VALUES_PER_LINE } from "./json-budget.js";
import type { FailureType } from "./errors.js";

export type JsonObject = { [key: string]: unknown };

export interface StreamDescriptor {
  readonly name: string;
  readonly namespace?: string;
}

export type StateType = "STREAM" | "GLOBAL" | "LEGACY";

/** A STATE as received, kept whole so that unknown fields (the platform's `id`) survive the echo. */
export interface InputState {
  readonly stateType: StateType;
  /** STREAM: its descriptor; GLOBAL: the descriptors of its stream_states; LEGACY: none. */
  readonly streams: readonly StreamDescriptor[];
  /** The `state` object exactly as parsed. */
  readonly raw: JsonObject;
  /** Keys of the enclosing message other than `type` and `state`, echoed too (absent when none). */
  readonly envelope?: JsonObject;
}

export type StreamStatus = "STARTED" | "RUNNING" | "COMPLETE" | "INCOMPLETE";

export type InputMessage =
  | { readonly kind: "record"; readonly stream: StreamDescriptor; readonly data: JsonObject; readonly emittedAt?: number }
  | { readonly kind: "state"; readonly state: InputState }
  | { readonly kind: "stream_status"; readonly stream: StreamDescriptor; readonly status: StreamStatus }
  /** A known message type a destination has no use for (LOG, ESTIMATE, CONTROL…). */
  | { readonly kind: "ignored"; readonly type: string };

export type LogLevel = "FATAL" | "ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE";

export type DestinationSyncMode = "append" | "overwrite" | "append_dedup" | "update" | "soft_delete";

export interface ErrorTrace {
  readonly message: string;
  readonly internal_message?: string;
  readonly stack_trace?: string;
  readonly failure_type: FailureType;
  readonly stream_descriptor?: StreamDescriptor;
}

export interface DestinationOperation {
  readonly object_name: string;
  readonly sync_mode: DestinationSyncMode;
  readonly json_schema: JsonObject;
  readonly matching_keys?: readonly (readonly string[])[];
}

export type OutputMessage =
  | { readonly type: "SPEC"; readonly spec: JsonObject }
  | { readonly type: "CONNECTION_STATUS"; readonly connectionStatus: { readonly status: "SUCCEEDED" | "FAILED"; readonly message?: string } }
  | { readonly type: "STATE"; readonly state: JsonObject }
  | { readonly type: "LOG"; readonly log: { readonly level: LogLevel; readonly message: string; readonly stack_trace?: string } }
  | { readonly type: "TRACE"; readonly trace: { readonly type: "ERROR"; readonly emitted_at: number; readonly error: ErrorTrace } }
  | {
      readonly type: "TRACE";
      readonly trace: {
        readonly type: "STREAM_STATUS";
        readonly emitted_at: number;
        readonly stream_status: { readonly stream_descriptor: StreamDescriptor; readonly status: StreamStatus };
      };
    }
  | { readonly type: "DESTINATION_CATALOG"; readonly destination_catalog: { readonly operations: readonly DestinationOperation[] } };

const KNOWN_TYPES = new Set(["RECORD", "STATE", "LOG", "SPEC", "CONNECTION_STATUS", "CATALOG", "TRACE", "CONTROL", "DESTINATION_CATALOG"]);

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseJsonLine(text: string, line: number): unknown {
  if (countJsonValues(text) > MAX_VALUES_PER_LINE) {
    throw new ProtocolError(
      "line_too_complex",
      `The line holds more than ${MAX_VALUES_PER_LINE.toLocaleString("en-US")} JSON values (objects, arrays and their elements), more than one message may carry within the connector's memory`,
      { line },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new ProtocolError("malformed_json", "The line is not valid JSON", { line }, { cause });
  }
}

/**
 * A RECORD message read again with every number a double cannot hold as its exact decimal text
 * (exact-numbers.ts) when its line may hold one; otherwise the message as JSON.parse read it.
 */
export function exactRecordMessage(text: string, msg: JsonObject, line: number): JsonObject {
  if (!mayHoldInexactNumber(text)) return msg;
  const exact = exactNumbersAsText(text);
  if (exact === text) return msg;
  const again = parseJsonLine(exact, line);
  return isJsonObject(again) ? again : msg;
}

function descriptor(value: unknown, line: number, where: string): StreamDescriptor {
  if (!isJsonObject(value) || typeof value["name"] !== "string") {
    throw new ProtocolError("invalid_message", `${where} has no stream name`, { line });
  }
  const ns = value["namespace"];
  return typeof ns === "string" ? { name: value["name"], namespace: ns } : { name: value["name"] };
}

/**
 * Decides what one stdin line means. Message types outside the protocol's enum are an error
 * (a sender speaking another protocol would otherwise lose data silently); known types a
 * destination does not consume (LOG, CONTROL, TRACE other than STREAM_STATUS, …) are ignored.
 */
export function parseAirbyteMessage(text: string, line: number): InputMessage {
  const msg = parseJsonLine(text, line);
  if (!isJsonObject(msg)) throw new ProtocolError("invalid_message", "The line is not a JSON object", { line });
  const type = msg["type"];
  if (typeof type !== "string") throw new ProtocolError("invalid_message", "The message has no type", { line });
  if (!KNOWN_TYPES.has(type)) throw new ProtocolError("unknown_message_type", "The message type is not an Airbyte message type", { line });
  switch (type) {
    case "RECORD": {
      const record = exactRecordMessage(text, msg, line)["record"];
      if (!isJsonObject(record)) throw new ProtocolError("invalid_message", "RECORD has no record object", { line });
      if (typeof record["stream"] !== "string") throw new ProtocolError("invalid_message", "RECORD has no stream name", { line });
      const stream: StreamDescriptor =
        typeof record["namespace"] === "string" ? { name: record["stream"], namespace: record["namespace"] } : { name: record["stream"] };
      const data = record["data"];
      if (!isJsonObject(data)) {
        throw new ProtocolError("non_object_data", "RECORD data is not a JSON object", { line, ...streamContext(stream), field: "/data" });
      }
      const emittedAt = record["emitted_at"];
      return typeof emittedAt === "number" ? { kind: "record", stream, data, emittedAt } : { kind: "record", stream, data };
    }
    case "STATE": {
      const state = msg["state"];
      if (!isJsonObject(state)) throw new ProtocolError("invalid_message", "STATE has no state object", { line });
      const parsed = parseState(state, line);
      // Whatever else the message carries is not ours to drop: echo it beside the state.
      const { type: _type, state: _state, ...envelope } = msg;
      return { kind: "state", state: Object.keys(envelope).length > 0 ? { ...parsed, envelope } : parsed };
    }
    case "TRACE": {
      const trace = msg["trace"];
      if (isJsonObject(trace) && trace["type"] === "STREAM_STATUS") {
        const ss = trace["stream_status"];
        if (!isJsonObject(ss)) throw new ProtocolError("invalid_message", "STREAM_STATUS has no stream_status", { line });
        const status = ss["status"];
        if (status !== "STARTED" && status !== "RUNNING" && status !== "COMPLETE" && status !== "INCOMPLETE") {
          throw new ProtocolError("invalid_message", "STREAM_STATUS has an unknown status", { line });
        }
        return { kind: "stream_status", stream: descriptor(ss["stream_descriptor"], line, "STREAM_STATUS"), status };
      }
      return { kind: "ignored", type: "TRACE" };
    }
    default:
      return { kind: "ignored", type };
  }
}

function parseState(state: JsonObject, line: number): InputState {
  const t = state["type"];
  if (t === "STREAM") {
    const s = state["stream"];
    if (!isJsonObject(s)) throw new ProtocolError("invalid_message", "STREAM state has no stream", { line });
    return { stateType: "STREAM", streams: [descriptor(s["stream_descriptor"], line, "STREAM state")], raw: state };
  }
  if (t === "GLOBAL") {
    const g = state["global"];
    if (!isJsonObject(g)) throw new ProtocolError("invalid_message", "GLOBAL state has no global object", { line });
    // Airbyte's own exchange_rate test fixture sends a GLOBAL state with shared_state only. It is a
    // state like any other (a GLOBAL state is ordered against every stream anyway), so it is echoed;
    // the echo carries the empty stream_states list that airbyte_protocol.yaml requires, which says
    // the same thing.
    const list = g["stream_states"] ?? [];
    if (!Array.isArray(list)) throw new ProtocolError("invalid_message", "GLOBAL state's stream_states is not a list", { line });
    const streams = list.map((s: unknown) =>
      descriptor(isJsonObject(s) ? s["stream_descriptor"] : undefined, line, "GLOBAL stream state"),
    );
    const raw = "stream_states" in g ? state : { ...state, global: { ...g, stream_states: [] } };
    return { stateType: "GLOBAL", streams, raw };
  }
  if (t === undefined || t === "LEGACY") return { stateType: "LEGACY", streams: [], raw: state };
  throw new ProtocolError("invalid_message", "STATE has an unknown state type", { line });
}

/** The echo of a received state: the original object with destinationStats set, every other key kept. */
export function stateWithStats(raw: JsonObject, recordCount: number, rejectedRecordCount: number): JsonObject {
  const previous = isJsonObject(raw["destinationStats"]) ? raw["destinationStats"] : {};
  const stats: JsonObject = { ...previous, recordCount };
  if (rejectedRecordCount > 0) stats["rejectedRecordCount"] = rejectedRecordCount;
  else delete stats["rejectedRecordCount"];
  return { ...raw, destinationStats: stats };
}

/**
 * A state that stands for several (the latest of a run of states coalesced while they waited): the
 * newer state whole, with the source's counts of both added up, so that its sourceStats still
 * match the records it reports.
 */
export function mergeSourceStats(older: JsonObject, newer: JsonObject): JsonObject {
  const a = older["sourceStats"];
  const b = newer["sourceStats"];
  if (!isJsonObject(a) && !isJsonObject(b)) return newer;
  const sum: JsonObject = { ...(isJsonObject(a) ? a : {}), ...(isJsonObject(b) ? b : {}) };
  for (const field of ["recordCount", "rejectedRecordCount"]) {
    const x = isJsonObject(a) ? a[field] : undefined;
    const y = isJsonObject(b) ? b[field] : undefined;
    if (typeof x === "number" || typeof y === "number") sum[field] = (typeof x === "number" ? x : 0) + (typeof y === "number" ? y : 0);
  }
  return { ...newer, sourceStats: sum };
}

export function streamKey(d: StreamDescriptor): string {
  return d.namespace === undefined ? d.name : `${d.namespace}.${d.name}`;
}
