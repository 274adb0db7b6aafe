// The benchmark scenarios. Each one starts a fresh in-process emulator (so row counts and stats
// belong to that scenario alone), runs the measured client as a child process, and returns a
// ScenarioResult. The emulator runs in this process; every client runs in its own, so on a
// 2-core machine the emulator and the client under test each get a core.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startEmulator } from "../emulator/index.js";
import type { Emulator, Environment, EmulatorStats, LimitsConfig, StartEmulatorOptions } from "../emulator/index.js";
import { defaultEnvironment } from "../emulator/environment.js";
import type { AppRegistration } from "../emulator/types.js";
import { runMeasured } from "./child.js";
import type { ChildRun } from "./child.js";
import { BENCH_KEY_COLUMN, BENCH_STREAM, BENCH_TABLE, contactRow } from "./generate.js";
import { HttpCounter } from "./http-counter.js";
import type { HttpCounts } from "./http-counter.js";
import { CONNECTION_ENV, parseResultLine } from "./loader-io.js";
import type { LoaderResult } from "./loader-io.js";
import type { ScenarioResult } from "./report.js";
import { sentCeiling, steadyStateCeiling } from "./theory.js";
import type { LimitParams, RunCost, SentCeiling, SteadyState } from "./theory.js";

/** Same flags as the `#!` line of src/main.ts and `NODE_OPTIONS` in the Dockerfile (a packaging test checks). */
export const CONNECTOR_HEAP_FLAGS = ["--max-old-space-size=512", "--max-semi-space-size=8"] as const;

/** Same environment as the `#!` line of src/main.ts and the Dockerfile's `ENV GLIBC_TUNABLES` (a packaging test checks). */
export const CONNECTOR_ENV: Readonly<Record<string, string>> = { GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=131072" };

export interface BenchPaths {
  /** Repository root (holds package.json and dist/). */
  readonly root: string;
  /** Scratch directory for configs and generated input. */
  readonly work: string;
}

export function distPath(paths: BenchPaths, ...parts: string[]): string {
  return join(paths.root, "dist", ...parts);
}

function preload(paths: BenchPaths): string {
  return distPath(paths, "bench", "usage-preload.js");
}

/** Emulator options the bench always sets: no log noise on the bench's stderr. */
async function freshEmulator(options: StartEmulatorOptions): Promise<Emulator> {
  return startEmulator({ port: 0, quiet: true, ...options });
}

function rowsIn(emulator: Emulator, table: string): number | undefined {
  const service: unknown = emulator.service;
  if (typeof service === "object" && service !== null && "rowCount" in service && typeof service.rowCount === "function") {
    const n: unknown = service.rowCount(table);
    return typeof n === "number" ? n : undefined;
  }
  return undefined;
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 300);
}

function failure(child: ChildRun): string {
  if (child.signal === "timeout") return "timed out";
  return `exit ${child.exitCode ?? child.signal ?? "?"}: ${lastLine(child.stderrTail)}`;
}

// ---------------------------------------------------------------------------------------------
// The connector.

export interface ConnectorRunOptions {
  readonly inputFile: string;
  readonly records: number;
  readonly states: number;
  readonly batchSize: number;
  /** Connector's max_concurrency; undefined leaves the spec default. */
  readonly maxConcurrency?: number;
  readonly timeoutSeconds: number;
  /** More connector settings (bypass_business_logic, say). */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
}

export interface ConnectorOutput {
  states: number;
  recordCount: number;
  rejectedRecordCount: number;
  traceErrors: string[];
  /** The connector's LOG messages (last ones kept). */
  logs: string[];
  /** Lines that are not JSON: a protocol violation worth reporting. */
  nonJson: number;
}

function parseConnectorLine(out: ConnectorOutput, line: string): void {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    out.nonJson++;
    return;
  }
  if (typeof message !== "object" || message === null) return;
  const m = message as Record<string, unknown>;
  if (m["type"] === "STATE") {
    out.states++;
    const state = m["state"];
    const stats = typeof state === "object" && state !== null ? (state as Record<string, unknown>)["destinationStats"] : undefined;
    if (typeof stats === "object" && stats !== null) {
      const s = stats as Record<string, unknown>;
      if (typeof s["recordCount"] === "number") out.recordCount += s["recordCount"];
      if (typeof s["rejectedRecordCount"] === "number") out.rejectedRecordCount += s["rejectedRecordCount"];
    }
  } else if (m["type"] === "TRACE") {
    const trace = m["trace"] as Record<string, unknown> | undefined;
    const error = trace?.["error"] as Record<string, unknown> | undefined;
    if (typeof error?.["message"] === "string") out.traceErrors.push(error["message"]);
  } else if (m["type"] === "LOG") {
    const log = m["log"] as Record<string, unknown> | undefined;
    if (typeof log?.["message"] === "string") {
      out.logs.push(log["message"]);
      if (out.logs.length > 20) out.logs.shift();
    }
  }
}

