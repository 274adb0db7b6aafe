// Just enough of the Airbyte protocol to drive the connector and read what it says back.
import { isObject } from "./webapi.js";

export interface EmittedState {
  /** The platform's id we put on the input state; the connector must echo it. */
  readonly id: number | undefined;
  readonly recordCount: number | undefined;
  readonly rejectedRecordCount: number | undefined;
  readonly raw: Record<string, unknown>;
}

export interface TraceError {
  readonly message: string;
  readonly failureType: string | undefined;
  readonly internalMessage: string | undefined;
}

export function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function stateOf(message: Record<string, unknown>): EmittedState | undefined {
  if (message["type"] !== "STATE" || !isObject(message["state"])) return undefined;
  const state = message["state"];
  const stats = isObject(state["destinationStats"]) ? state["destinationStats"] : {};
  return {
    id: typeof state["id"] === "number" ? state["id"] : undefined,
    recordCount: typeof stats["recordCount"] === "number" ? stats["recordCount"] : undefined,
    rejectedRecordCount: typeof stats["rejectedRecordCount"] === "number" ? stats["rejectedRecordCount"] : undefined,
    raw: state,
  };
}

export function traceErrorOf(message: Record<string, unknown>): TraceError | undefined {
  if (message["type"] !== "TRACE" || !isObject(message["trace"])) return undefined;
  const trace = message["trace"];
  if (trace["type"] !== "ERROR" || !isObject(trace["error"])) return undefined;
  const error = trace["error"];
  return {
    message: typeof error["message"] === "string" ? error["message"] : "",
    failureType: typeof error["failure_type"] === "string" ? error["failure_type"] : undefined,
    internalMessage: typeof error["internal_message"] === "string" ? error["internal_message"] : undefined,
  };
}

export function statesIn(stdout: readonly string[]): EmittedState[] {
  const out: EmittedState[] = [];
  for (const line of stdout) {
    const message = parseLine(line);
    const state = message === undefined ? undefined : stateOf(message);
    if (state !== undefined) out.push(state);
  }
  return out;
}

export function traceErrorsIn(stdout: readonly string[]): TraceError[] {
  const out: TraceError[] = [];
  for (const line of stdout) {
    const message = parseLine(line);
    const trace = message === undefined ? undefined : traceErrorOf(message);
    if (trace !== undefined) out.push(trace);
  }
  return out;
}

/** Stdout lines that are not a JSON object with a known Airbyte message type. */
export function nonProtocolLines(stdout: readonly string[]): string[] {
  const types = new Set(["RECORD", "STATE", "LOG", "SPEC", "CONNECTION_STATUS", "CATALOG", "TRACE", "CONTROL", "DESTINATION_CATALOG"]);
  return stdout.filter((line) => {
    const message = parseLine(line);
    return message === undefined || typeof message["type"] !== "string" || !types.has(message["type"]);
  });
}

// ---- input messages -------------------------------------------------------------------------

export function recordLine(stream: string, data: Record<string, unknown>, emittedAt = 1_764_000_000_000): string {
  return JSON.stringify({ type: "RECORD", record: { stream, data, emitted_at: emittedAt } });
}

export function streamStateLine(stream: string, id: number, cursor: number): string {
  return JSON.stringify({
    type: "STATE",
    state: {
      type: "STREAM",
      stream: { stream_descriptor: { name: stream }, stream_state: { cursor } },
      sourceStats: { recordCount: 0 },
      id,
    },
  });
}

export interface CatalogStream {
  readonly name: string;
  readonly mode: "append" | "append_dedup" | "update" | "overwrite" | "soft_delete";
  readonly primaryKey?: readonly string[];
  readonly properties?: Readonly<Record<string, unknown>>;
}

export function configuredCatalog(streams: readonly CatalogStream[]): unknown {
  return {
    streams: streams.map((s) => ({
      stream: {
        name: s.name,
        json_schema: { type: "object", properties: s.properties ?? {} },
        supported_sync_modes: ["full_refresh", "incremental"],
      },
      sync_mode: "incremental",
      destination_sync_mode: s.mode,
      ...(s.primaryKey !== undefined ? { primary_key: s.primaryKey.map((k) => [k]) } : {}),
    })),
  };
}
