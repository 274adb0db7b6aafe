// The membership scenario (issue 17): a segment of N contacts becomes a static marketing list's
// membership, then a resync in which 2 % left the segment and 2 % joined, through the built
// connector against the emulator under the faithful limits (the `microsoft` preset). It reports
// requests and modelled execution time per member for each run: what one application user's
// service-protection budget buys when activating segments.
import { spawn } from "node:child_process";
import { createWriteStream, writeFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { startEmulator } from "../emulator/index.js";
import type { Emulator, Environment } from "../emulator/index.js";
import { defaultEnvironment } from "../emulator/environment.js";
import type { BenchPaths } from "./scenarios.js";
import { CONNECTOR_ENV, CONNECTOR_HEAP_FLAGS, distPath } from "./scenarios.js";
import type { ScenarioResult } from "./report.js";
import { fmtInt, fmtNum } from "./report.js";

const STREAM = "segment";
const email = (i: number): string => `member${i}@bench.example`;

export interface MembershipRun {
  readonly title: string;
  readonly members: number;
  readonly added: number;
  readonly removed: number;
  readonly requests: number;
  readonly executionMs: number;
  readonly seconds: number;
  readonly throttled: number;
  readonly ok: boolean;
  readonly reason?: string;
}

function environment(contacts: number): Environment {
  const env = defaultEnvironment();
  return {
    ...env,
    rows: {
      ...(env.rows ?? {}),
      contact: Array.from({ length: contacts }, (_, i) => ({ lastname: `Member ${i}`, emailaddress1: email(i) })),
    },
  };
}

async function writeInput(file: string, members: Iterable<number>, stateEvery: number): Promise<void> {
  const out = createWriteStream(file);
  let n = 0;
  let state = 0;
  const write = async (line: string): Promise<void> => {
    if (!out.write(`${line}\n`)) await once(out, "drain");
  };
  for (const i of members) {
    await write(JSON.stringify({ type: "RECORD", record: { stream: STREAM, data: { email: email(i) }, emitted_at: 0 } }));
    if (++n % stateEvery === 0) await write(JSON.stringify({ type: "STATE", state: { type: "STREAM", stream: { stream_descriptor: { name: STREAM }, stream_state: { n } }, id: ++state } }));
  }
  await write(JSON.stringify({ type: "TRACE", trace: { type: "STREAM_STATUS", emitted_at: 0, stream_status: { stream_descriptor: { name: STREAM }, status: "COMPLETE" } } }));
  await write(JSON.stringify({ type: "STATE", state: { type: "STREAM", stream: { stream_descriptor: { name: STREAM }, stream_state: { n } }, id: ++state } }));
  out.end();
  await once(out, "finish");
}

function runConnector(paths: BenchPaths, config: string, catalog: string, input: string, timeoutSeconds: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CONNECTOR_HEAP_FLAGS, distPath(paths, "src", "main.js"), "write", "--config", config, "--catalog", catalog, "--input", input], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...CONNECTOR_ENV },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutSeconds * 1000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function counted(stdout: string, what: "added" | "removed"): number {
  const m = new RegExp(`(\\d+) ${what}`).exec(stdout);
  return m ? Number(m[1]) : 0;
}

/** Runs both syncs against one emulator; `members` is the first segment's size. */
export async function runMembership(paths: BenchPaths, members: number, timeoutSeconds: number, log: (line: string) => void): Promise<MembershipRun[]> {
  const churn = Math.max(1, Math.round(members * 0.02));
  log(`bench: membership: seeding ${fmtInt(members + churn)} contacts…`);
  const emulator: Emulator = await startEmulator({ port: 0, quiet: true, limits: "microsoft", environment: environment(members + churn) });
  try {
    const c = emulator.config;
    const config = join(paths.work, "membership-config.json");
    const catalog = join(paths.work, "membership-catalog.json");
    writeFileSync(
      config,
      JSON.stringify({
        ...c,
        // The emulator signs in at its own authority, not a Microsoft sign-in host.
        allow_custom_authority_host: true,
        streams: [{ name: STREAM, membership: { list: "Bench segment", member_table: "contact", key: { columns: ["emailaddress1"] }, source_fields: ["email"], remove_missing: true } }],
      }),
    );
    writeFileSync(catalog, JSON.stringify({ streams: [{ stream: { name: STREAM, json_schema: {}, supported_sync_modes: ["full_refresh"] }, sync_mode: "full_refresh", destination_sync_mode: "overwrite" }] }));
    const runs: MembershipRun[] = [];
    const plan: [string, Iterable<number>, number][] = [
      [`${fmtInt(members)} members added to a new list`, range(0, members), members],
      [`resync: ${fmtInt(churn)} left, ${fmtInt(churn)} joined`, range(churn, members + churn), members],
    ];
    for (const [title, ids, size] of plan) {
      const input = join(paths.work, "membership.jsonl");
      await writeInput(input, ids, 10_000);
      const before = emulator.stats();
      const started = performance.now();
      log(`bench: membership: ${title}…`);
      const r = await runConnector(paths, config, catalog, input, timeoutSeconds);
      const seconds = (performance.now() - started) / 1000;
      const after = emulator.stats();
      runs.push({
        title,
        members: size,
        added: counted(r.stdout, "added"),
        removed: counted(r.stdout, "removed"),
        requests: after.requests.total - before.requests.total,
        executionMs: after.executionMs.total - before.executionMs.total,
        throttled: after.throttled.total - before.throttled.total,
        seconds,
        ok: r.code === 0,
        ...(r.code === 0 ? {} : { reason: `exit ${String(r.code)}: ${r.stderr.trim().split("\n").at(-1) ?? ""}` }),
      });
    }
    return runs;
  } finally {
    await emulator.close();
  }
}

function* range(from: number, to: number): Iterable<number> {
  for (let i = from; i < to; i++) yield i;
}

export function membershipResults(runs: readonly MembershipRun[]): ScenarioResult[] {
  return runs.map((r) => ({
    id: "membership",
    title: `membership: ${r.title}`,
    status: r.ok ? "ok" : "failed",
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    records: r.members,
    seconds: r.seconds,
    recordsPerSecond: r.members / r.seconds,
    httpRequests: r.requests,
    throttled429: r.throttled,
  }));
}

export function membershipSection(runs: readonly MembershipRun[]): { title: string; body: string } {
  const rows = runs.map(
    (r) =>
      `| ${r.title} | ${fmtInt(r.added)} | ${fmtInt(r.removed)} | ${fmtInt(r.requests)} | ${fmtNum((r.requests / r.members) * 1000, 1)} | ${fmtNum(r.executionMs / 1000, 1)} s | ${fmtNum(r.executionMs / r.members, 2)} ms | ${fmtInt(r.throttled)} | ${fmtNum(r.seconds, 1)} s |`,
  );
  return {
    title: "Marketing list membership (issue 17)",
    body: [
      "A segment becomes a static list's membership through the built connector, under the `microsoft` limits preset",
      "(6,000 requests and 1,200 s of execution per 300 s per user). Requests include the token, metadata, the list's",
      "members read at the start and the `$batch`es that find members by key; execution time is the emulator's model",
      "(`AddListMembersList` is costed as CreateMultiple per member, `RemoveMemberList` as a single delete, reads per row returned).",
      "",
      "| run | added | removed | requests | requests per 1,000 members | execution (model) | execution per member | 429s | wall |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...rows,
    ].join("\n"),
  };
}