/**
 * The connector's own count of retries, summed over its summary LOG lines ("… retried 3, …",
 * one per stream), or undefined when no line reports one.
 */
export function retriesFromLogs(logs: readonly string[]): number | undefined {
  let total: number | undefined;
  for (const line of logs) {
    const match = /\bretri(?:ed|es)\b\s*[:=]?\s*(\d+)/i.exec(line);
    if (match?.[1] !== undefined) total = (total ?? 0) + Number(match[1]);
  }
  return total;
}

export function connectorConfig(
  emulator: Emulator,
  extraUsers: readonly { clientId: string; clientSecret: string }[],
  options: { batchSize: number; maxConcurrency?: number },
): Record<string, unknown> {
  return {
    ...emulator.config,
    allow_custom_authority_host: true,
    ...(extraUsers.length > 0
      ? { additional_app_users: extraUsers.map((u) => ({ client_id: u.clientId, client_secret: u.clientSecret })) }
      : {}),
    streams: [{ name: BENCH_STREAM, table: BENCH_TABLE, mode: "upsert", key: { columns: [BENCH_KEY_COLUMN] } }],
    batch_size: options.batchSize,
    use_bulk_actions: true,
    ...(options.maxConcurrency === undefined ? {} : { max_concurrency: options.maxConcurrency }),
  };
}

export function benchCatalog(): Record<string, unknown> {
  const str = { type: ["null", "string"] };
  return {
    streams: [
      {
        stream: {
          name: BENCH_STREAM,
          json_schema: {
            type: "object",
            properties: { emailaddress1: str, firstname: str, lastname: str, jobtitle: str, telephone1: str },
          },
          supported_sync_modes: ["full_refresh", "incremental"],
        },
        sync_mode: "full_refresh",
        destination_sync_mode: "append_dedup",
        primary_key: [[BENCH_KEY_COLUMN]],
      },
    ],
  };
}

export interface ConnectorMeasurement {
  readonly child: ChildRun;
  readonly output: ConnectorOutput;
  readonly http: HttpCounts;
  readonly stats: EmulatorStats;
  readonly rows: number | undefined;
}

