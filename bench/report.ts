// Turns scenario results into the stdout table and docs/benchmarks.md. Figures that were not
// measured stay empty and say why; nothing here invents a number.

export type ScenarioStatus = "ok" | "failed" | "not run";

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly status: ScenarioStatus;
  /** Why the scenario failed or did not run. */
  readonly reason?: string;
  readonly records: number;
  readonly seconds?: number;
  readonly recordsPerSecond?: number;
  readonly cpuSeconds?: number;
  /** CPU seconds of the bench process (the in-process emulator) while the client ran. */
  readonly emulatorCpuSeconds?: number;
  readonly peakRssBytes?: number;
  /** Every HTTP request the emulator answered for this scenario (token and metadata included). */
  readonly httpRequests?: number;
  /** Requests that wrote rows (bulk actions, $batch, single writes) answered 2xx. */
  readonly writeRequests?: number;
  /** Records the emulator wrote (created, updated or upserted), every write request together. */
  readonly recordsWritten?: number;
  /** recordsWritten / writeRequests: on a resync, only the changed rows are written. */
  readonly recordsPerWriteRequest?: number;
  readonly throttled429?: number;
  readonly retries?: number;
  readonly failedRecords?: number;
  readonly rowsInTable?: number;
  readonly notes?: readonly string[];
}

export interface TargetCheck {
  readonly target: string;
  /** The measured figure, formatted, or "" when it could not be measured. */
  readonly measured: string;
  readonly verdict: "met" | "not met" | "not measured" | "info";
  readonly detail?: string;
}

export interface BenchReport {
  readonly command: string;
  readonly date: string;
  readonly machine: string;
  /** The machine's load during the run (it is shared). */
  readonly load: string;
  readonly records: number;
  readonly scenarios: readonly ScenarioResult[];
  readonly targets: readonly TargetCheck[];
  /** Free-form sections (the theoretical-maximum formula, caveats). */
  readonly sections: readonly { readonly title: string; readonly body: string }[];
}

const MB = 1024 * 1024;

export function fmtInt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "";
  return Math.round(n).toLocaleString("en-US");
}

