// The configured catalog → one resolved mapping per stream. A stream reaches a table through
// its catalog entry (data activation: destination_object_name + primary_key) or through a
// config `streams` entry, which overrides and complements the catalog.
import { ConfigError, describeViolations } from "./errors.js";
import { UnknownStreamError } from "../protocol/errors.js";
import type { Violation } from "./ajv.js";
import { completeEntry, defaultEntry, defaultMirror, defaultMode } from "./load.js";
import type { LoadedConfig, StreamEntry } from "./load.js";
import type { KeyStrategy, RelationConfig, StreamMapping, WriteMode } from "./types.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { DestinationSyncMode, JsonObject, StreamDescriptor } from "../protocol/airbyte.js";

export interface ConfiguredStream {
  readonly stream: StreamDescriptor;
  readonly jsonSchema: JsonObject;
  readonly syncMode: "full_refresh" | "incremental";
  readonly destinationSyncMode: DestinationSyncMode;
  readonly primaryKey: readonly (readonly string[])[];
  readonly destinationObjectName?: string;
  readonly generationId?: number;
  readonly minimumGenerationId?: number;
}

export interface ResolvedStream {
  readonly stream: StreamDescriptor;
  readonly mapping: StreamMapping;
  /** Absent in Singer mode. */
  readonly destinationSyncMode?: DestinationSyncMode;
}

const SYNC_MODES: readonly DestinationSyncMode[] = ["append", "overwrite", "append_dedup", "update", "soft_delete"];

export function parseCatalog(raw: unknown): ConfiguredStream[] {
  const problems: Violation[] = [];
  if (!isJsonObject(raw) || !Array.isArray(raw["streams"])) {
    throw new ConfigError("catalog_invalid", "The catalog is invalid: /streams is required and must be an array", [{ path: "/streams", message: "is required" }]);
  }
  const out: ConfiguredStream[] = [];
  raw["streams"].forEach((entry: unknown, i: number) => {
    const p = `/streams/${i}`;
    if (!isJsonObject(entry)) return void problems.push({ path: p, message: "must be object" });
    const s = entry["stream"];
    if (!isJsonObject(s) || typeof s["name"] !== "string") return void problems.push({ path: `${p}/stream/name`, message: "is required" });
    const dsm = entry["destination_sync_mode"] ?? "append";
    if (typeof dsm !== "string" || !(SYNC_MODES as readonly string[]).includes(dsm)) {
      problems.push({ path: `${p}/destination_sync_mode`, message: `must be one of ${SYNC_MODES.join(", ")}` });
      return;
    }
    const pk = entry["primary_key"] ?? [];
    if (!Array.isArray(pk) || !pk.every((k) => Array.isArray(k) && k.every((x) => typeof x === "string"))) {
      problems.push({ path: `${p}/primary_key`, message: "must be an array of arrays of strings" });
      return;
    }
    const objectName = entry["destination_object_name"];
    if (objectName !== undefined && objectName !== null && typeof objectName !== "string") {
      problems.push({ path: `${p}/destination_object_name`, message: "must be string" });
      return;
    }
    const ns = s["namespace"];
    const gen = entry["generation_id"];
    const minGen = entry["minimum_generation_id"];
    out.push({
      stream: typeof ns === "string" ? { name: s["name"], namespace: ns } : { name: s["name"] },
      jsonSchema: isJsonObject(s["json_schema"]) ? s["json_schema"] : {},
      syncMode: entry["sync_mode"] === "incremental" ? "incremental" : "full_refresh",
      destinationSyncMode: dsm as DestinationSyncMode,
      primaryKey: pk as string[][],
      ...(typeof objectName === "string" && objectName !== "" ? { destinationObjectName: objectName } : {}),
      ...(typeof gen === "number" ? { generationId: gen } : {}),
      ...(typeof minGen === "number" ? { minimumGenerationId: minGen } : {}),
    });
  });
  if (problems.length > 0) throw new ConfigError("catalog_invalid", describeViolations("The catalog is invalid", problems), problems);
  return out;
}

