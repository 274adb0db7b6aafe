// The Microsoft Entra ID side of the emulator: OpenID discovery and the v2.0 token
// endpoint for the client credentials grant (client secret, or a client assertion: a certificate's
// signed JWT or a federated external token, see assertions.ts), with Entra's error JSON and AADSTS codes
// (entra-docs reference-error-codes.md; see ../shared/reference/dataverse-web-api.md §1).
// msal-node sends extra form fields (x-client-SKU, x-client-VER, ..., client-request-id in the
// query); they are ignored, as Entra does.
import { randomUUID } from "node:crypto";
import type { AppRegistration } from "./types.js";
import type { TokenService } from "./tokens.js";
import { checkClientAssertion, JWT_BEARER } from "./assertions.js";
import type { FederationIssuer } from "./federation.js";

export interface EntraContext {
  readonly tenantId: string;
  readonly apps: readonly AppRegistration[];
  /** `https://host:port` of this emulator: authority host and Dataverse resource at once. */
  readonly origin: string;
  readonly port: number;
  readonly tokens: TokenService;
  readonly now: () => number;
  /** Issuers trusted for workload identity federation, with their keys. */
  readonly issuers?: readonly FederationIssuer[];
}

export interface EntraResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The client that asked for a token, when known (for stats). */
  readonly clientId?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store, no-cache",
  pragma: "no-cache",
} as const;

interface EntraError {
  readonly status: number;
  readonly error: string;
  readonly code: number;
  readonly description: string;
}

function entraTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function errorResponse(ctx: EntraContext, e: EntraError, correlationId: string | undefined, clientId?: string): EntraResponse {
  const traceId = randomUUID();
  const correlation = correlationId !== undefined && GUID.test(correlationId) ? correlationId : randomUUID();
  const timestamp = entraTimestamp(ctx.now());
  const body = {
    error: e.error,
    error_description: `AADSTS${e.code}: ${e.description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlation}\r\nTimestamp: ${timestamp}`,
    error_codes: [e.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlation,
    error_uri: `${ctx.origin}/error?code=${e.code}`,
  };
  return {
    status: e.status,
    headers: { ...JSON_HEADERS, "x-ms-request-id": traceId },
    body: JSON.stringify(body),
    ...(clientId === undefined ? {} : { clientId }),
  };
}

type TenantCheck = { readonly ok: true } | { readonly ok: false; readonly error: EntraError };

function checkTenant(ctx: EntraContext, tenant: string): TenantCheck {
  if (tenant.toLowerCase() === ctx.tenantId.toLowerCase()) return { ok: true };
  if (!GUID.test(tenant) && !DNS_NAME.test(tenant)) {
    return {
      ok: false,
      error: {
        status: 400,
        error: "invalid_request",
        code: 900023,
        description: `Specified tenant identifier '${tenant}' is neither a valid DNS name, nor a valid external domain.`,
      },
    };
  }
  return {
    ok: false,
    error: {
      status: 400,
      error: "invalid_tenant",
      code: 90002,
      description: `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
    },
  };
}

function openIdConfiguration(ctx: EntraContext): Record<string, unknown> {
  const base = `${ctx.origin}/${ctx.tenantId}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${ctx.origin}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: null,
    cloud_instance_name: "microsoftonline.com",
    cloud_graph_host_name: "graph.windows.net",
    msgraph_host: "graph.microsoft.com",
    rbac_url: "https://pas.windows.net",
  };
}

/** Whether `scope` names this emulator's Dataverse resource with /.default (or the //.default form). */
function scopeResource(ctx: EntraContext, scope: string): "ok" | "not-default" | "unknown-resource" {
  const scopes = scope.split(" ").filter((s) => s !== "");
  const target = scopes.find((s) => s.endsWith("/.default"));
  if (target === undefined) return "not-default";
  let resource = target.slice(0, -"/.default".length);
  if (resource.endsWith("/")) resource = resource.slice(0, -1);
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    return "unknown-resource";
  }
  const sameHost = ["127.0.0.1", "localhost", "[::1]", new URL(ctx.origin).hostname].includes(url.hostname);
  if (url.protocol !== "https:" || !sameHost || Number(url.port || 443) !== ctx.port || (url.pathname !== "/" && url.pathname !== "")) {
    return "unknown-resource";
  }
  return "ok";
}

/**
 * client_secret_basic (RFC 6749 §2.3.1), which the OpenID configuration advertises and Microsoft's
 * client credentials page says is supported beside the body fields: `Basic base64(urlencode(id):urlencode(secret))`.
 * The docs do not say which wins when both are sent; the body's fields are kept, as most servers do.
 */
function basicCredentials(authorization: string | undefined): { clientId: string; secret: string } | undefined {
  const match = authorization === undefined ? null : /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization);
  if (match === null || match[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const formDecode = (v: string): string => {
    try {
      return decodeURIComponent(v.replace(/\+/g, " "));
    } catch {
      return v;
    }
  };
  return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

function tokenRequest(
  ctx: EntraContext,
  tenant: string,
  contentType: string | undefined,
  body: string,
  query: URLSearchParams,
  authorization: string | undefined,
): EntraResponse {
  const correlationId = query.get("client-request-id") ?? undefined;
  const tenantCheck = checkTenant(ctx, tenant);
  if (!tenantCheck.ok) return errorResponse(ctx, tenantCheck.error, correlationId);
  const form = contentType !== undefined && /application\/x-www-form-urlencoded/i.test(contentType) ? new URLSearchParams(body) : new URLSearchParams();
  const basic = basicCredentials(authorization);
  if (basic !== undefined) {
    if ((form.get("client_id") ?? "") === "") form.set("client_id", basic.clientId);
    if ((form.get("client_secret") ?? "") === "") form.set("client_secret", basic.secret);
  }
  const missing = (name: string): EntraError => ({
    status: 400,
    error: "invalid_request",
    code: 900144,
    description: `The request body must contain the following parameter: '${name}'.`,
  });
  const grantType = form.get("grant_type");
  if (grantType === null) return errorResponse(ctx, missing("grant_type"), correlationId);
  if (grantType !== "client_credentials") {
    return errorResponse(
      ctx,
      { status: 400, error: "unsupported_grant_type", code: 70003, description: "The app requested an unsupported grant type." },
      correlationId,
    );
  }
  const clientId = form.get("client_id");
  if (clientId === null || clientId === "") return errorResponse(ctx, missing("client_id"), correlationId);
  const app = ctx.apps.find((a) => a.clientId.toLowerCase() === clientId.toLowerCase());
  if (app === undefined) {
    return errorResponse(
      ctx,
      {
        status: 400,
        error: "unauthorized_client",
        code: 700016,
        description: `Application with identifier '${clientId}' was not found in the directory '${ctx.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      },
      correlationId,
      clientId,
    );
  }
  const assertion = form.get("client_assertion");
  if (assertion !== null && assertion !== "") {
    const refused = assertionRefusal(ctx, tenant, app, assertion, form.get("client_assertion_type"));
    if (refused !== undefined) return errorResponse(ctx, refused, correlationId, app.clientId);
    return issueFor(ctx, app, form.get("scope"), correlationId);
  }
  const secret = form.get("client_secret");
  if (secret === null || secret === "") {
    return errorResponse(
      ctx,
      {
        status: 401,
        error: "invalid_client",
        code: 7000218,
        description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      },
      correlationId,
      app.clientId,
    );
  }
  const matching = app.secrets.filter((s) => s.value === secret);
  if (matching.length === 0) {
    return errorResponse(
      ctx,
      {
        status: 401,
        error: "invalid_client",
        code: 7000215,
        description: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
      },
      correlationId,
      app.clientId,
    );
  }
  const nowMs = ctx.now();
  if (!matching.some((s) => Date.parse(s.expiresAt) > nowMs)) {
    return errorResponse(
      ctx,
      {
        status: 401,
        error: "invalid_client",
        code: 7000222,
        description: `The provided client secret keys for app '${app.clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
      },
      correlationId,
      app.clientId,
    );
  }
  return issueFor(ctx, app, form.get("scope"), correlationId);
}

/** Learn (certificate credentials): aud is the token endpoint; the v1 and v2.0 ones, by tenant id or as the request named it. */
function assertionAudiences(ctx: EntraContext, tenant: string): string[] {
  return [...new Set([ctx.tenantId, tenant])].flatMap((t) => [`${ctx.origin}/${t}/oauth2/v2.0/token`, `${ctx.origin}/${t}/oauth2/token`]);
}

function assertionRefusal(ctx: EntraContext, tenant: string, app: AppRegistration, assertion: string, type: string | null): EntraError | undefined {
  if (type !== JWT_BEARER) {
    return {
      status: 400,
      error: "invalid_request",
      code: 900144,
      description: `The request body must contain the following parameter: 'client_assertion_type' (${JWT_BEARER}).`,
    };
  }
  const check = checkClientAssertion(app, assertion, { audiences: assertionAudiences(ctx, tenant), issuers: ctx.issuers ?? [], now: ctx.now() });
  return check.ok ? undefined : { status: check.status, error: check.error, code: check.code, description: check.description };
}

function issueFor(ctx: EntraContext, app: AppRegistration, scope: string | null, correlationId: string | undefined): EntraResponse {
  const missing = (name: string): EntraError => ({
    status: 400,
    error: "invalid_request",
    code: 900144,
    description: `The request body must contain the following parameter: '${name}'.`,
  });
  if (scope === null || scope === "") return errorResponse(ctx, missing("scope"), correlationId, app.clientId);
  const resource = scopeResource(ctx, scope);
  if (resource === "not-default") {
    return errorResponse(
      ctx,
      {
        status: 400,
        error: "invalid_scope",
        code: 1002012,
        description: `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      },
      correlationId,
      app.clientId,
    );
  }
  if (resource === "unknown-resource") {
    const named = scope.split(" ").find((s) => s.endsWith("/.default"))?.replace(/\/+\.default$/, "") ?? scope;
    return errorResponse(
      ctx,
      {
        status: 400,
        error: "invalid_resource",
        code: 500011,
        description: `The resource principal named ${named} was not found in the tenant named ${ctx.tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      },
      correlationId,
      app.clientId,
    );
  }
  const issued = ctx.tokens.issue({ clientId: app.clientId, objectId: app.objectId });
  return {
    status: 200,
    headers: { ...JSON_HEADERS, "x-ms-request-id": randomUUID() },
    body: JSON.stringify({
      token_type: "Bearer",
      expires_in: issued.expiresIn,
      ext_expires_in: issued.expiresIn,
      access_token: issued.accessToken,
    }),
    clientId: app.clientId,
  };
}

/**
 * Answers an Entra ID request, or returns undefined when the path is not an Entra endpoint.
 * `pathname` is the decoded path; `query` the parsed query string.
 */
export function handleEntra(
  ctx: EntraContext,
  method: string,
  pathname: string,
  query: URLSearchParams,
  contentType: string | undefined,
  body: string,
  authorization?: string,
): EntraResponse | undefined {
  const segments = pathname.split("/").filter((s) => s !== "");
  const tenant = segments[0];
  if (tenant === undefined) return undefined;
  const rest = segments.slice(1).join("/");

  if (tenant === "common" && rest === "discovery/instance") {
    // Instance discovery, which msal skips when the host is in knownAuthorities.
    const host = new URL(ctx.origin).host;
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: JSON.stringify({
        tenant_discovery_endpoint: `${ctx.origin}/${ctx.tenantId}/v2.0/.well-known/openid-configuration`,
        "api-version": "1.1",
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      }),
    };
  }
  if (rest === "v2.0/.well-known/openid-configuration" || rest === ".well-known/openid-configuration") {
    if (method !== "GET") return methodNotAllowed();
    const check = checkTenant(ctx, tenant);
    if (!check.ok) return errorResponse(ctx, check.error, query.get("client-request-id") ?? undefined);
    return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(openIdConfiguration(ctx)) };
  }
  if (rest === "discovery/v2.0/keys" || rest === "discovery/keys") {
    // The tokens are HMAC-signed with a process-local key, so there is no public key to publish.
    return { status: 200, headers: JSON_HEADERS, body: JSON.stringify({ keys: [] }) };
  }
  if (rest === "oauth2/v2.0/token") {
    if (method !== "POST") return methodNotAllowed();
    return tokenRequest(ctx, tenant, contentType, body, query, authorization);
  }
  return undefined;
}

function methodNotAllowed(): EntraResponse {
  return {
    status: 405,
    headers: JSON_HEADERS,
    body: JSON.stringify({ error: "invalid_request", error_description: "The HTTP method is not allowed on this endpoint." }),
  };
}

/** The client id of a client_secret_basic header, for fault selectors and statistics. */
export function basicClientId(authorization: string | undefined): string | undefined {
  return basicCredentials(authorization)?.clientId;
}
