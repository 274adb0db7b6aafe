// `check`: token → WhoAmI → every configured mapping planned against live metadata, with a read
// probe per table. One CONNECTION_STATUS; each problem says what to change.
import { ConfigError } from "../config/errors.js";
import { isMicrosoftSignInHost } from "../config/hosts.js";
import type { LoadedConfig } from "../config/load.js";
import { AuthError, UNTRUSTED_HINT } from "../dataverse/auth.js";
import { DataverseError } from "../dataverse/errors.js";
import { didYouMean, TableNotFoundError } from "../dataverse/metadata.js";
import type { TableMeta } from "../model/table-meta.js";
import { writeHeaders } from "../dataverse/writer.js";
import { TransportError } from "../http/transport.js";
import { planStream } from "../mapping/plan.js";
import type { LineSink, Output } from "../protocol/emit.js";
import { toConnectorError } from "../pipeline/failures.js";
import { mirrorSettingIssues } from "../pipeline/mirror.js";
import { openDeadLetterFile } from "../pipeline/deadletter.js";
import { checkRelations } from "../pipeline/relations.js";
import { RelationsApi } from "../dataverse/relations.js";
import { systemClock } from "../http/clock.js";
import { connect, readConfig } from "./connect.js";
import type { Connection } from "./connect.js";
import type { CommandIO } from "./io.js";

/** The audience (aud) of a JWT access token, read without verifying it; never logged. */
export function tokenAudience(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    const aud = typeof claims === "object" && claims !== null ? (claims as { aud?: unknown }).aud : undefined;
    return typeof aud === "string" ? aud : undefined;
  } catch {
    return undefined;
  }
}

