// The only writer of stdout. Every line is one protocol message; writes wait for 'drain' so a
// slow reader of our output slows us down instead of filling memory. Secrets given at
// construction are scrubbed from every line as a last line of defence.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { DestinationOperation, ErrorTrace, JsonObject, LogLevel, OutputMessage, StreamDescriptor, StreamStatus } from "./airbyte.js";

export const REDACTED = "**********";

export class LineSink {
  readonly #out: Writable;
  readonly #secrets: string[];
  #failed: unknown;

  constructor(out: Writable, secrets: readonly string[] = []) {
    this.#out = out;
    // Very short strings would redact innocent text; real secrets are long.
    this.#secrets = secrets.filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
    out.on("error", (err: unknown) => {
      this.#failed = err;
    });
  }

  addSecret(secret: string): void {
    if (secret.length >= 6 && !this.#secrets.includes(secret)) {
      this.#secrets.push(secret);
      this.#secrets.sort((a, b) => b.length - a.length);
    }
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out;
  }

  async writeLine(text: string): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    const ok = this.#out.write(this.scrub(text) + "\n");
    if (!ok) await Promise.race([once(this.#out, "drain"), once(this.#out, "error")]);
    if (this.#failed !== undefined) throw this.#failed;
  }
}

/** What commands and the pipeline say; the protocol decides how it looks on stdout. */
export interface Output {
  readonly mode: "airbyte" | "singer";
  spec(spec: JsonObject): Promise<void>;
  connectionStatus(status: "SUCCEEDED" | "FAILED", message?: string): Promise<void>;
  /**
   * Airbyte: the STATE message's `state` object, plus any other top-level keys the received message
   * carried (`envelope`); Singer: the bare state value.
   */
  state(state: unknown, envelope?: JsonObject): Promise<void>;
  log(level: LogLevel, message: string): Promise<void>;
  error(error: ErrorTrace): Promise<void>;
  streamStatus(stream: StreamDescriptor, status: StreamStatus): Promise<void>;
  destinationCatalog(operations: readonly DestinationOperation[]): Promise<void>;
}

export interface Clock {
  now(): number;
}

/** Unguessable stand-ins for the counts while the line is serialised (see withDecimalCounts). */
const COUNT_TOKEN = `d365-count-${randomUUID()}`;
const COUNT_FIELDS = ["recordCount", "rejectedRecordCount"] as const;

/**
 * A STATE line with destinationStats' counts written as doubles: airbyte_protocol.yaml says they are
 * "defined as a double … the value should always have a decimal point for proper serialization", and
 * JSON.stringify writes 12 for 12.0. Only the top-level destinationStats is touched; the state's own
 * data keeps its JSON form whatever keys it uses.
 */
function stateLine(message: Record<string, unknown>, state: unknown): string {
  if (typeof state !== "object" || state === null || Array.isArray(state)) return JSON.stringify(message);
  const stats = (state as Record<string, unknown>)["destinationStats"];
  if (typeof stats !== "object" || stats === null || Array.isArray(stats)) return JSON.stringify(message);
  const marked: Record<string, unknown> = { ...(stats as Record<string, unknown>) };
  const counts: [string, number][] = [];
  for (const f of COUNT_FIELDS) {
    const v = marked[f];
    if (typeof v === "number" && Number.isSafeInteger(v)) {
      marked[f] = `${COUNT_TOKEN}-${f}`;
      counts.push([f, v]);
    }
  }
  let line = JSON.stringify({ ...message, state: { ...(state as Record<string, unknown>), destinationStats: marked } });
  for (const [f, v] of counts) line = line.replace(`"${COUNT_TOKEN}-${f}"`, `${v}.0`);
  return line;
}

export class AirbyteOutput implements Output {
  readonly mode = "airbyte";
  readonly #sink: LineSink;
  readonly #clock: Clock;

  constructor(sink: LineSink, clock: Clock) {
    this.#sink = sink;
    this.#clock = clock;
  }

  #send(message: OutputMessage): Promise<void> {
    return this.#sink.writeLine(JSON.stringify(message));
  }

  spec(spec: JsonObject): Promise<void> {
    return this.#send({ type: "SPEC", spec });
  }
  connectionStatus(status: "SUCCEEDED" | "FAILED", message?: string): Promise<void> {
    return this.#send({ type: "CONNECTION_STATUS", connectionStatus: message === undefined ? { status } : { status, message } });
  }
  state(state: unknown, envelope?: JsonObject): Promise<void> {
    return this.#sink.writeLine(stateLine({ ...envelope, type: "STATE", state: state as JsonObject }, state));
  }
  log(level: LogLevel, message: string): Promise<void> {
    return this.#send({ type: "LOG", log: { level, message } });
  }
  error(error: ErrorTrace): Promise<void> {
    return this.#send({ type: "TRACE", trace: { type: "ERROR", emitted_at: this.#clock.now(), error } });
  }
  streamStatus(stream: StreamDescriptor, status: StreamStatus): Promise<void> {
    return this.#send({
      type: "TRACE",
      trace: { type: "STREAM_STATUS", emitted_at: this.#clock.now(), stream_status: { stream_descriptor: stream, status } },
    });
  }
  destinationCatalog(operations: readonly DestinationOperation[]): Promise<void> {
    return this.#send({ type: "DESTINATION_CATALOG", destination_catalog: { operations } });
  }
}

/**
 * Singer targets print only bare state values on stdout (the caller keeps the last line);
 * everything else is for humans and goes to stderr.
 */
export class SingerOutput implements Output {
  readonly mode = "singer";
  readonly #stdout: LineSink;
  readonly #stderr: LineSink;

  constructor(stdout: LineSink, stderr: LineSink) {
    this.#stdout = stdout;
    this.#stderr = stderr;
  }

  spec(spec: JsonObject): Promise<void> {
    return this.#stdout.writeLine(JSON.stringify(spec));
  }
  connectionStatus(status: "SUCCEEDED" | "FAILED", message?: string): Promise<void> {
    return this.#stderr.writeLine(`${status}${message === undefined ? "" : `: ${message}`}`);
  }
  state(state: unknown): Promise<void> {
    return this.#stdout.writeLine(JSON.stringify(state));
  }
  log(level: LogLevel, message: string): Promise<void> {
    return this.#stderr.writeLine(`${level} ${message}`);
  }
  error(error: ErrorTrace): Promise<void> {
    return this.#stderr.writeLine(`FATAL ${error.failure_type}: ${error.message}`);
  }
  streamStatus(): Promise<void> {
    return Promise.resolve();
  }
  destinationCatalog(operations: readonly DestinationOperation[]): Promise<void> {
    return this.#stdout.writeLine(JSON.stringify({ operations }));
  }
}