function findEntry(entries: readonly StreamEntry[], d: StreamDescriptor): StreamEntry | undefined {
  return (
    entries.find((e) => e.name === d.name && e.namespace !== undefined && e.namespace === d.namespace) ??
    entries.find((e) => e.name === d.name && e.namespace === undefined)
  );
}

function modeForSyncMode(dsm: DestinationSyncMode, deleteAction: "delete" | "deactivate"): WriteMode {
  switch (dsm) {
    case "append":
      return "create";
    case "append_dedup":
    case "overwrite":
      return "upsert";
    case "update":
      return "update";
    case "soft_delete":
      return deleteAction;
  }
}

/** Nested key paths cannot address a column, as in the Bulk CDK ("Nested keys are not supported"). */
function keyFromPrimaryKey(pk: readonly (readonly string[])[], where: string, problems: Violation[]): KeyStrategy | undefined {
  if (pk.length === 0) return undefined;
  const cols: string[] = [];
  pk.forEach((path, i) => {
    if (path.length !== 1 || path[0] === undefined) problems.push({ path: `${where}/primary_key/${i}`, message: "nested keys cannot be matching keys" });
    else cols.push(path[0]);
  });
  return { kind: "columns", columns: cols };
}

/** Key properties name source fields; a renamed field's key column is its mapped column. */
function keyColumns(entry: StreamEntry, key: KeyStrategy | undefined): KeyStrategy | undefined {
  if (key?.kind !== "columns") return key;
  return { kind: "columns", columns: key.columns.map((f) => entry.fields.get(f)?.column ?? f) };
}

export interface ResolveOptions {
  /**
   * Overwrite replaces (default): a stream synced in overwrite mode removes, once it completes, the
   * rows this connector owns that the sync did not write (pipeline/mirror.ts, with its safety cap).
   * Off for a dry run, which removes nothing.
   */
  readonly overwriteReplaces?: boolean;
}

/** The destination object discover offers for a marketing list: `list:<list name>`. */
export const LIST_OBJECT_PREFIX = "list:";

/** A stream that keeps a relationship in line (pipeline/relations.ts) instead of writing rows. */
export interface ResolvedRelation {
  readonly stream: StreamDescriptor;
  readonly relation: RelationConfig;
  /** Absent in Singer mode. */
  readonly destinationSyncMode?: DestinationSyncMode;
}

/**
 * The catalog's relation streams: those whose entry has `membership` or `relationship`, and those
 * whose destination object is a marketing list (data activation: the members are matched by the
 * catalog's primary_key, columns of the list's member table; only added, as the connection says no
 * more).
 */
export function resolveRelationStreams(loaded: LoadedConfig, catalog: readonly ConfiguredStream[]): ResolvedRelation[] {
  const problems: Violation[] = [];
  const out: ResolvedRelation[] = [];
  catalog.forEach((cs, i) => {
    const entry = findEntry(loaded.entries, cs.stream);
    if (entry?.relation !== undefined) {
      out.push({ stream: cs.stream, relation: entry.relation, destinationSyncMode: cs.destinationSyncMode });
      return;
    }
    const object = cs.destinationObjectName;
    if (object === undefined || !object.startsWith(LIST_OBJECT_PREFIX) || entry?.table !== undefined) return;
    const key = keyFromPrimaryKey(cs.primaryKey, `/streams/${i}`, problems);
    if (key?.kind !== "columns") {
      problems.push({ path: `/streams/${i}/primary_key`, message: `stream "${cs.stream.name}" adds members to a marketing list and needs a matching key (primary_key)` });
      return;
    }
    out.push({
      stream: cs.stream,
      relation: {
        kind: "membership",
        list: { kind: "name", name: object.slice(LIST_OBJECT_PREFIX.length) },
        member: { key },
        removeMissing: false,
        maxRemoveShare: 0.1,
      },
      destinationSyncMode: cs.destinationSyncMode,
    });
  });
  if (problems.length > 0) throw new ConfigError("catalog_unmapped", describeViolations("The catalog cannot be mapped", problems), problems);
  return out;
}

