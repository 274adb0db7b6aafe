// The crash-and-resume harness: plays the source and the platform around the real connector.
//
// The source is a fixed sequence of records with a STATE (carrying a platform id) every few records.
// Each run gets the input from just after the last state the connector emitted, exactly as the
// platform resumes a sync; all but the last run are SIGKILLed at a seeded random point. After the
// final run, which must end cleanly, the table must hold every source row exactly once.
//
// While a run is alive, each emitted state is checked the moment it is read: the connector is frozen
// (SIGSTOP) and every record before that state must already be in the table. A state that comes out
// ahead of its data would lose those records if the connector died right then.
import { expect } from "vitest";
import { assertNoSecrets, findTokenShapes } from "../helpers/no-secrets.js";
import { frozen, runConnector, workdir, type RunResult } from "./connector.js";
import type { Rng } from "./prng.js";
import { parseLine, recordLine, stateOf, statesIn, streamStateLine, traceErrorsIn, nonProtocolLines } from "./protocol.js";
import { odataString, type EmulatorConnection, type Row, WebApiReader } from "./webapi.js";

export interface Scenario {
  readonly label: string;
  readonly stream: string;
  readonly entitySet: string;
  /** The config `streams[]` entry (snake_case, as spec/spec.json takes it). */
  readonly streamConfig: Record<string, unknown>;
  readonly catalogMode: "append" | "append_dedup";
  readonly primaryKey?: readonly string[];
  /** The source record number i. */
  record(i: number): Record<string, unknown>;
  /** Column that identifies a source record in the table, and its value for record i. */
  readonly identityColumn: string;
  identity(i: number): string;
  /** Columns to compare with the source, besides the identity. */
  readonly compareColumns: readonly string[];
  /** A $filter that selects only this scenario's rows. */
  readonly tableFilter: string;
  /** When several records address one row: the values the row must end with (default: record(i)). */
  finalValues?(i: number): Record<string, unknown>;
  /** When several records address one row: how many distinct rows the source makes. */
  readonly distinctRows?: number;
  /** Create without a key is at-least-once: a replay after a crash may add a second row. */
  readonly atLeastOnce?: boolean;
  /** Records Dataverse or mapping must refuse (they must be absent from the table, and counted). */
  expectRejected?(i: number): boolean;
}

/** One connector run in a sync: killed at a random point, or left to end as expected. */
export interface RunPlan {
  readonly kill?: boolean;
  /** Before the run starts, e.g. add fault rules. */
  before?(): void | Promise<void>;
  /** After it ended, e.g. clear fault rules. */
  after?(): void | Promise<void>;
  /** How an unkilled run must end: cleanly (default), or with one TRACE error of this failure type. */
  readonly expectFailure?: "transient_error" | "config_error" | "system_error" | "any";
  /** Extra checks on the run's result. */
  check?(result: RunResult): void;
}

export interface CrashResumeOptions {
  readonly records: number;
  readonly stateEvery: number;
  /** Kill this many runs at random points, then one clean run; or give the runs one by one. */
  readonly kills?: number;
  readonly runs?: readonly RunPlan[];
  readonly rng: Rng;
  readonly connection: EmulatorConnection;
  /** Credentials the harness reads the table with (default: the connector's); another app keeps
   *  the harness's reads out of the connector's per-user service protection limits. */
  readonly readerCredentials?: { readonly client_id: string; readonly client_secret: string };
  /** Extra config keys (write settings). */
  readonly settings?: Record<string, unknown>;
  readonly runTimeoutMs: number;
}

export interface CrashResumeReport {
  readonly runs: ReadonlyArray<{ killed: boolean; linesWritten: number; statesEmitted: number; elapsedMs: number; exit: string }>;
  /** Not for printing: whole stdout and stderr of each run. */
  readonly results: readonly RunResult[];
  readonly statesChecked: number;
  readonly rejected: number;
  /** Source records found more than once (only allowed for at-least-once scenarios). */
  readonly duplicated: number;
}

interface SourceLine {
  readonly line: string;
  /** Index of the scenario (stream) the line belongs to. */
  readonly stream: number;
  /** For a state: its id, how many of its stream's records precede it, and the same for its stream's previous state. */
  readonly state?: { readonly id: number; readonly cursor: number; readonly previousCursor: number };
}