export async function measureConnector(
  paths: BenchPaths,
  emulator: Emulator,
  extraUsers: readonly { clientId: string; clientSecret: string }[],
  options: ConnectorRunOptions,
  label: string,
): Promise<ConnectorMeasurement> {
  const configFile = join(paths.work, `${label}.config.json`);
  const catalogFile = join(paths.work, `${label}.catalog.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      ...connectorConfig(emulator, extraUsers, {
        batchSize: options.batchSize,
        ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
      }),
      ...(options.extraConfig ?? {}),
    }),
    { mode: 0o600 },
  );
  writeFileSync(catalogFile, JSON.stringify(benchCatalog()));
  const output: ConnectorOutput = { states: 0, recordCount: 0, rejectedRecordCount: 0, traceErrors: [], logs: [], nonJson: 0 };
  const counter = new HttpCounter().start();
  let child: ChildRun;
  try {
    child = await runMeasured({
      preload: preload(paths),
      // The heap cap the bin's shebang and the Docker image's NODE_OPTIONS both apply: measure the
      // connector as users run it.
      args: [...CONNECTOR_HEAP_FLAGS, distPath(paths, "src", "main.js"), "write", "--config", configFile, "--catalog", catalogFile],
      env: CONNECTOR_ENV,
      stdinFile: options.inputFile,
      onStdoutLine: (line) => parseConnectorLine(output, line),
      timeoutSeconds: options.timeoutSeconds,
    });
  } finally {
    counter.stop();
  }
  return { child, output, http: counter.counts(), stats: emulator.stats(), rows: rowsIn(emulator, BENCH_TABLE) };
}

/** Records the emulator wrote, by any way they came in (not the rows a resync found already there). */
function recordsWritten(stats: EmulatorStats): number {
  return stats.records.bulk + stats.records.batch + stats.records.single;
}

function connectorResult(id: string, title: string, m: ConnectorMeasurement, options: ConnectorRunOptions): ScenarioResult {
  const { child, output, http, rows } = m;
  const written = recordsWritten(m.stats);
  const ok = child.exitCode === 0 && rows === options.records && output.rejectedRecordCount === 0;
  const failed = Math.max(options.records - (rows ?? 0), output.rejectedRecordCount);
  const notes: string[] = [];
  if (output.states !== options.states) notes.push(`emitted ${output.states} of ${options.states} STATE messages`);
  if (output.nonJson > 0) notes.push(`${output.nonJson} stdout lines were not JSON`);
  if (output.traceErrors.length > 0) notes.push(`TRACE ERROR: ${output.traceErrors[0]?.slice(0, 300) ?? ""}`);
  if (child.rssQuartiles.length === 4) {
    notes.push(`RSS at 25/50/75/100 % of the run: ${child.rssQuartiles.map((b) => Math.round(b / 2 ** 20)).join(" / ")} MB`);
  }
  const retries = retriesFromLogs(output.logs);
  if (retries === undefined) notes.push("retries: the connector's LOG messages report no retry count");
  const resendable = http.answered429 + Object.entries(http.byStatus).filter(([k]) => /^5\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0);
  if (retries !== undefined && resendable > retries) {
    // Every 429/5xx must have been sent again for the run to finish with no failed record.
    notes.push(`the emulator answered ${resendable} 429/5xx, the connector's summary reports ${retries} retried`);
  }
  const reason = ok
    ? undefined
    : child.exitCode !== 0
      ? failure(child)
      : `${failed} of ${options.records} records not written (rows in table: ${rows ?? "unknown"})`;
  return {
    id,
    title,
    status: ok ? "ok" : "failed",
    ...(reason === undefined ? {} : { reason }),
    records: options.records,
    seconds: child.wallSeconds,
    ...(ok ? { recordsPerSecond: options.records / child.wallSeconds } : {}),
    ...(child.cpuSeconds === undefined ? {} : { cpuSeconds: child.cpuSeconds }),
    emulatorCpuSeconds: child.hostCpuSeconds,
    ...(child.peakRssBytes === undefined ? {} : { peakRssBytes: child.peakRssBytes }),
    httpRequests: http.total,
    writeRequests: http.writesOk,
    recordsWritten: written,
    ...(http.writesOk > 0 ? { recordsPerWriteRequest: written / http.writesOk } : {}),
    throttled429: http.answered429,
    ...(retries === undefined ? {} : { retries }),
    failedRecords: failed,
    ...(rows === undefined ? {} : { rowsInTable: rows }),
    notes,
  };
}

/** Limits off and no latency: the emulator answers as fast as it can. */
export const FAST: StartEmulatorOptions = { limits: "off", latency: false };

