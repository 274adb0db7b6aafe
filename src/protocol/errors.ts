// Typed errors shared by every layer that speaks the protocol. `failureType` is the Airbyte
// TRACE failure_type the error is reported with; `code` is stable for callers to branch on.

export type FailureType = "config_error" | "system_error" | "transient_error";

export interface ErrorContext {
  readonly line?: number;
  readonly stream?: string;
  /** The stream's namespace, for the TRACE's stream_descriptor (the platform matches on both). */
  readonly namespace?: string;
  readonly field?: string;
  /** Dataverse error code such as "0x80040217". */
  readonly dataverseCode?: string;
}

export class ConnectorError extends Error {
  readonly code: string;
  readonly failureType: FailureType;
  readonly context: ErrorContext;

  constructor(code: string, message: string, failureType: FailureType, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.failureType = failureType;
    this.context = context;
  }
}

/** What every ProtocolError's message ends with: whose input it was, and what to do. */
export const SOURCE_INPUT = "the source sent input this destination cannot take; fix the source (or report it to its maintainers), then rerun from the last state";

/**
 * Input that is not a valid message stream: malformed JSON, unknown type, a line too long… The
 * messages come from the platform and the source, not from the user's settings, so it is a
 * system_error (Airbyte's config_error is "caused by the user"): nothing in the config can fix it.
 * It is not a bug of this connector, and the message says so: the source sent it, at this line.
 */
export class ProtocolError extends ConnectorError {
  constructor(code: string, message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(code, `${message}; ${SOURCE_INPUT}`, "system_error", context, options);
  }
}

/**
 * A record for a stream the connector was not set up to write: not in Airbyte's configured
 * catalog, or (Singer) without an entry in the configuration's streams. Either way the user decides
 * which streams go where, so both modes report it as a config_error, naming the line.
 */
export class UnknownStreamError extends ConnectorError {
  constructor(code: string, message: string, context: ErrorContext) {
    super(code, message, "config_error", context);
  }
}

/** The context naming a stream by its descriptor, namespace included when it has one. */
export function streamContext(d: { readonly name: string; readonly namespace?: string }): { readonly stream: string; readonly namespace?: string } {
  return d.namespace !== undefined ? { stream: d.name, namespace: d.namespace } : { stream: d.name };
}

/** Prefixes a message with the context that locates it, never with a value. */
export function describeContext(context: ErrorContext): string {
  const parts: string[] = [];
  if (context.line !== undefined) parts.push(`line ${context.line}`);
  if (context.stream !== undefined) parts.push(`stream "${context.stream}"`);
  if (context.field !== undefined) parts.push(`field ${context.field}`);
  if (context.dataverseCode !== undefined && context.dataverseCode !== "") parts.push(`Dataverse code ${context.dataverseCode}`);
  return parts.join(", ");
}