/**
 * Record i of every scenario in turn, and after every `stateEvery` records one STREAM state per
 * stream; state ids are global and increasing, as the platform numbers them.
 */
export function buildSource(scenarios: readonly Scenario[], records: number, stateEvery: number): SourceLine[] {
  const lines: SourceLine[] = [];
  let id = 0;
  const previous = scenarios.map(() => 0);
  for (let i = 0; i < records; i += 1) {
    for (const [k, scenario] of scenarios.entries()) lines.push({ line: recordLine(scenario.stream, scenario.record(i)), stream: k });
    if ((i + 1) % stateEvery === 0 || i === records - 1) {
      for (const [k, scenario] of scenarios.entries()) {
        id += 1;
        lines.push({ line: streamStateLine(scenario.stream, id, i + 1), stream: k, state: { id, cursor: i + 1, previousCursor: previous[k] ?? 0 } });
        previous[k] = i + 1;
      }
    }
  }
  return lines;
}

export async function crashAndResume(scenario: Scenario | readonly Scenario[], options: CrashResumeOptions): Promise<CrashResumeReport> {
  const scenarios: readonly Scenario[] = Array.isArray(scenario) ? scenario : [scenario as Scenario];
  const source = buildSource(scenarios, options.records, options.stateEvery);
  const stateById = new Map<number, { position: number; stream: number; cursor: number; previousCursor: number }>();
  const lastSourceState = scenarios.map(() => 0);
  for (const [position, entry] of source.entries()) {
    if (entry.state !== undefined) {
      stateById.set(entry.state.id, { position, stream: entry.stream, ...entry.state });
      lastSourceState[entry.stream] = entry.state.id;
    }
  }

  const files = workdir(`crash-${scenarios.map((s) => s.label).join("+")}`);
  const reader = new WebApiReader({ ...options.connection, ...options.readerCredentials });
  const config = files.json("config.json", {
    ...options.connection,
    streams: scenarios.map((s) => s.streamConfig),
    ...options.settings,
  });
  const catalog = files.json("catalog.json", {
    streams: scenarios.map((s) => ({
      stream: { name: s.stream, json_schema: { type: "object", properties: {} }, supported_sync_modes: ["incremental"] },
      sync_mode: "incremental",
      destination_sync_mode: s.catalogMode,
      ...(s.primaryKey !== undefined ? { primary_key: s.primaryKey.map((k) => [k]) } : {}),
    })),
  });

  const plans: readonly RunPlan[] =
    options.runs ?? [...Array.from({ length: options.kills ?? 0 }, () => ({ kill: true })), {}];
  const runs: Array<{ killed: boolean; linesWritten: number; statesEmitted: number; elapsedMs: number; exit: string }> = [];
  const results: RunResult[] = [];
  /** Per stream: the last state the connector emitted (0: none yet), as the platform keeps it. */
  const lastEmitted = scenarios.map(() => 0);
  let statesChecked = 0;
  /** Per stream: every record before this one was in the table when a state covering it came out. */
  const verifiedUpTo = scenarios.map(() => 0);
  let rejected = 0;
  try {
    for (const [run, plan] of plans.entries()) {
      // Each stream resumes after its own last emitted state; the source replays the rest in order.
      const resumeAt = lastEmitted.map((id) => (id === 0 ? -1 : (stateById.get(id)?.position ?? -1)));
      const input = source.filter((e, position) => position > (resumeAt[e.stream] ?? -1));
      const final = run === plans.length - 1;
      // Half the kills land at a random input line, half shortly after a random emitted state (the
      // moment a checkpoint is most likely to be half-done); input is paced so the connector is
      // busy writing, not starting up, when the kill comes.
      // Each kill falls within about twice its fair share of the source, so 20 kills spread over the
      // whole input instead of halving what is left each time. A kill on an emitted state needs a
      // state that is not the last one left (stdin stays open until the kill).
      const statesLeft = input.filter((e) => e.state !== undefined).length;
      const share = Math.ceil((2 * source.length) / plans.length);
      const stateShare = Math.ceil((2 * stateById.size) / plans.length);
      const kill =
        plan.kill !== true
          ? undefined
          : options.rng.chance(0.5) || statesLeft < 2
            ? { afterLines: options.rng.int(1, Math.min(input.length, share)), delayMs: options.rng.int(0, 400) }
            : { afterStates: options.rng.int(1, Math.max(1, Math.min(statesLeft - 1, stateShare))), delayMs: options.rng.int(0, 60) };
      await plan.before?.();
      const idsInInput = new Set(input.flatMap((e) => (e.state !== undefined ? [e.state.id] : [])));
      const previousInRun = [...lastEmitted];

      const result: RunResult = await runConnector({
        args: ["write", "--config", config, "--catalog", catalog],
        input: input.map((e) => e.line),
        ...(kill !== undefined ? { kill } : {}),
        pace: { every: 20, ms: 2 },
        timeoutMs: options.runTimeoutMs,
        onLine: async (line, child) => {
          const message = parseLine(line);
          const state = message === undefined ? undefined : stateOf(message);
          if (state === undefined) return;
          const id = state.id;
          // Order and provenance: ids we sent in this run, strictly increasing, never one we did not send.
          expect(id, `run ${run}: emitted state without its platform id`).toBeTypeOf("number");
          if (typeof id !== "number") return;
          expect(idsInInput.has(id), `run ${run}: state ${id} was not in this run's input`).toBe(true);
          const known = stateById.get(id);
          if (known === undefined) return;
          const k = known.stream;
          // The protocol orders states per stream (STREAM states).
          expect(id, `run ${run}: state ${id} emitted after ${previousInRun[k] ?? 0} of the same stream`).toBeGreaterThan(previousInRun[k] ?? 0);
          previousInRun[k] = id;
          rejected += state.rejectedRecordCount ?? 0;
          const from = verifiedUpTo[k] ?? 0;
          const target = scenarios[k];
          if (target === undefined) return;
          const missing = await frozen(child, async () => missingBetween(reader, target, from, known.cursor));
          statesChecked += 1;
          if (missing.length === 0) verifiedUpTo[k] = Math.max(from, known.cursor);
          expect(missing, `run ${run}: state ${id} (${target.stream}) came out before records ${missing.slice(0, 5).join(", ")} were in the table`).toEqual([]);
        },
      });

      results.push(result);
      const emitted = statesIn(result.stdout);
      const exit = result.timedOut ? "timeout" : result.signal !== null ? result.signal : `exit ${String(result.code)}`;
      runs.push({ killed: result.killed, linesWritten: result.linesWritten, statesEmitted: emitted.length, elapsedMs: result.elapsedMs, exit });
      expect(result.timedOut, `run ${run} hung (timeout ${options.runTimeoutMs} ms); stderr tail: ${result.stderr.slice(-2000)}`).toBe(false);
      expect(nonProtocolLines(result.stdout), `run ${run}: non-protocol stdout`).toEqual([]);
      const errors = traceErrorsIn(result.stdout);
      if (plan.expectFailure !== undefined && !result.killed) {
        const types = errors.map((e) => e.failureType);
        const wanted = plan.expectFailure === "any" ? [types[0] ?? "(none)"] : [plan.expectFailure];
        expect(types, `run ${run}: failure TRACE; stderr tail: ${result.stderr.slice(-2000)}`).toEqual(wanted);
        expect(["transient_error", "config_error", "system_error"]).toContain(types[0]);
        expect(result.code, `run ${run}: exit code after a failure`).not.toBe(0);
        expect(result.signal, `run ${run}: ended by a signal`).toBe(null);
      } else {
        expect(errors, `run ${run}: TRACE errors; stderr tail: ${result.stderr.slice(-2000)}`).toEqual([]);
        if (!result.killed) {
          // Either a clean run, or a planned kill that the run outlived: both must have ended with 0.
          expect(result.code, `run ${run} exit; stderr tail: ${result.stderr.slice(-2000)}`).toBe(0);
        }
      }
      // Issue 6 item 5: every run of every suite is swept for the secret and for token shapes.
      assertNoSecrets({ stdout: result.stdout.join("\n"), stderr: result.stderr }, [{ label: "client secret", value: options.connection.client_secret }]);
      expect(findTokenShapes({ stdout: result.stdout.join("\n"), stderr: result.stderr }), `run ${run}: a token on stdout/stderr`).toEqual([]);
      plan.check?.(result);
      await plan.after?.();
      // Per-state counts: the records of its stream between the stream's previous state and this one.
      for (const state of emitted) {
        const known = state.id === undefined ? undefined : stateById.get(state.id);
        if (known === undefined || state.id === undefined) continue;
        expect((state.recordCount ?? 0) + (state.rejectedRecordCount ?? 0), `run ${run}: counts on state ${state.id}`).toBe(known.cursor - known.previousCursor);
        lastEmitted[known.stream] = Math.max(lastEmitted[known.stream] ?? 0, state.id);
      }
      if (final && plan.expectFailure === undefined) expect(lastEmitted, "the final run must emit every stream's last state").toEqual(lastSourceState);
    }

    // Nothing lost, nothing duplicated, values as the source last sent them.
    let duplicatedTotal = 0;
    for (const scenario of scenarios) duplicatedTotal += await compareWithSource(reader, scenario, options.records);
    return { runs, results, statesChecked, rejected, duplicated: duplicatedTotal };
  } finally {
    await reader.close();
    files.remove();
  }
}