/** Singer: the entry of a stream that keeps a relationship, if it is one. */
export function resolveSingerRelation(loaded: LoadedConfig, name: string): ResolvedRelation | undefined {
  const entry = findEntry(loaded.entries, { name });
  return entry?.relation === undefined ? undefined : { stream: { name }, relation: entry.relation };
}

export function resolveAirbyteStreams(loaded: LoadedConfig, catalog: readonly ConfiguredStream[], options: ResolveOptions = {}): ResolvedStream[] {
  const overwriteReplaces = options.overwriteReplaces ?? true;
  const problems: Violation[] = [];
  const out: ResolvedStream[] = [];
  const relations = new Set(resolveRelationStreams(loaded, catalog).map((r) => r.stream));
  catalog.forEach((cs, i) => {
    const where = `/streams/${i}`;
    if (relations.has(cs.stream)) return;
    const entry = findEntry(loaded.entries, cs.stream) ?? defaultEntry(cs.stream, loaded.defaultDeleteAction);
    const table = entry.table ?? cs.destinationObjectName;
    if (table === undefined) {
      problems.push({
        path: `${where}/destination_object_name`,
        message: `stream "${cs.stream.name}" has no destination object and no entry in the configuration's streams`,
      });
      return;
    }
    const mode = entry.mode ?? modeForSyncMode(cs.destinationSyncMode, entry.deleteAction);
    // The protocol: primary_key is "REQUIRED if destination_sync_mode is *_dedup. Otherwise it is
    // ignored." The platform copies a source's own key into it for append streams too, and that key is
    // seldom an alternate key of the table, so a create leaves it alone (a configured key still applies).
    const catalogKey = mode === "create" ? undefined : keyColumns(entry, keyFromPrimaryKey(cs.primaryKey, where, problems));
    const completed = completeEntry(entry, table, mode, catalogKey);
    // Airbyte's overwrite promises the source's rows and no others: scoped to the rows this
    // connector owns (the mirror settings) and capped by max_delete_share, as mirror always was.
    const mapping =
      overwriteReplaces && cs.destinationSyncMode === "overwrite" ? { ...completed, mirror: { ...(completed.mirror ?? defaultMirror()), enabled: true } } : completed;
    if (mapping.key.kind === "none" && mode !== "create") {
      problems.push({ path: `${where}/primary_key`, message: `stream "${cs.stream.name}" in mode ${mode} needs a key (primary_key or a configured key)` });
      return;
    }
    out.push({ stream: cs.stream, mapping, destinationSyncMode: cs.destinationSyncMode });
  });
  if (problems.length > 0) throw new ConfigError("catalog_unmapped", describeViolations("The catalog cannot be mapped", problems), problems);
  return out;
}

/** Singer: a SCHEMA message names the stream and its key properties; the config must map it. */
export function resolveSingerStream(loaded: LoadedConfig, name: string, keyProperties: readonly string[], line: number): ResolvedStream {
  const d: StreamDescriptor = { name };
  const entry = findEntry(loaded.entries, d);
  if (entry?.table === undefined) {
    throw new UnknownStreamError(
      "stream_unmapped",
      `line ${line}: the source sent stream "${name}", which no entry of the configuration's streams maps to a table; add an entry for it (name and table), or have the source stop sending it`,
      { line, stream: name },
    );
  }
  const key = keyColumns(entry, keyProperties.length > 0 ? { kind: "columns", columns: keyProperties } : undefined);
  const mode = entry.mode ?? defaultMode(entry.key ?? key);
  return { stream: d, mapping: completeEntry(entry, entry.table, mode, key) };
}
