// What the bench's own loader processes (dwa-loader, raw-loader) take in and print out.
// The parent passes the emulator's connector config in an environment variable and reads one
// JSON result line from the loader's stdout.
import { parseArgs } from "node:util";
import { BenchError } from "./errors.js";

export interface EmulatorConnection {
  readonly web_api_endpoint: string;
  readonly authority_host: string;
  readonly tenant_id: string;
  readonly client_id: string;
  readonly client_secret: string;
}

export interface LoaderOptions {
  readonly connection: EmulatorConnection;
  readonly records: number;
  readonly batchSize: number;
  readonly concurrency: number;
  /** A resync: every this-many-th record changed since the initial load (generate.ts changedRow). */
  readonly changedEvery?: number;
}

export interface LoaderResult {
  readonly records: number;
  readonly failedRecords: number;
  readonly requests: number;
  /** Requests sent again after a connection error. */
  readonly retries: number;
  /** Seconds spent writing, from the first write request to the last answer (token excluded). */
  readonly writeSeconds: number;
  /** First failure's text, if any (status and Dataverse code only; never record values). */
  readonly firstError?: string;
}

export const CONNECTION_ENV = "BENCH_EMULATOR_CONNECTION";
export const RESULT_PREFIX = "BENCH_RESULT ";

function field(o: Record<string, unknown>, name: string): string {
  const v = o[name];
  if (typeof v !== "string" || v === "") throw new BenchError("BENCH_USAGE", `${CONNECTION_ENV}: missing string field ${name}`);
  return v;
}

export function parseConnection(json: string | undefined): EmulatorConnection {
  if (json === undefined) throw new BenchError("BENCH_USAGE", `${CONNECTION_ENV} is not set`);
  const parsed: unknown = JSON.parse(json);
  if (typeof parsed !== "object" || parsed === null) throw new BenchError("BENCH_USAGE", `${CONNECTION_ENV} is not a JSON object`);
  const o = parsed as Record<string, unknown>;
  return {
    web_api_endpoint: field(o, "web_api_endpoint"),
    authority_host: field(o, "authority_host"),
    tenant_id: field(o, "tenant_id"),
    client_id: field(o, "client_id"),
    client_secret: field(o, "client_secret"),
  };
}

function positiveInt(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new BenchError("BENCH_USAGE", `--${name} must be a positive integer`);
  return n;
}

export function parseLoaderOptions(argv: readonly string[], env: NodeJS.ProcessEnv, defaults: { batchSize: number; concurrency: number }): LoaderOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      records: { type: "string" },
      "batch-size": { type: "string" },
      concurrency: { type: "string" },
      "changed-every": { type: "string" },
    },
    strict: true,
  });
  return {
    connection: parseConnection(env[CONNECTION_ENV]),
    records: positiveInt(values.records, "records", 1000),
    batchSize: positiveInt(values["batch-size"], "batch-size", defaults.batchSize),
    concurrency: positiveInt(values.concurrency, "concurrency", defaults.concurrency),
    ...(values["changed-every"] === undefined ? {} : { changedEvery: positiveInt(values["changed-every"], "changed-every", 1) }),
  };
}

export function formatResult(result: LoaderResult): string {
  return RESULT_PREFIX + JSON.stringify(result);
}

export function parseResultLine(line: string): LoaderResult | undefined {
  if (!line.startsWith(RESULT_PREFIX)) return undefined;
  const parsed: unknown = JSON.parse(line.slice(RESULT_PREFIX.length));
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const o = parsed as Record<string, unknown>;
  const num = (k: string): number => (typeof o[k] === "number" ? (o[k] as number) : NaN);
  const result: LoaderResult = {
    records: num("records"),
    failedRecords: num("failedRecords"),
    requests: num("requests"),
    retries: num("retries"),
    writeSeconds: num("writeSeconds"),
    ...(typeof o["firstError"] === "string" ? { firstError: o["firstError"] } : {}),
  };
  return result;
}

/** Runs `work(chunkIndex)` for chunk indexes 0..chunks-1 with at most `concurrency` at once. */
export async function forEachChunk(chunks: number, concurrency: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chunks) {
      const index = next++;
      await work(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, chunks) }, worker));
}

/** The service root's origin: the resource whose `/.default` scope tokens are issued for. */
export function resourceOrigin(connection: EmulatorConnection): string {
  return new URL(connection.web_api_endpoint).origin;
}
