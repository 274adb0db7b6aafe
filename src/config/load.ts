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
  CredentialConfig,
  FieldMapping,
  KeyStrategy,
  LookupMapping,
  MirrorConfig,
  NullHandling,
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
  const { config: merged, problems } = withCredentials({ ...settingsFromEnv(env), ...raw }, env);
  const check = validate();
  if (!check(merged) || problems.length > 0) {
    const list = [...violations(chosenBranchErrors(check.errors, merged)).map(friendlier), ...problems];
    throw new ConfigError("config_invalid", describeViolations("The configuration is invalid", list), list);
  }
  return build(merged);
}

const AUTH_TYPES = ["client_secret", "certificate", "workload_identity"] as const;

/**
 * The older shape (top-level client_secret, pool users with client_secret) read as the
 * `credentials` choice, and workload identity's settings filled from Azure Workload Identity's
 * environment (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST, AZURE_FEDERATED_TOKEN_FILE)
 * where the config leaves them out.
 */
function withCredentials(c: JsonObject, env: Readonly<Record<string, string | undefined>>): { config: JsonObject; problems: Violation[] } {
  const problems: Violation[] = [];
  const out: JsonObject = { ...c };
  const secret = out["client_secret"];
  if (out["credentials"] === undefined && typeof secret === "string") out["credentials"] = { auth_type: "client_secret", client_secret: secret };
  else if (out["credentials"] !== undefined && secret !== undefined) {
    problems.push({ path: "/client_secret", message: "is set beside credentials; keep only credentials (client_secret is the older form of credentials with auth_type client_secret)" });
  }
  if (out["credentials"] === undefined && secret === undefined) {
    // Not `required` in the spec, so that configurations saved with the older top-level
    // client_secret still pass the platform's validation against it.
    problems.push({ path: "/credentials", message: "is required (or the older top-level client_secret)" });
  }
  const creds = out["credentials"];
  if (isJsonObject(creds) && creds["auth_type"] === "workload_identity") {
    const fill = (key: string, variable: string): void => {
      const v = env[variable];
      if (out[key] === undefined && v !== undefined && v !== "") out[key] = key === "authority_host" ? v.replace(/\/+$/, "") : v;
    };
    fill("client_id", "AZURE_CLIENT_ID");
    fill("tenant_id", "AZURE_TENANT_ID");
    fill("authority_host", "AZURE_AUTHORITY_HOST");
  }
  for (const key of ["credentials", "standby_credentials"]) {
    const v = out[key];
    if (isJsonObject(v) && v["auth_type"] === "workload_identity" && v["token_file"] === undefined) {
      const file = env["AZURE_FEDERATED_TOKEN_FILE"];
      if (file !== undefined && file !== "") out[key] = { ...v, token_file: file };
      else problems.push({ path: `/${key}/token_file`, message: "is required when AZURE_FEDERATED_TOKEN_FILE is not set (Azure Workload Identity sets it in the pod)" });
    }
  }
  for (const key of ["credentials", "standby_credentials"]) problems.push(...certificateProblems(out[key], `/${key}`));
  const users = out["additional_app_users"];
  if (Array.isArray(users)) {
    out["additional_app_users"] = users.map((u, i) => {
      if (!isJsonObject(u)) return u;
      const s = u["client_secret"];
      if (u["credentials"] === undefined && typeof s === "string") return { ...u, credentials: { auth_type: "client_secret", client_secret: s } };
      if (u["credentials"] === undefined) problems.push({ path: `/additional_app_users/${i}/credentials`, message: "is required (or the older client_secret)" });
      else if (s !== undefined) problems.push({ path: `/additional_app_users/${i}/client_secret`, message: "is set beside credentials; keep only credentials" });
      for (const key of ["credentials", "standby_credentials"]) {
        const v = u[key];
        problems.push(...certificateProblems(v, `/additional_app_users/${i}/${key}`));
        if (isJsonObject(v) && v["auth_type"] === "workload_identity" && v["token_file"] === undefined) {
          problems.push({ path: `/additional_app_users/${i}/${key}/token_file`, message: "is required (AZURE_FEDERATED_TOKEN_FILE serves the main app only)" });
        }
      }
      return u;
    });
  }
  return { config: out, problems };
}

/** A certificate is given as PEM text or as a file, exactly one way; so is a separate key. */
function certificateProblems(v: unknown, path: string): Violation[] {
  if (!isJsonObject(v) || v["auth_type"] !== "certificate") return [];
  const out: Violation[] = [];
  if ((v["certificate"] === undefined) === (v["certificate_path"] === undefined)) {
    out.push({ path: `${path}/certificate`, message: "give either certificate (PEM text) or certificate_path, exactly one" });
  }
  if (v["private_key"] !== undefined && v["private_key_path"] !== undefined) {
    out.push({ path: `${path}/private_key`, message: "give either private_key (PEM text) or private_key_path, not both" });
  }
  return out;
}

function pointer(doc: unknown, path: string): unknown {
  let at: unknown = doc;
  for (const raw of path.split("/").slice(1)) {
    const part = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(at)) at = at[Number(part)];
    else if (isJsonObject(at)) at = at[part];
    else return undefined;
  }
  return at;
}

/**
 * ajv reports a failed `oneOf` with the errors of every branch. For the credential choices the
 * branch is named by auth_type, so only the chosen branch's errors say anything useful.
 */
