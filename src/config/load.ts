// Config JSON (+ TARGET_DYNAMICS365_* environment variables) → validated, readonly ConnectorConfig.
import { violations } from "./ajv.js";
import { validatorFor } from "./validators.js";
import type { Violation } from "./ajv.js";
import { hostProblems } from "./hosts.js";
import { secretShapeProblems } from "./secret-shape.js";
import { ConfigError, describeViolations } from "./errors.js";
import { connectionSpecification } from "./spec.js";
import { unknownSettings } from "./unknown.js";
import { upgradeConfig } from "./upgrade.js";
import { appUser, chosenBranchErrors, withCredentials } from "./credentials.js";
import { buildRelation } from "./relations.js";

export { pemSecrets, rawSecrets, secretsOf } from "./credentials.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";
import type {
  AppUser,
  ConnectorConfig,
  CredentialConfig,
  FieldMapping,
  KeyStrategy,
  LookupMapping,
  MirrorConfig,
  NullHandling,
  RelationConfig,
  StreamMapping,
  WriteMode,
  WriteSettings,
} from "./types.js";
import type { ErrorObject, ValidateFunction } from "ajv";

export const ENV_PREFIX = "TARGET_DYNAMICS365_";

/** A `streams` entry as configured: the table and mode may still come from the catalog. */
export interface StreamEntry {
  readonly name: string;
  readonly namespace?: string;
  readonly table?: string;
  readonly mode?: WriteMode;
  readonly key?: KeyStrategy;
  readonly fields: ReadonlyMap<string, FieldMapping>;
  readonly nulls: NullHandling;
  readonly truncateStrings: boolean;
  readonly deleteAction: "delete" | "deactivate";
  readonly mirror?: MirrorConfig;
  /** A membership or relationship stream (config/relations.ts): no table, no row writes. */
  readonly relation?: RelationConfig;
}

export interface LoadedConfig {
  readonly config: ConnectorConfig;
  /** Every configured stream entry, including those that rely on the catalog for their table. */
  readonly entries: readonly StreamEntry[];
  /** Warnings for the log: unknown settings by name, earlier forms read and how to write them now. */
  readonly notices: readonly string[];
  /** What a delete does in a stream without its own delete_action (hard_delete). */
  readonly defaultDeleteAction: "delete" | "deactivate";
}

// Defaults come from the schema (ajv's useDefaults), so spec/spec.json is their one source.
function validate(): ValidateFunction {
  return validatorFor("config");
}

/**
 * Settings from the environment (Meltano's convention), placed under the file's settings.
 * Non-string settings are parsed as JSON so that TARGET_DYNAMICS365_BATCH_SIZE=500 is a number.
 */
function settingsFromEnv(env: Readonly<Record<string, string | undefined>>): JsonObject {
  const props = connectionSpecification()["properties"];
  const out: JsonObject = {};
  if (!isJsonObject(props)) return out;
  for (const [name, schema] of Object.entries(props)) {
    const value = env[ENV_PREFIX + name.toUpperCase()];
    if (value === undefined) continue;
    if (isJsonObject(schema) && schema["type"] === "string") out[name] = value;
    else {
      try {
        out[name] = JSON.parse(value) as unknown;
      } catch {
        out[name] = value; // left for the schema to report with the setting's path
      }
    }
  }
  return out;
}

export function loadConfig(raw: unknown, env: Readonly<Record<string, string | undefined>> = {}): LoadedConfig {
  if (!isJsonObject(raw)) throw new ConfigError("config_invalid", "The configuration is not a JSON object", [{ path: "", message: "must be object" }]);
  // Earlier forms may come from the environment too (TARGET_DYNAMICS365_STREAMS).
  const upgraded = upgradeConfig({ ...settingsFromEnv(env), ...raw });
  // A copy: validation writes the schema's defaults into it.
  const { config: merged, problems } = withCredentials(structuredClone(upgraded.config), env);
  const unknown = unknownSettings(merged, connectionSpecification());
  const check = validate();
  const valid = check(merged);
  const hosts = hostProblems(merged);
  const secrets = secretShapeProblems(merged);
  if (!valid || problems.length > 0 || hosts.problems.length > 0 || secrets.length > 0) {
    const list = [...violations(chosenBranchErrors(check.errors, merged)).map(friendlier), ...problems, ...hosts.problems, ...secrets];
    throw new ConfigError("config_invalid", describeViolations("The configuration is invalid", list), list);
  }
  const notices = [...upgraded.notices, ...unknown.map((p) => `Unknown setting ${p} is ignored: the specification has no setting of that name (check its spelling)`), ...hosts.notices];
  return { ...build(merged, upgraded.mirrorRequested), notices };
}

