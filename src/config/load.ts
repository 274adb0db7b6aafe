// Config JSON (+ TARGET_DYNAMICS365_* environment variables) → validated, readonly ConnectorConfig.
import { createAjv, violations } from "./ajv.js";
import type { Violation } from "./ajv.js";
import { ConfigError, describeViolations } from "./errors.js";
import { connectionSpecification } from "./spec.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";
import type {
  AppUser,
  ConnectorConfig,
  FieldMapping,
  KeyStrategy,
  LookupMapping,
  MirrorConfig,
  NullHandling,
  StreamMapping,
  WriteMode,
  WriteSettings,
} from "./types.js";
import type { ValidateFunction } from "ajv";

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
}

export interface LoadedConfig {
  readonly config: ConnectorConfig;
  /** Every configured stream entry, including those that rely on the catalog for their table. */
  readonly entries: readonly StreamEntry[];
}

let validator: ValidateFunction | undefined;
function validate(): ValidateFunction {
  validator ??= createAjv().compile(connectionSpecification());
  return validator;
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
  const merged: JsonObject = { ...settingsFromEnv(env), ...raw };
  const check = validate();
  if (!check(merged)) {
    const list = violations(check.errors).map(friendlier);
    throw new ConfigError("config_invalid", describeViolations("The configuration is invalid", list), list);
  }
  return build(merged);
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
function num(o: JsonObject, k: string, fallback: number): number {
  const v = o[k];
  return typeof v === "number" ? v : fallback;
}
function bool(o: JsonObject, k: string, fallback: boolean): boolean {
  const v = o[k];
  return typeof v === "boolean" ? v : fallback;
}

function build(c: JsonObject): LoadedConfig {
  const problems: Violation[] = [];
  // The endpoint is often pasted without its final slash; request paths are resolved against it.
  const rawEndpoint = str(c, "web_api_endpoint") ?? "";
  const endpoint = new URL(rawEndpoint.endsWith("/") ? rawEndpoint : `${rawEndpoint}/`);
  const authority = new URL(str(c, "authority_host") ?? "https://login.microsoftonline.com");
  const users: AppUser[] = [];
  const extra = c["additional_app_users"];
  if (Array.isArray(extra)) {
    for (const u of extra) if (isJsonObject(u)) users.push({ clientId: str(u, "client_id") ?? "", clientSecret: str(u, "client_secret") ?? "" });
  }
  const entries: StreamEntry[] = [];
  const rawStreams = c["streams"];
  if (Array.isArray(rawStreams)) {
    rawStreams.forEach((s, i) => {
      if (isJsonObject(s)) entries.push(buildEntry(s, `/streams/${i}`, problems));
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
    batchSize: num(c, "batch_size", 1000),
    maxBatchBytes: num(c, "max_batch_bytes", 8 * 1024 * 1024),
    maxConcurrency: num(c, "max_concurrency", 8),
    retryBudgetSeconds: num(c, "retry_budget_seconds", 900),
    useBulkActions: bool(c, "use_bulk_actions", true),
    ...(bypass === "CustomSync" || bypass === "CustomAsync" || bypass === "CustomSync,CustomAsync" ? { bypassBusinessLogic: bypass } : {}),
    suppressFlows: bool(c, "suppress_power_automate_flows", false),
    duplicateDetection: bool(c, "duplicate_detection", false),
    ...(impersonate !== undefined ? { impersonateObjectId: impersonate } : {}),
    ...(deadLetter !== undefined ? { deadLetterPath: deadLetter } : {}),
    deadLetterIncludeRecord: bool(c, "dead_letter_include_record", true),
    maxRejectedShare: num(c, "max_rejected_share", 0.1),
    flushIntervalSeconds: num(c, "flush_interval_seconds", 60),
  };
  const caFile = str(c, "ca_file");
  const discover = c["discover_tables"];
  const discoverTables = Array.isArray(discover) ? discover.filter((t): t is string => typeof t === "string") : undefined;
  const streams: StreamMapping[] = [];
  for (const e of entries) if (e.table !== undefined) streams.push(completeEntry(e, e.table, e.mode ?? defaultMode(e.key)));
  const config: ConnectorConfig = {
    webApiEndpoint: endpoint,
    tenantId: str(c, "tenant_id") ?? "",
    clientId: str(c, "client_id") ?? "",
    clientSecret: str(c, "client_secret") ?? "",
    authorityHost: authority,
    ...(caFile !== undefined ? { caFile } : {}),
    additionalUsers: users,
    ...(discoverTables !== undefined ? { discoverTables } : {}),
    streams,
    write,
  };
  return { config, entries };
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
  if (!isJsonObject(k)) return undefined;
  const cols = k["columns"];
  if (Array.isArray(cols)) return { kind: "columns", columns: cols.filter((x): x is string => typeof x === "string") };
  if (typeof k["alternate_key"] === "string") return { kind: "alternate_key", name: k["alternate_key"] };
  if (typeof k["id_field"] === "string") return { kind: "id_field", field: k["id_field"] };
  const d = k["deterministic"];
  if (isJsonObject(d)) {
    const fields = Array.isArray(d["fields"]) ? d["fields"].filter((x): x is string => typeof x === "string") : [];
    return { kind: "deterministic", namespace: str(d, "namespace") ?? "", fields };
  }
  return undefined;
}

function buildLookup(l: JsonObject, path: string, problems: Violation[]): LookupMapping {
  const by = str(l, "by");
  const table = str(l, "table");
  const tableField = str(l, "table_field");
  let strategy: LookupMapping["strategy"];
  if (by === "alternate_key") {
    const name = str(l, "key_name");
    const cols = Array.isArray(l["key_columns"]) ? l["key_columns"].filter((x): x is string => typeof x === "string") : undefined;
    strategy = { by: "alternate_key", ...(name !== undefined ? { name } : {}), ...(cols !== undefined ? { columns: cols } : {}) };
  } else if (by === "deterministic") {
    const ns = str(l, "namespace");
    if (ns === undefined) problems.push({ path: `${path}/namespace`, message: "is required when by is deterministic" });
    strategy = { by: "deterministic", namespace: ns ?? "" };
  } else strategy = { by: "id" };
  return { ...(table !== undefined ? { table } : {}), ...(tableField !== undefined ? { tableField } : {}), strategy };
}

function buildEntry(s: JsonObject, path: string, problems: Violation[]): StreamEntry {
  const fields = new Map<string, FieldMapping>();
  const rawFields = s["fields"];
  if (isJsonObject(rawFields)) {
    for (const [source, target] of Object.entries(rawFields)) {
      const fpath = `${path}/fields/${source.replace(/~/g, "~0").replace(/\//g, "~1")}`;
      if (typeof target === "string") fields.set(source, { column: target });
      else if (isJsonObject(target)) {
        const nulls = str(target, "nulls");
        const delimiter = str(target, "delimiter");
        const lookup = target["lookup"];
        fields.set(source, {
          column: str(target, "column") ?? "",
          ...(isJsonObject(lookup) ? { lookup: buildLookup(lookup, `${fpath}/lookup`, problems) } : {}),
          ...(nulls === "ignore" || nulls === "write" ? { nulls } : {}),
          ...(delimiter !== undefined ? { delimiter } : {}),
        });
      }
    }
  }
  const mirrorRaw = s["mirror"];
  let mirror: MirrorConfig | undefined;
  if (isJsonObject(mirrorRaw)) {
    const scopeKind = str(mirrorRaw, "scope") ?? "owner";
    const column = str(mirrorRaw, "marker_column");
    const value = str(mirrorRaw, "marker_value");
    if (scopeKind === "marker" && (column === undefined || value === undefined)) {
      problems.push({ path: `${path}/mirror`, message: "scope marker needs marker_column and marker_value" });
    }
    mirror = {
      enabled: bool(mirrorRaw, "enabled", false),
      scope: scopeKind === "marker" ? { kind: "marker", column: column ?? "", value: value ?? "" } : { kind: "owner" },
      maxDeleteShare: num(mirrorRaw, "max_delete_share", 0.1),
      action: str(mirrorRaw, "action") === "delete" ? "delete" : "deactivate",
    };
  }
  const key = buildKey(s["key"]);
  const mode = str(s, "mode") as WriteMode | undefined;
  const namespace = str(s, "namespace");
  const table = str(s, "table");
  return {
    name: str(s, "name") ?? "",
    ...(namespace !== undefined ? { namespace } : {}),
    ...(table !== undefined ? { table } : {}),
    ...(mode !== undefined ? { mode } : {}),
    ...(key !== undefined ? { key } : {}),
    fields,
    nulls: str(s, "nulls") === "write" ? "write" : "ignore",
    truncateStrings: bool(s, "truncate_strings", false),
    deleteAction: str(s, "delete_action") === "delete" ? "delete" : "deactivate",
    ...(mirror !== undefined ? { mirror } : {}),
  };
}

/** Every secret in the configuration, for the output scrubber. */
export function secretsOf(config: ConnectorConfig): string[] {
  return [config.clientSecret, ...config.additionalUsers.map((u) => u.clientSecret)].filter((s) => s !== "");
}