function chosenBranchErrors(errors: readonly ErrorObject[] | null | undefined, doc: JsonObject): ErrorObject[] {
  const list = [...(errors ?? [])];
  const choices = new Map<string, number | undefined>();
  const extra: ErrorObject[] = [];
  for (const e of list) {
    if (e.keyword !== "oneOf" || !/\/(credentials|standby_credentials)\/oneOf$/.test(e.schemaPath)) continue;
    const value = pointer(doc, e.instancePath);
    const type = isJsonObject(value) ? value["auth_type"] : undefined;
    const index = typeof type === "string" ? (AUTH_TYPES as readonly string[]).indexOf(type) : -1;
    choices.set(e.schemaPath, index >= 0 ? index : undefined);
    if (index < 0) {
      extra.push({ ...e, instancePath: `${e.instancePath}/auth_type`, keyword: "enum", params: { allowedValues: [...AUTH_TYPES] }, message: "must be one of" });
    }
  }
  if (choices.size === 0) return list;
  const kept = list.filter((e) => {
    if (choices.has(e.schemaPath)) return false;
    for (const [prefix, chosen] of choices) {
      if (e.schemaPath.startsWith(`${prefix}/`)) {
        const branch = Number(e.schemaPath.slice(prefix.length + 1).split("/")[0]);
        return chosen !== undefined && branch === chosen;
      }
    }
    return true;
  });
  return [...kept, ...extra];
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
    extra.forEach((u) => {
      if (isJsonObject(u)) users.push(appUser(str(u, "client_id") ?? "", u));
    });
  }
  const main = appUser(str(c, "client_id") ?? "", c);
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

/** One application user's credentials: `credentials` first, then `standby_credentials`. */
function appUser(clientId: string, o: JsonObject): AppUser {
  const credentials: CredentialConfig[] = [];
  for (const key of ["credentials", "standby_credentials"]) {
    const v = o[key];
    if (isJsonObject(v)) {
      const cred = credential(v);
      if (cred !== undefined) credentials.push(cred);
    }
  }
  const first = credentials[0];
  return { clientId, clientSecret: first?.kind === "client_secret" ? first.secret : "", credentials };
}

function credential(o: JsonObject): CredentialConfig | undefined {
  switch (str(o, "auth_type")) {
    case "client_secret":
      return { kind: "client_secret", secret: str(o, "client_secret") ?? "" };
    case "certificate": {
      const pem = str(o, "certificate");
      const file = str(o, "certificate_path");
      const keyPem = str(o, "private_key");
      const keyFile = str(o, "private_key_path");
      // withCredentials() reported a certificate given both ways or not at all.
      if ((pem === undefined) === (file === undefined) || (keyPem !== undefined && keyFile !== undefined)) return undefined;
      const passphrase = str(o, "private_key_passphrase");
      return {
        kind: "certificate",
        certificate: pem !== undefined ? { pem } : { path: file ?? "" },
        ...(keyPem !== undefined ? { privateKey: { pem: keyPem } } : keyFile !== undefined ? { privateKey: { path: keyFile } } : {}),
        ...(passphrase !== undefined ? { passphrase } : {}),
        thumbprint: str(o, "thumbprint") === "sha1" ? "sha1" : "sha256",
        sendChain: bool(o, "send_certificate_chain", false),
      };
    }
    case "workload_identity":
      return { kind: "workload_identity", tokenFile: str(o, "token_file") ?? "" };
    default:
      return undefined;
  }
}

/** Every secret in the configuration, for the output scrubber: secrets, key PEMs and passphrases. */
export function secretsOf(config: ConnectorConfig): string[] {
  const out = [config.clientSecret, ...config.additionalUsers.map((u) => u.clientSecret)];
  for (const user of [config, ...config.additionalUsers]) {
    for (const c of user.credentials ?? []) {
      if (c.kind === "client_secret") out.push(c.secret);
      if (c.kind === "certificate") {
        if ("pem" in c.certificate) out.push(...pemSecrets(c.certificate.pem));
        if (c.privateKey !== undefined && "pem" in c.privateKey) out.push(...pemSecrets(c.privateKey.pem));
        if (c.passphrase !== undefined) out.push(c.passphrase);
      }
    }
  }
  return [...new Set(out.filter((s) => s !== ""))];
}

/**
 * The private key blocks of a PEM text, whole and line by line (a printed key is as bad when
 * only one line of it shows). Certificates are public and are not listed.
 */
export function pemSecrets(pem: string): string[] {
  const out: string[] = [];
  for (const m of pem.matchAll(/-----BEGIN ([A-Z ]*PRIVATE KEY)-----[\s\S]*?-----END \1-----/g)) {
    out.push(m[0]);
    for (const line of m[0].split(/\r?\n/)) if (line.length >= 16 && !line.startsWith("-----")) out.push(line.trim());
  }
  return out;
}

/** Secret-looking values of a raw config that may not even validate, for the output scrubber. */
export function rawSecrets(raw: unknown, depth = 0): string[] {
  if (depth > 6) return [];
  if (Array.isArray(raw)) return raw.flatMap((v) => rawSecrets(v, depth + 1));
  if (!isJsonObject(raw)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v === "string" && /secret|passphrase|private_key$/i.test(k)) out.push(v);
    if (typeof v === "string" && k === "certificate") out.push(...pemSecrets(v));
    if (typeof v === "object" && v !== null) out.push(...rawSecrets(v, depth + 1));
  }
  return out.filter((s) => s !== "");
}
