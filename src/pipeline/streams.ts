// Setting up the sinks, before the first record: the metadata of every stream's table and of its
// lookup targets, one plan per stream, the mirror's preconditions, and which streams are parents
// of which. Any problem fails here, naming stream and field, with nothing written.
import type { ResolvedStream } from "../config/catalog.js";
import { ConfigError } from "../config/errors.js";
import type { WriteSettings } from "../config/types.js";
import { planStream } from "../mapping/plan.js";
import { lookupTargets } from "../mapping/record.js";
import { streamKey } from "../protocol/airbyte.js";
import type { Output } from "../protocol/emit.js";
import { toConnectorError } from "./failures.js";
import { mirrorIssues } from "./mirror.js";
import type { TableSource } from "./options.js";
import { Sink } from "./sink.js";

export interface SinkSetup {
  readonly tables: TableSource;
  readonly output: Output;
  readonly settings: WriteSettings;
  /** Whether this command can read the rows a mirror would remove. */
  readonly canMirror: boolean;
}

async function load(tables: TableSource, names: readonly string[]): Promise<void> {
  const results = await Promise.allSettled(names.map((n) => tables.loadTable(n)));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failure !== undefined) {
    const index = results.indexOf(failure);
    const name = names[index] ?? "";
    const reason: unknown = failure.reason;
    if (reason instanceof Error && reason.name === "TableNotFoundError") {
      const suggestion = (reason as { suggestion?: unknown }).suggestion;
      throw new ConfigError("table_not_found", `Table "${name}" does not exist in this environment (check the logical name)${typeof suggestion === "string" ? `; did you mean \`${suggestion}\` (its logical name)?` : ""}`, [], {});
    }
    throw toConnectorError(reason);
  }
}

/**
 * Loads the metadata of every stream's table (the new ones and those of `existing`) and of its
 * lookup targets, then plans every new stream into a sink. Warnings are logged; errors are all
 * collected into one ConfigError, returned beside the sinks of the streams that could be planned
 * (a failed run still reports those in its summary).
 */
export async function openSinks(
  setup: SinkSetup,
  resolved: readonly ResolvedStream[],
  existing: Iterable<Sink>,
): Promise<{ readonly sinks: readonly Sink[]; readonly error?: ConfigError }> {
  const tables = setup.tables;
  const names = new Set<string>();
  for (const r of resolved) names.add(r.mapping.table.toLowerCase());
  for (const sink of existing) names.add(sink.mapping.table.toLowerCase());
  await load(tables, [...names]);
  // Lookup targets: the configured table, or every table the lookup column can point at.
  const targets = new Set<string>();
  for (const r of resolved) {
    const table = tables.lookup(r.mapping.table);
    for (const fm of r.mapping.fields.values()) {
      if (fm.lookup === undefined) continue;
      if (fm.lookup.table !== undefined) targets.add(fm.lookup.table.toLowerCase());
      else for (const t of table?.columns.get(fm.column)?.targets ?? []) targets.add(t.toLowerCase());
    }
  }
  await load(tables, [...targets].filter((t) => tables.lookup(t) === undefined));

  const sinks: Sink[] = [];
  const errors: string[] = [];
  let first: { stream: string; field?: string } | undefined;
  for (const r of resolved) {
    const table = tables.lookup(r.mapping.table);
    if (table === undefined) continue; // load() already failed for it
    const mapping = r.mapping;
    const { plan, issues } = planStream(mapping, table, tables.lookup);
    for (const issue of issues) {
      const where = `stream "${r.stream.name}"${issue.field !== undefined && issue.field !== "" ? ` field ${issue.field}` : ""}`;
      if (issue.severity === "error" || plan === undefined) {
        errors.push(`${where}: ${issue.message} (${issue.code})`);
        first ??= issue.field !== undefined ? { stream: r.stream.name, field: issue.field } : { stream: r.stream.name };
      } else await setup.output.log("WARN", `${where}: ${issue.message} (${issue.code})`);
    }
    if (plan === undefined) {
      if (issues.length === 0) errors.push(`stream "${r.stream.name}": the mapping cannot be planned`);
      continue;
    }
    if (mapping.mirror?.enabled === true) {
      const problems = mirrorIssues(plan, mapping.mirror);
      if (r.destinationSyncMode !== "overwrite") problems.push("mirror runs only for Airbyte streams in overwrite mode (it needs the stream's COMPLETE status)");
      if (!setup.canMirror) problems.push("mirror is not available in this command");
      for (const p of problems) errors.push(`stream "${r.stream.name}": ${p}`);
      if (problems.length > 0) {
        first ??= { stream: r.stream.name };
        continue;
      }
    }
    if (r.destinationSyncMode === "overwrite" && mapping.mirror?.enabled !== true) {
      // Airbyte's overwrite promises to replace the destination's data; upserts alone keep rows the
      // source dropped, and only mirror removes them. Said once per stream, before any record.
      await setup.output.log(
        "WARN",
        `stream "${r.stream.name}": overwrite upserts its records into ${table.logicalName}; rows no longer in the source stay there unless mirror is enabled for the stream`,
      );
    }
    sinks.push(new Sink({ key: streamKey(r.stream), descriptor: r.stream, mapping, plan, maxRows: setup.settings.batchSize, maxBytes: setup.settings.maxBatchBytes }));
  }
  if (errors.length > 0) {
    return { sinks, error: new ConfigError("mapping_invalid", `The mapping cannot be used: ${errors.join("; ")}`, [], first ?? {}) };
  }
  return { sinks };
}

/**
 * Sets each sink's parents: the sinks whose table its lookups bind to. Configured lookups always
 * count; pass-through lookups (a column that happens to be a lookup, e.g. account.primarycontactid)
 * count only when they do not close a cycle, so that a mapped contact → account lookup is not
 * undone by the account table's own lookup back to contact.
 */
export function orderSinks(all: readonly Sink[]): void {
  const strong = new Map<Sink, Set<string>>();
  const any = new Map<Sink, Set<string>>();
  for (const sink of all) {
    const own = sink.mapping.table.toLowerCase();
    const mapped = new Set<string>();
    for (const lp of sink.plan.lookups) for (const t of lp.targets.keys()) if (t.toLowerCase() !== own) mapped.add(t.toLowerCase());
    strong.set(sink, mapped);
    any.set(sink, new Set(lookupTargets(sink.plan).map((t) => t.toLowerCase())));
  }
  for (const sink of all) {
    const own = sink.mapping.table.toLowerCase();
    sink.parents = all.filter((p) => {
      if (p === sink) return false;
      const table = p.mapping.table.toLowerCase();
      if (strong.get(sink)?.has(table) === true) return true;
      return any.get(sink)?.has(table) === true && any.get(p)?.has(own) !== true;
    });
  }
}