/** Patterns say more as sentences; the value itself is still never shown. */
const PATTERN_HINTS: Readonly<Record<string, string>> = {
  "/web_api_endpoint": "must be an https URL ending in /api/data/v9.x/ (Power Apps → Settings → Developer resources → Web API endpoint)",
  "/authority_host": "must be an https URL such as https://login.microsoftonline.com",
  // The tenant goes into the authority URL as one path segment; a pasted authority URL or a stray
  // space would otherwise reach Entra ID as an unreadable OpenID configuration address.
  "/tenant_id": "must be the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com, without https:// or slashes",
};

function friendlier(v: Violation): Violation {
  const hint = PATTERN_HINTS[v.path];
  return hint !== undefined && (v.message.startsWith("must match pattern") || v.message.startsWith("must match format")) ? { path: v.path, message: hint } : v;
}

function str(o: JsonObject, k: string): string | undefined {
  const v = o[k];
  return typeof v === "string" ? v : undefined;
}
function strings(o: JsonObject, k: string): string[] | undefined {
  const v = o[k];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
}

/** A setting the schema gives a default, so it is always there after validation. */
function defaulted(o: JsonObject, k: string): unknown {
  if (!(k in o)) throw new Error(`spec/spec.json gives ${k} no default`);
  return o[k];
}
function num(o: JsonObject, k: string): number {
  const v = defaulted(o, k);
  if (typeof v !== "number") throw new Error(`${k} is not a number after validation`);
  return v;
}
function bool(o: JsonObject, k: string): boolean {
  const v = defaulted(o, k);
  if (typeof v !== "boolean") throw new Error(`${k} is not a boolean after validation`);
  return v;
}

/** `value` with the defaults of a `streams[]` entry (or of its `mirror` object) filled in from the schema. */
function withStreamDefaults(value: JsonObject, part: "stream" | "mirror" = "stream"): JsonObject {
  const v = validatorFor(part);
  const out = structuredClone(value);
  v(out);
  return out;
}

/**
 * Mirror settings (the rows an overwrite stream replaces). `enabled` is set only for a stream whose
 * configuration asked for mirror in so many words (earlier versions); catalog.ts enables it for
 * every stream synced in overwrite mode.
 */
function buildMirror(raw: unknown, path: string, requested: boolean, problems: Violation[]): MirrorConfig {
  const m = isJsonObject(raw) ? raw : withStreamDefaults({}, "mirror");
  const scopeKind = str(m, "scope");
  const column = str(m, "marker_column");
  const value = str(m, "marker_value");
  if (scopeKind === "marker" && (column === undefined || value === undefined)) {
    problems.push({ path: `${path}/mirror`, message: "scope marker needs marker_column and marker_value" });
  }
  return {
    enabled: requested,
    scope: scopeKind === "marker" ? { kind: "marker", column: column ?? "", value: value ?? "" } : { kind: "owner" },
    maxDeleteShare: num(m, "max_delete_share"),
    action: str(m, "action") === "delete" ? "delete" : "deactivate",
  };
}

/** Mirror settings with the schema's defaults, for a stream that has no entry in `streams`. */
export function defaultMirror(): MirrorConfig {
  return buildMirror(undefined, "", false, []);
}

/** The entry of a stream the configuration does not list (data activation): the schema's defaults. */
export function defaultEntry(d: { readonly name: string; readonly namespace?: string }, deleteAction: "delete" | "deactivate"): StreamEntry {
  const raw = withStreamDefaults({ name: d.name, ...(d.namespace !== undefined ? { namespace: d.namespace } : {}) });
  return buildEntry(raw, "", [], { mirrorRequested: false, hardDelete: deleteAction === "delete" });
}