/** Compares the table with the source; returns how many source records are found more than once. */
async function compareWithSource(reader: WebApiReader, scenario: Scenario, records: number): Promise<number> {
    const rows = await reader.rows(scenario.entitySet, { select: [scenario.identityColumn, ...scenario.compareColumns], filter: scenario.tableFilter });
    const byIdentity = new Map<string, Row[]>();
    for (const row of rows) {
      const key = String(row[scenario.identityColumn]);
      byIdentity.set(key, [...(byIdentity.get(key) ?? []), row]);
    }
    const lost: number[] = [];
    const duplicated: number[] = [];
    const wrong: number[] = [];
    const written: number[] = [];
    let expectedRows = 0;
    for (let i = 0; i < records; i += 1) {
      const found = byIdentity.get(scenario.identity(i)) ?? [];
      if (scenario.expectRejected?.(i) === true) {
        if (found.length > 0) written.push(i);
        continue;
      }
      expectedRows += 1;
      if (found.length === 0) lost.push(i);
      if (found.length > 1) duplicated.push(i);
      if (found.length > 1 && scenario.atLeastOnce === true) continue;
      const record = scenario.finalValues?.(i) ?? scenario.record(i);
      if (found.length === 1 && scenario.compareColumns.some((c) => found[0]?.[c] !== record[c])) wrong.push(i);
    }
    const duplicatesAllowed = scenario.atLeastOnce === true;
    expect({ lost: lost.slice(0, 10), duplicated: duplicatesAllowed ? [] : duplicated.slice(0, 10), wrong: wrong.slice(0, 10), rejectedButWritten: written.slice(0, 10) }, scenario.stream).toEqual({
      lost: [],
      duplicated: [],
      wrong: [],
      rejectedButWritten: [],
    });
    const extra = rows.length - (scenario.distinctRows ?? expectedRows) - (duplicatesAllowed ? rows.length - byIdentity.size : 0);
    expect(extra, `${scenario.stream}: rows in the table that the source never sent`).toBe(0);
    return duplicated.length;
}

/**
 * Source records in [from, to) that are not in the table right now. Rows are never removed by these
 * scenarios, so records verified at an earlier state need no second look: each state checks only the
 * records since the last verified one, by identity, so the cost does not grow with the table.
 */
async function missingBetween(reader: WebApiReader, scenario: Scenario, from: number, to: number): Promise<number[]> {
  const wanted = new Map<string, number>();
  for (let i = from; i < to; i += 1) if (scenario.expectRejected?.(i) !== true) wanted.set(scenario.identity(i), i);
  const identities = [...wanted.keys()];
  const present = new Set<string>();
  for (let at = 0; at < identities.length; at += 40) {
    const chunk = identities.slice(at, at + 40);
    const filter = chunk.map((v) => `${scenario.identityColumn} eq ${odataString(v)}`).join(" or ");
    for (const row of await reader.rows(scenario.entitySet, { select: [scenario.identityColumn], filter })) {
      present.add(String(row[scenario.identityColumn]));
    }
  }
  return [...wanted].filter(([identity]) => !present.has(identity)).map(([, i]) => i);
}

export function startsWith(column: string, prefix: string): string {
  return `startswith(${column},${odataString(prefix)})`;
}