function hostOf(aud: string): string | undefined {
  try {
    return new URL(aud).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Whether a token's audience host names the endpoint's environment. An environment answers at both
 * <org>.crm*.dynamics.com and <org>.api.crm*.dynamics.com, and Microsoft's docs do not say which of
 * the two the aud claim carries for a scope on the other, so the `.api` label is not a mismatch.
 */
export function sameEnvironmentHost(audHost: string, endpointHost: string): boolean {
  const strip = (h: string): string => h.toLowerCase().replace(/^([^.]+)\.api\./, "$1.");
  return strip(audHost) === strip(endpointHost);
}

/** Actionable sentence for a failure of the connection itself. */
function explain(err: unknown, endpoint: URL): string {
  if (err instanceof AuthError) {
    const what: Record<string, string> = {
      tenant_id: "check tenant_id",
      client_id: "check client_id",
      client_secret: "check client_secret (use the secret's Value, and renew it if it expired)",
      credentials: "check the sign-in method in credentials",
      authority_host: "check authority_host and the network path to it",
      web_api_endpoint: "check web_api_endpoint: it must be an environment of this tenant",
      unknown: "check tenant_id, client_id and client_secret, and that authority_host is reachable",
    };
    return `Sign-in failed: ${err.message}; ${what[err.field] ?? what["unknown"] ?? ""}`;
  }
  if (err instanceof TransportError) {
    const host = endpoint.host;
    switch (err.code) {
      case "ENOTFOUND":
        return `Cannot reach ${host}: the host name does not resolve; check web_api_endpoint`;
      case "ECONNREFUSED":
        return `Cannot reach ${host}: the connection was refused; check web_api_endpoint's host and port`;
      case "CERT_UNTRUSTED":
        return `The certificate of ${host} is not trusted; ${UNTRUSTED_HINT}`;
      case "CERT_INVALID":
        return `The certificate of ${host} is invalid for that host or expired; check web_api_endpoint`;
      default:
        return `Cannot reach ${host} (${err.code}); check web_api_endpoint and the network`;
    }
  }
  if (err instanceof DataverseError) {
    switch (err.kind) {
      case "not_member":
        return `The app (client_id) is not an application user in this environment (403 ${err.code}); add it in the Power Platform admin center under Environments → Settings → Application users, with a security role`;
      case "unauthorized":
        return `Dataverse refused the token (401); check that web_api_endpoint is the environment the app was added to`;
      case "not_found":
        return `The Web API answered 404 at ${endpoint.pathname}; web_api_endpoint must end in /api/data/v9.x/ (copy it from Power Apps → Settings → Developer resources)`;
      default:
        return toConnectorError(err).message;
    }
  }
  return toConnectorError(err).message;
}

/** ", signed in with <method> (expires …)": which credential worked, and until when if known. */
function signedInWith(conn: Connection): string {
  const s = conn.tokens.signedInWith();
  if (s === undefined) return "";
  const expiry = s.expiresAt !== undefined ? `, which expires on ${s.expiresAt.toISOString().slice(0, 10)}` : s.method === "client_secret" ? " (Entra ID does not tell when a secret expires)" : "";
  return `, signed in with ${s.index === 1 ? "the standby credential, " : ""}${s.description}${expiry}`;
}

/** Where the credential went: the host a user must trust with the secret. */
function signInHost(authority: URL): string {
  return isMicrosoftSignInHost(authority)
    ? `the credential was sent to the Microsoft sign-in host ${authority.host}`
    : `the credential was sent to ${authority.host}, which is not a Microsoft sign-in host (allow_custom_authority_host is true)`;
}

async function checkStreams(conn: Connection, loaded: LoadedConfig, output: Output): Promise<string[]> {
  const problems: string[] = [];
  // Relationship streams (membership, many-to-many): the list and the relationship as a sync finds them.
  const relations = loaded.entries.flatMap((e) => (e.relation !== undefined ? [{ stream: { name: e.name }, relation: e.relation }] : []));
  if (relations.length > 0) {
    problems.push(...(await checkRelations({ api: new RelationsApi({ client: conn.client, clock: systemClock }), tables: conn.metadata, output }, relations)));
  }
  for (const mapping of loaded.config.streams) {
    let table: TableMeta;
    try {
      table = await conn.metadata.loadTable(mapping.table);
    } catch (err) {
      if (err instanceof TableNotFoundError) problems.push(`stream "${mapping.name}": table "${mapping.table}" does not exist in this environment${didYouMean(err.suggestion)}`);
      else problems.push(`stream "${mapping.name}": ${explain(err, conn.client.endpoint)}`);
      continue;
    }
    for (const fm of mapping.fields.values()) {
      const targets = fm.lookup?.table !== undefined ? [fm.lookup.table] : fm.lookup !== undefined ? (table.columns.get(fm.column)?.targets ?? []) : [];
      for (const t of targets) await conn.metadata.loadTable(t).catch(() => undefined);
    }
    const { plan, issues } = planStream(mapping, table, conn.metadata.lookup);
    for (const i of issues) {
      if (i.severity === "error") problems.push(`stream "${mapping.name}"${i.field !== undefined && i.field !== "" ? ` field ${i.field}` : ""}: ${i.message}`);
    }
    if (plan === undefined && !issues.some((i) => i.severity === "error")) problems.push(`stream "${mapping.name}": the mapping cannot be planned`);
    // The mirror key and the sync mode come from the catalog, which check does not have; write
    // reports those. Everything else about mirror depends only on the config and the table.
    if (plan !== undefined && mapping.mirror !== undefined) {
      for (const p of mirrorSettingIssues(plan, mapping.mirror)) problems.push(`stream "${mapping.name}": ${p}`);
    }
    // Metadata reads need no table privilege; a one-row read shows whether the role covers the table.
    try {
      for await (const page of conn.client.query(table.entitySetName, { select: [table.primaryIdAttribute], top: 1 })) {
        void page;
        break;
      }
    } catch (err) {
      if (err instanceof DataverseError && err.kind === "forbidden") {
        problems.push(`stream "${mapping.name}": the application user cannot read table ${table.logicalName} (403 ${err.code}); give its security role Read (and Create/Write for this mode) on ${table.logicalName}`);
      } else problems.push(`stream "${mapping.name}": ${explain(err, conn.client.endpoint)}`);
    }
  }
  return problems;
}

/**
 * The bypass and impersonation options need special privileges. A WhoAmI carrying the option's
 * header is harmless and, on the emulator, is refused with the same 403 a write would get.
 * Microsoft's docs do not say whether Dataverse checks these headers on a read, so a pass here
 * proves nothing; the first write then reports the missing privilege by name (pipeline/failures.ts).
 */
async function checkOptionPrivileges(conn: Connection, loaded: LoadedConfig): Promise<string[]> {
  const w = loaded.config.write;
  const probes: [string, Record<string, string>][] = [];
  if (w.bypassBusinessLogic !== undefined) probes.push(["bypass_business_logic", writeHeaders({ bypassBusinessLogic: w.bypassBusinessLogic })]);
  if (w.impersonateObjectId !== undefined) probes.push(["impersonate_caller_object_id", writeHeaders({ impersonateObjectId: w.impersonateObjectId })]);
  const problems: string[] = [];
  for (const [option, headers] of probes) {
    try {
      await conn.client.get("WhoAmI", headers);
    } catch (err) {
      const hints = option === "bypass_business_logic" ? { bypassBusinessLogic: true } : { impersonating: true };
      problems.push(`${option}: ${err instanceof DataverseError && err.kind === "forbidden" ? toConnectorError(err, {}, hints).message : explain(err, conn.client.endpoint)}`);
    }
  }
  return problems;
}

/**
 * With bypass_business_logic off, whether it could be turned on: a WhoAmI carrying the bypass
 * header, which Dataverse refuses (403) to a user without prvBypassCustomBusinessLogic as it refuses
 * a write. Said in the status message, never a failure: bypassing plug-ins stays the customer's choice.
 */
async function bypassNote(conn: Connection, loaded: LoadedConfig): Promise<string> {
  if (loaded.config.write.bypassBusinessLogic !== undefined) return "";
  try {
    await conn.client.get("WhoAmI", writeHeaders({ bypassBusinessLogic: "CustomSync" }));
    return "; bypass_business_logic is off (the application user holds prvBypassCustomBusinessLogic, so it could be turned on)";
  } catch (err) {
    if (err instanceof DataverseError && err.kind === "forbidden") {
      return "; bypass_business_logic is off (the application user lacks prvBypassCustomBusinessLogic, which turning it on would need)";
    }
    return "";
  }
}

export async function runCheck(command: { config: string }, io: CommandIO, output: Output, sinks: readonly LineSink[]): Promise<number> {
  // A configuration problem is a FAILED status, not a TRACE (Airbyte: "If check fails because of a
  // configuration issue … it will return a failed response"): reading the config and opening the
  // connection (an unreadable ca_file, say) both count.
  const failedOnConfig = async (err: unknown): Promise<boolean> => {
    if (err instanceof ConfigError || (err instanceof Error && "failureType" in err)) {
      await output.connectionStatus("FAILED", err.message);
      return true;
    }
    return false;
  };
  let loaded: LoadedConfig;
  try {
    loaded = await readConfig(io, command.config, sinks, output);
  } catch (err) {
    if (await failedOnConfig(err)) return 0;
    throw err;
  }
  // The dead-letter file is opened as a sync would open it (created 0600 if missing), so a
  // folder, a missing parent or a symbolic link fails the check rather than the first rejection.
  const deadLetterPath = loaded.config.write.deadLetterPath;
  if (deadLetterPath !== undefined) {
    try {
      await (await openDeadLetterFile(deadLetterPath)).close();
    } catch (err) {
      if (await failedOnConfig(err)) return 0;
      throw err;
    }
  }
  const endpoint = loaded.config.webApiEndpoint;
  let conn: Connection;
  try {
    conn = await connect(loaded.config, io, (message) => void output.log("WARN", message));
  } catch (err) {
    if (await failedOnConfig(err)) return 0;
    throw err;
  }
  try {
    let token: string;
    try {
      token = await conn.tokens.getToken();
    } catch (err) {
      await output.connectionStatus("FAILED", explain(err, endpoint));
      return 0;
    }
    const audHost = hostOf(tokenAudience(token) ?? "");
    if (audHost !== undefined && !sameEnvironmentHost(audHost, endpoint.host)) {
      await output.connectionStatus("FAILED", `The token's audience (${audHost}) does not match web_api_endpoint's host (${endpoint.host}); check web_api_endpoint`);
      return 0;
    }
    let userId: string;
    try {
      userId = (await conn.client.whoAmI()).userId;
    } catch (err) {
      await output.connectionStatus("FAILED", explain(err, endpoint));
      return 0;
    }
    const problems: string[] = [];
    // Each additional application user is a separate identity: its own secret, its own membership.
    for (const [i, client] of conn.clients.slice(1).entries()) {
      try {
        await client.whoAmI();
      } catch (err) {
        problems.push(`additional_app_users/${i} (client ${client.clientId}): ${explain(err, endpoint)}`);
      }
    }
    problems.push(...(await checkOptionPrivileges(conn, loaded)));
    problems.push(...(await checkStreams(conn, loaded, output)));
    if (problems.length > 0) {
      await output.connectionStatus("FAILED", `Connected as application user ${userId}, but the mapping has problems: ${problems.join("; ")}`);
      return 0;
    }
    const bypass = await bypassNote(conn, loaded);
    await output.connectionStatus(
      "SUCCEEDED",
      `Connected to ${endpoint.host} as application user ${userId}${signedInWith(conn)}; ${signInHost(loaded.config.authorityHost)}; ${loaded.config.streams.length} stream mapping(s) checked${bypass}`,
    );
    return 0;
  } finally {
    await conn.close();
  }
}