export function fmtNum(n: number | undefined, digits = 1): string {
  if (n === undefined || !Number.isFinite(n)) return "";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtMb(bytes: number | undefined): string {
  return bytes === undefined ? "" : `${fmtNum(bytes / MB, 0)} MB`;
}

export function fmtRatio(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? "" : `${fmtNum(r, 2)}×`;
}

export function fmtPercent(r: number | undefined): string {
  return r === undefined || !Number.isFinite(r) ? "" : `${fmtNum(r * 100, 1)} %`;
}

const COLUMNS: readonly { readonly head: string; readonly cell: (s: ScenarioResult) => string }[] = [
  { head: "scenario", cell: (s) => s.title },
  { head: "status", cell: (s) => s.status },
  { head: "records", cell: (s) => fmtInt(s.records) },
  { head: "seconds", cell: (s) => fmtNum(s.seconds, 2) },
  { head: "records/s", cell: (s) => fmtInt(s.recordsPerSecond) },
  { head: "CPU s", cell: (s) => fmtNum(s.cpuSeconds, 2) },
  { head: "emulator CPU s", cell: (s) => fmtNum(s.emulatorCpuSeconds, 2) },
  { head: "peak RSS", cell: (s) => fmtMb(s.peakRssBytes) },
  { head: "HTTP req", cell: (s) => fmtInt(s.httpRequests) },
  { head: "write req", cell: (s) => fmtInt(s.writeRequests) },
  { head: "rec/write req", cell: (s) => fmtNum(s.recordsPerWriteRequest, 0) },
  { head: "429s", cell: (s) => fmtInt(s.throttled429) },
  { head: "retries", cell: (s) => fmtInt(s.retries) },
  { head: "failed", cell: (s) => fmtInt(s.failedRecords) },
];

export function textTable(scenarios: readonly ScenarioResult[]): string {
  const rows = [COLUMNS.map((c) => c.head), ...scenarios.map((s) => COLUMNS.map((c) => c.cell(s)))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  const out = [line(rows[0] ?? []), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
  const reasons = scenarios.filter((s) => s.reason !== undefined).map((s) => `  ${s.title}: ${s.reason ?? ""}`);
  return [...out, ...(reasons.length > 0 ? ["", "notes:", ...reasons] : [])].join("\n");
}

function mdEscape(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function mdTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(mdEscape).join(" | ")} |`),
  ].join("\n");
}

export function targetsTable(targets: readonly TargetCheck[]): string {
  return mdTable(
    ["target (issue 5 / issue 2)", "measured", "verdict"],
    targets.map((t) => [t.target, t.measured + (t.detail === undefined ? "" : ` (${t.detail})`), t.verdict === "met" ? "**met**" : t.verdict === "info" ? "(context)" : t.verdict]),
  );
}

export function textTargets(targets: readonly TargetCheck[]): string {
  return targets.map((t) => `  [${t.verdict}] ${t.target}: ${t.measured}${t.detail === undefined ? "" : ` (${t.detail})`}`).join("\n");
}

export function markdown(report: BenchReport): string {
  const scenarioRows = report.scenarios.map((s) => COLUMNS.map((c) => c.cell(s)));
  const notes = report.scenarios.flatMap((s) => [
    ...(s.reason === undefined ? [] : [`- **${s.title}**: ${s.reason}`]),
    ...(s.notes ?? []).map((n) => `- ${s.title}: ${n}`),
  ]);
  return [
    "# Benchmarks",
    "",
    "Generated by `bench/run.ts`; do not edit by hand, re-run the command below.",
    "",
    `- Command: \`${report.command}\``,
    `- Date: ${report.date}`,
    `- Machine: ${report.machine}`,
    `- Load: ${report.load}`,
    `- Records per scenario: ${fmtInt(report.records)} contact upserts by alternate key \`emailaddress1\``,
    "",
    "The machine is shared and noisy, so the targets are judged on **ratios measured side by side in",
    "one run** (same emulator build, same data, same minute). Absolute records/s are indicative only.",
    "",
    "## Targets",
    "",
    targetsTable(report.targets),
    "",
    "## Scenarios",
    "",
    mdTable(
      COLUMNS.map((c) => c.head),
      scenarioRows,
    ),
    "",
    ...(notes.length > 0 ? ["Notes:", "", ...notes, ""] : []),
    ...report.sections.flatMap((s) => [`## ${s.title}`, "", s.body, ""]),
  ].join("\n");
}

/** The `| target | measured | verdict |` rows and the header lines of an earlier report. */
function previousTargets(previous: string): { date?: string; command?: string; load?: string; rows: Map<string, { measured: string; verdict: string }> } {
  const line = (prefix: string): string | undefined => previous.split("\n").find((l) => l.startsWith(prefix))?.slice(prefix.length).trim();
  const rows = new Map<string, { measured: string; verdict: string }>();
  const start = previous.indexOf("## Targets");
  const end = previous.indexOf("\n## ", start + 1);
  if (start >= 0) {
    for (const l of previous.slice(start, end < 0 ? undefined : end).split("\n")) {
      if (!l.startsWith("| ") || l.startsWith("| target")) continue;
      const cells = l.slice(2, -2).split(" | ");
      if (cells.length !== 3) continue;
      rows.set(targetKey(cells[0] ?? ""), { measured: cells[1] ?? "", verdict: cells[2] ?? "" });
    }
  }
  const date = line("- Date: ");
  const command = line("- Command: ");
  const load = line("- Load: ");
  return { ...(date === undefined ? {} : { date }), ...(command === undefined ? {} : { command }), ...(load === undefined ? {} : { load }), rows };
}

/** A target's text without its parenthesised details, so a reworded detail still matches. */
function targetKey(target: string): string {
  return target.replace(/\s*\([^)]*\)/g, "").trim();
}

/**
 * Each target of this run beside the same target in the report this run replaces (read before it
 * is overwritten), so the report says how the figures moved.
 */
export function comparisonWithPrevious(previous: string, targets: readonly TargetCheck[]): { title: string; body: string } | undefined {
  const before = previousTargets(previous);
  if (before.rows.size === 0) return undefined;
  const rows = targets.map((t) => {
    const old = before.rows.get(targetKey(t.target));
    const now = `${t.measured} (${t.verdict === "info" ? "context" : t.verdict})`;
    const verdict = old?.verdict.replace(/\*/g, "") ?? "";
    return [t.target, old === undefined ? "(not in the previous report)" : `${old.measured} ${verdict.startsWith("(") ? verdict : `(${verdict})`}`, now];
  });
  return {
    title: "Compared with the previous report",
    body: [
      `The report this run replaced: ${before.command ?? "unknown command"}, ${before.date ?? "unknown date"}${before.load === undefined ? "" : `, ${before.load}`}.`,
      "Where the emulator changed between the two runs (its limits preset, cost model or booking; see",
      "docs/emulator.md and the history of emulator/), a moved figure is the emulator's doing, not the client's;",
      "latency-off figures also move with the machine's load.",
      "",
      mdTable(["target", "previous report", "this run"], rows),
    ].join("\n"),
  };
}