function build(c: JsonObject, mirrorRequested: ReadonlySet<number>): LoadedConfig {
  const problems: Violation[] = [];
  // The endpoint is often pasted without its final slash; request paths are resolved against it.
  const rawEndpoint = str(c, "web_api_endpoint") ?? "";
  const endpoint = new URL(rawEndpoint.endsWith("/") ? rawEndpoint : `${rawEndpoint}/`);
  const authority = new URL(String(defaulted(c, "authority_host")));
  const users: AppUser[] = [];
  const extra = c["additional_app_users"];
  if (Array.isArray(extra)) {
    extra.forEach((u) => {
      if (isJsonObject(u)) users.push(appUser(str(u, "client_id") ?? "", u));
    });
  }
  const hardDelete = bool(c, "hard_delete");
  const main = appUser(str(c, "client_id") ?? "", c);
  const entries: StreamEntry[] = [];
  const rawStreams = c["streams"];
  if (Array.isArray(rawStreams)) {
    rawStreams.forEach((s, i) => {
      if (isJsonObject(s)) entries.push(buildEntry(s, `/streams/${i}`, problems, { mirrorRequested: mirrorRequested.has(i), hardDelete }));
    });
  }
  const seen = new Set<string>();
  entries.forEach((e, i) => {
    const id = `${e.namespace ?? ""}\u0000${e.name}`;
    if (seen.has(id)) problems.push({ path: `/streams/${i}/name`, message: "names a stream that an earlier entry already maps" });
    seen.add(id);
  });
  if (problems.length > 0) throw new ConfigError("config_invalid", describeViolations("The configuration is invalid", problems), problems);

  const bypass = str(c, "bypass_business_logic");
  const impersonate = str(c, "impersonate_caller_object_id");
  const deadLetter = str(c, "dead_letter_path");
  const write: WriteSettings = {
    batchSize: num(c, "batch_size"),
    maxBatchBytes: num(c, "max_batch_bytes"),
    maxConcurrency: num(c, "max_concurrency"),
    retryBudgetSeconds: num(c, "retry_budget_seconds"),
    useBulkActions: bool(c, "use_bulk_actions"),
    writeOnlyChanges: bool(c, "write_only_changes"),
    ...(bypass === "CustomSync" || bypass === "CustomAsync" || bypass === "CustomSync,CustomAsync" ? { bypassBusinessLogic: bypass } : {}),
    suppressFlows: bool(c, "suppress_power_automate_flows"),
    duplicateDetection: bool(c, "duplicate_detection"),
    ...(impersonate !== undefined ? { impersonateObjectId: impersonate } : {}),
    ...(deadLetter !== undefined ? { deadLetterPath: deadLetter } : {}),
    deadLetterIncludeRecord: bool(c, "dead_letter_include_record"),
    maxRejectedShare: num(c, "max_rejected_share"),
    flushIntervalSeconds: num(c, "flush_interval_seconds"),
  };
  const caFile = str(c, "ca_file");
  const discoverTables = strings(c, "discover_tables");
  const streams: StreamMapping[] = [];
  for (const e of entries) if (e.table !== undefined && e.relation === undefined) streams.push(completeEntry(e, e.table, e.mode ?? defaultMode(e.key)));
  const config: ConnectorConfig = {
    webApiEndpoint: endpoint,
    tenantId: str(c, "tenant_id") ?? "",
    clientId: main.clientId,
    clientSecret: main.clientSecret,
    ...(main.credentials !== undefined ? { credentials: main.credentials } : {}),
    authorityHost: authority,
    ...(caFile !== undefined ? { caFile } : {}),
    additionalUsers: users,
    ...(discoverTables !== undefined ? { discoverTables } : {}),
    streams,
    write,
  };
  return { config, entries, notices: [], defaultDeleteAction: hardDelete ? "delete" : "deactivate" };
}

export function defaultMode(key: KeyStrategy | undefined): WriteMode {
  return key === undefined || key.kind === "none" ? "create" : "upsert";
}

/** A stream entry with its table and mode settled (from config or from the catalog). */
export function completeEntry(e: StreamEntry, table: string, mode: WriteMode, key?: KeyStrategy): StreamMapping {
  const k = e.key ?? key ?? { kind: "none" };
  return {
    name: e.name,
    ...(e.namespace !== undefined ? { namespace: e.namespace } : {}),
    table,
    mode,
    key: k,
    fields: e.fields,
    nulls: e.nulls,
    truncateStrings: e.truncateStrings,
    deleteAction: e.deleteAction,
    ...(e.mirror !== undefined ? { mirror: e.mirror } : {}),
  };
}