export async function connectorScenario(
  paths: BenchPaths,
  options: ConnectorRunOptions,
  id = "connector",
  title = "connector, limits off, latency off",
  emulatorOptions: StartEmulatorOptions = FAST,
): Promise<{ result: ScenarioResult; measurement: ConnectorMeasurement | undefined }> {
  const emulator = await freshEmulator(emulatorOptions);
  try {
    const m = await measureConnector(paths, emulator, [], options, id);
    return { result: connectorResult(id, title, m, options), measurement: m };
  } finally {
    await emulator.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The bench's own loaders (dynamics-web-api baseline, raw UpsertMultiple).

interface LoaderMeasurement {
  readonly child: ChildRun;
  readonly result: LoaderResult | undefined;
  readonly http: HttpCounts;
  readonly stats: EmulatorStats;
  readonly rows: number | undefined;
}

async function measureLoader(
  paths: BenchPaths,
  emulator: Emulator,
  script: string,
  args: readonly string[],
  timeoutSeconds: number,
): Promise<LoaderMeasurement> {
  let result: LoaderResult | undefined;
  const counter = new HttpCounter().start();
  let child: ChildRun;
  try {
    child = await runMeasured({
      preload: preload(paths),
      args: [distPath(paths, "bench", script), ...args],
      env: { [CONNECTION_ENV]: JSON.stringify(emulator.config), NODE_EXTRA_CA_CERTS: emulator.config.ca_file },
      onStdoutLine: (line) => {
        result = parseResultLine(line) ?? result;
      },
      timeoutSeconds,
    });
  } finally {
    counter.stop();
  }
  return { child, result, http: counter.counts(), stats: emulator.stats(), rows: rowsIn(emulator, BENCH_TABLE) };
}

export interface LoaderScenarioOptions {
  readonly records: number;
  readonly batchSize: number;
  readonly concurrency: number;
  readonly timeoutSeconds: number;
}

function loaderResult(
  id: string,
  title: string,
  m: LoaderMeasurement,
  records: number,
  rate: "end-to-end" | "write phase",
): ScenarioResult {
  const { child, result, http, rows } = m;
  const written = recordsWritten(m.stats);
  const ok = child.exitCode === 0 && result !== undefined && result.failedRecords === 0 && rows === records;
  const seconds = rate === "end-to-end" ? child.wallSeconds : result?.writeSeconds;
  const notes: string[] = [];
  if (result !== undefined) {
    notes.push(
      rate === "end-to-end"
        ? `write phase alone: ${Math.round(records / result.writeSeconds).toLocaleString("en-US")} records/s`
        : `end to end (process start to exit): ${Math.round(records / child.wallSeconds).toLocaleString("en-US")} records/s`,
    );
  }
  if (result?.firstError !== undefined) notes.push(`first error: ${result.firstError}`);
  if (result !== undefined && result.retries > 0) notes.push(`${result.retries} batch(es) sent again after a connection reset`);
  const reason = ok
    ? undefined
    : child.exitCode !== 0 || result === undefined
      ? failure(child)
      : `${records - (rows ?? 0)} of ${records} records not written`;
  return {
    id,
    title,
    status: ok ? "ok" : "failed",
    ...(reason === undefined ? {} : { reason }),
    records,
    ...(seconds === undefined ? {} : { seconds }),
    ...(ok && seconds !== undefined ? { recordsPerSecond: records / seconds } : {}),
    ...(child.cpuSeconds === undefined ? {} : { cpuSeconds: child.cpuSeconds }),
    emulatorCpuSeconds: child.hostCpuSeconds,
    ...(child.peakRssBytes === undefined ? {} : { peakRssBytes: child.peakRssBytes }),
    httpRequests: http.total,
    writeRequests: http.writesOk,
    recordsWritten: written,
    ...(http.writesOk > 0 ? { recordsPerWriteRequest: written / http.writesOk } : {}),
    throttled429: http.answered429,
    ...(result === undefined ? {} : { retries: result.retries }),
    failedRecords: Math.max(result?.failedRecords ?? 0, records - (rows ?? 0)),
    ...(rows === undefined ? {} : { rowsInTable: rows }),
    notes,
  };
}

/** Runs one loader script as a child against a fresh emulator (both loader scenarios share this). */
async function loaderScenario(
  paths: BenchPaths,
  options: LoaderScenarioOptions,
  script: string,
  id: string,
  title: string,
  rate: "end-to-end" | "write phase",
  emulatorOptions: StartEmulatorOptions,
): Promise<ScenarioResult> {
  const emulator = await freshEmulator(emulatorOptions);
  try {
    const m = await measureLoader(
      paths,
      emulator,
      script,
      ["--records", String(options.records), "--batch-size", String(options.batchSize), "--concurrency", String(options.concurrency)],
      options.timeoutSeconds,
    );
    return loaderResult(id, title, m, options.records, rate);
  } finally {
    await emulator.close();
  }
}

export function dwaScenario(
  paths: BenchPaths,
  options: LoaderScenarioOptions,
  id = "dwa",
  title = `dynamics-web-api loader ($batch changesets of ${options.batchSize}, ${options.concurrency} in flight)`,
  emulatorOptions: StartEmulatorOptions = FAST,
): Promise<ScenarioResult> {
  return loaderScenario(paths, options, "dwa-loader.js", id, title, "end-to-end", emulatorOptions);
}

export function emulatorScenario(paths: BenchPaths, options: LoaderScenarioOptions): Promise<ScenarioResult> {
  const title = `emulator alone (undici UpsertMultiple of ${options.batchSize}, ${options.concurrency} in flight)`;
  return loaderScenario(paths, options, "raw-loader.js", "emulator", title, "write phase", FAST);
}

// ---------------------------------------------------------------------------------------------
// Under the emulated limits.

const POOL_PRIVILEGE_SOURCE = "destination-dynamics365 (emulator main app)";

/** The default environment plus `extra` full-rights application users (the pool's members). */
export function poolEnvironment(extra: number): Environment {
  const base = defaultEnvironment();
  const main = base.apps.find((a) => a.displayName === POOL_PRIVILEGE_SOURCE) ?? base.apps.find((a) => a.applicationUser !== undefined);
  const privileges = main?.applicationUser?.privileges ?? { "*": ["create", "read", "write", "delete", "append", "appendto"] };
  const apps: AppRegistration[] = [];
  const users: Record<string, unknown>[] = [];
  for (let i = 1; i <= extra; i++) {
    const hex = i.toString(16).padStart(2, "0");
    const clientId = `b0b0b0b0-0000-4000-8000-0000000000${hex}`;
    const systemUserId = `b0b0b0b0-0000-4000-8000-0000000001${hex}`;
    apps.push({
      clientId,
      displayName: `bench pool member ${i}`,
      objectId: `b0b0b0b0-0000-4000-8000-0000000002${hex}`,
      secrets: [{ value: `bench-pool-secret-${i}`, expiresAt: "2099-12-31T23:59:59Z" }],
      applicationUser: { systemUserId, privileges },
    });
    users.push({ systemuserid: systemUserId, fullname: `# bench pool member ${i}`, applicationid: clientId });
  }
  const rows = base.rows ?? {};
  return {
    ...base,
    apps: [...base.apps, ...apps],
    rows: { ...rows, systemuser: [...(rows["systemuser"] ?? []), ...users] },
  };
}

/** `environment` with records 0..seed-1 of the bench's contacts already in the table (a resync's starting point). */
export function seeded(environment: Environment, seed: number | undefined): Environment {
  if (seed === undefined || seed === 0) return environment;
  const rows = environment.rows ?? {};
  return { ...environment, rows: { ...rows, [BENCH_TABLE]: [...(rows[BENCH_TABLE] ?? []), ...Array.from({ length: seed }, (_, i) => ({ ...contactRow(i) }))] } };
}

export function limitParams(model: EmulatorStats["model"]): LimitParams {
  return {
    windowSeconds: model.windowSeconds,
    maxRequests: model.maxRequests,
    maxExecutionMs: model.maxExecutionMs,
    maxConcurrent: model.maxConcurrent,
    requestMs: model.cost.requestMs,
    bulkRecordMs: model.cost.upsertMultipleRecordMs,
    latency: model.latency,
  };
}

/** What a run cost on the emulator: the execution time it charged, and the Web API requests it admitted. */
export function runCost(stats: EmulatorStats, http: HttpCounts): RunCost {
  return { executionMs: stats.executionMs.total, requests: Math.max(0, http.reads + http.writes - http.answered429) };
}

/** 429s answered more than a window after the run's first Web API request. */
export function throttledAfter(http: HttpCounts, windowSeconds: number): number {
  return http.answered429At.filter((t) => t > windowSeconds).length;
}

/** The execution time the emulator charged the run, model milliseconds, and each user's share. */
function executionNote(stats: EmulatorStats, users: number): string {
  const ms = (n: number): string => Math.round(n).toLocaleString("en-US");
  const shares = Object.values(stats.executionMs.byClient);
  return `execution time charged: ${ms(stats.executionMs.total)} ms of model time` + (users > 1 ? ` (per app user: ${shares.map(ms).join(" / ")})` : "");
}

export interface LimitsRunResult {
  readonly result: ScenarioResult;
  /** The ceiling for the operations this run sent, from what it cost on the emulator. */
  readonly sent: SentCeiling | undefined;
  /** Reference: the steady state of the same users writing every record by UpsertMultiple of the batch size. */
  readonly upsertMultiple: SteadyState | undefined;
  /** 429s answered after the run's first window. */
  readonly throttledAfterFirstWindow: number | undefined;
  readonly params: LimitParams | undefined;
  readonly users: number;
  /** The emulator's time scale (0.1 on the faithful preset: its seconds are a tenth of Microsoft's). */
  readonly timeScale?: number;
}

export async function limitsScenario(
  paths: BenchPaths,
  options: ConnectorRunOptions & {
    readonly users: number;
    readonly limits: string | Partial<LimitsConfig>;
    /** Rows already in the table when the run starts (a resync). */
    readonly seed?: number;
    readonly id?: string;
    readonly title?: string;
    /** Synchronous plug-in steps in the environment. */
    readonly plugins?: Environment["plugins"];
  },
): Promise<LimitsRunResult> {
  const extra = options.users - 1;
  const base = seeded(poolEnvironment(extra), options.seed);
  const emulator = await freshEmulator({
    limits: options.limits,
    latency: true,
    environment: options.plugins === undefined ? base : { ...base, plugins: options.plugins },
  });
  const id = options.id ?? (options.users === 1 ? "limits-1" : `limits-${options.users}`);
  const title = options.title ?? `connector, limits on, ${options.users === 1 ? "1 application user" : `pool of ${options.users} users`}`;
  try {
    const poolApps = emulator.apps.filter((a) => a.displayName.startsWith("bench pool member"));
    const m = await measureConnector(paths, emulator, poolApps.slice(0, extra), options, id);
    const base = connectorResult(id, title, m, options);
    const params = limitParams(m.stats.model);
    const sent = sentCeiling(params, runCost(m.stats, m.http), options.records, options.users);
    const notes = [...(base.notes ?? [])];
    const byKind = m.stats.throttled.byKind;
    notes.push(
      `429s by limit: requests ${byKind.requests}, execution ${byKind.execution}, concurrency ${byKind.concurrency}` +
        (m.http.answered429At.length === 0 ? "" : `, answered at ${m.http.answered429At.map((t) => `${t.toFixed(1)} s`).join(", ")} after the first request`),
    );
    notes.push(executionNote(m.stats, options.users));
    const byClient = m.stats.requests.byClient;
    const share = Object.values(byClient);
    if (options.users > 1) notes.push(`requests per app user: ${share.join(" / ")}`);
    return {
      result: { ...base, notes },
      sent,
      upsertMultiple: steadyStateCeiling(params, options.users, options.batchSize),
      throttledAfterFirstWindow: throttledAfter(m.http, params.windowSeconds),
      params,
      users: options.users,
      timeScale: m.stats.model.timeScale,
    };
  } finally {
    await emulator.close();
  }
}

/**
 * The careful loader of issue 13 (bench/dwa-bulk-loader.ts: dynamics-web-api, UpsertMultiple of
 * `batchSize` via callAction, `concurrency` in flight, Retry-After honoured) on a fresh emulator
 * with the same limits, latency and environment as the connector's limits scenario, on the same data.
 */
export async function carefulScenario(
  paths: BenchPaths,
  options: LoaderScenarioOptions & { readonly limits: string | Partial<LimitsConfig>; readonly seed?: number; readonly changedEvery?: number },
  id = "careful-1",
  title = `careful loader, limits on, 1 application user (dynamics-web-api UpsertMultiple of ${options.batchSize}, ${options.concurrency} in flight, Retry-After honoured)`,
): Promise<LimitsRunResult> {
  const emulator = await freshEmulator({ limits: options.limits, latency: true, environment: seeded(poolEnvironment(0), options.seed) });
  try {
    const m = await measureLoader(
      paths,
      emulator,
      "dwa-bulk-loader.js",
      [
        "--records",
        String(options.records),
        "--batch-size",
        String(options.batchSize),
        "--concurrency",
        String(options.concurrency),
        ...(options.changedEvery === undefined ? [] : ["--changed-every", String(options.changedEvery)]),
      ],
      options.timeoutSeconds,
    );
    const base = loaderResult(id, title, m, options.records, "end-to-end");
    const stats = m.stats;
    const params = limitParams(stats.model);
    const byKind = stats.throttled.byKind;
    const notes = [...(base.notes ?? []), `429s by limit: requests ${byKind.requests}, execution ${byKind.execution}, concurrency ${byKind.concurrency}`, executionNote(stats, 1)];
    return {
      result: { ...base, notes },
      sent: sentCeiling(params, runCost(stats, m.http), options.records, 1),
      upsertMultiple: steadyStateCeiling(params, 1, options.batchSize),
      throttledAfterFirstWindow: throttledAfter(m.http, params.windowSeconds),
      params,
      users: 1,
      timeScale: stats.model.timeScale,
    };
  } finally {
    await emulator.close();
  }
}