function buildKey(k: unknown): KeyStrategy | undefined {
  if (!isJsonObject(k) || k["key_type"] === "none") return undefined;
  const cols = strings(k, "columns");
  if (cols !== undefined) return { kind: "columns", columns: cols };
  if (typeof k["alternate_key"] === "string") return { kind: "alternate_key", name: k["alternate_key"] };
  if (typeof k["id_field"] === "string") return { kind: "id_field", field: k["id_field"] };
  const d = k["deterministic"];
  if (isJsonObject(d)) return { kind: "deterministic", namespace: str(d, "namespace") ?? "", fields: strings(d, "fields") ?? [] };
  return undefined;
}

function buildLookup(l: JsonObject, path: string, problems: Violation[]): LookupMapping {
  const by = str(l, "by");
  const table = str(l, "table");
  const tableField = str(l, "table_field");
  // The schema cannot say "one of the two" in a form the Airbyte UI renders, so it is said here.
  if ((table === undefined) === (tableField === undefined)) problems.push({ path, message: "a lookup needs exactly one of table and table_field" });
  let strategy: LookupMapping["strategy"];
  if (by === "alternate_key") {
    const name = str(l, "key_name");
    const cols = strings(l, "key_columns");
    strategy = { by: "alternate_key", ...(name !== undefined ? { name } : {}), ...(cols !== undefined ? { columns: cols } : {}) };
  } else if (by === "deterministic") {
    const ns = str(l, "namespace");
    if (ns === undefined) problems.push({ path: `${path}/namespace`, message: "is required when by is deterministic" });
    strategy = { by: "deterministic", namespace: ns ?? "" };
  } else strategy = { by: "id" };
  return { ...(table !== undefined ? { table } : {}), ...(tableField !== undefined ? { tableField } : {}), strategy };
}

function buildFields(raw: unknown, path: string, problems: Violation[]): Map<string, FieldMapping> {
  const fields = new Map<string, FieldMapping>();
  if (!Array.isArray(raw)) return fields;
  raw.forEach((f: unknown, i: number) => {
    if (!isJsonObject(f)) return;
    const fpath = `${path}/fields/${i}`;
    const source = str(f, "source") ?? "";
    if (fields.has(source)) problems.push({ path: `${fpath}/source`, message: "names a source field that an earlier entry already maps" });
    const value = isJsonObject(f["value"]) ? f["value"] : {};
    const nulls = str(f, "nulls");
    const delimiter = value["value_type"] === "choice" ? str(value, "delimiter") : undefined;
    fields.set(source, {
      column: str(f, "column") ?? "",
      ...(value["value_type"] === "lookup" ? { lookup: buildLookup(value, `${fpath}/value`, problems) } : {}),
      ...(nulls === "ignore" || nulls === "write" ? { nulls } : {}),
      ...(delimiter !== undefined ? { delimiter } : {}),
    });
  });
  return fields;
}

function buildEntry(s: JsonObject, path: string, problems: Violation[], o: { readonly mirrorRequested: boolean; readonly hardDelete: boolean }): StreamEntry {
  const relation = buildRelation(s, path, problems, buildKey);
  const key = buildKey(s["key"]);
  const mode = str(s, "mode") as WriteMode | undefined;
  const namespace = str(s, "namespace");
  const table = str(s, "table");
  const deleteAction = str(s, "delete_action");
  return {
    name: str(s, "name") ?? "",
    ...(namespace !== undefined ? { namespace } : {}),
    ...(table !== undefined ? { table } : {}),
    ...(mode !== undefined ? { mode } : {}),
    ...(key !== undefined ? { key } : {}),
    fields: buildFields(s["fields"], path, problems),
    nulls: str(s, "nulls") === "write" ? "write" : "ignore",
    truncateStrings: bool(s, "truncate_strings"),
    deleteAction: deleteAction === "delete" || deleteAction === "deactivate" ? deleteAction : o.hardDelete ? "delete" : "deactivate",
    mirror: buildMirror(s["mirror"], path, o.mirrorRequested, problems),
    ...(relation !== undefined ? { relation } : {}),
  };
}

