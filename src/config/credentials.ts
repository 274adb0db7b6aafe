// The sign-in settings of a configuration: the older shapes (top-level client_secret, a pool user's
// client_secret) read as the `credentials` choice, workload identity filled from Azure Workload
// Identity's environment, each user's credentials parsed, and every secret listed for the scrubber.
import type { ErrorObject } from "ajv";
import type { Violation } from "./ajv.js";
import type { AppUser, ConnectorConfig, CredentialConfig } from "./types.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";

function str(o: JsonObject, k: string): string | undefined {
  const v = o[k];
  return typeof v === "string" ? v : undefined;
}

const AUTH_TYPES = ["client_secret", "certificate", "workload_identity"] as const;

/**
 * The older shape (top-level client_secret, pool users with client_secret) read as the
 * `credentials` choice, and workload identity's settings filled from Azure Workload Identity's
 * environment (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST, AZURE_FEDERATED_TOKEN_FILE)
 * where the config leaves them out.
 */
export function withCredentials(c: JsonObject, env: Readonly<Record<string, string | undefined>>): { config: JsonObject; problems: Violation[] } {
  const problems: Violation[] = [];
  const out: JsonObject = withoutNoStandby(c);
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
      u = withoutNoStandby(u);
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

/** A standby credential left at "None" (the form's first option) is no standby credential. */
function withoutNoStandby(o: JsonObject): JsonObject {
  const standby = o["standby_credentials"];
  if (!isJsonObject(standby) || standby["auth_type"] !== "none") return o;
  const { standby_credentials: _none, ...rest } = o;
  return rest;
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
export function chosenBranchErrors(errors: readonly ErrorObject[] | null | undefined, doc: JsonObject): ErrorObject[] {
  const list = [...(errors ?? [])];
  const choices = new Map<string, number | undefined>();
  const extra: ErrorObject[] = [];
  for (const e of list) {
    if (e.keyword !== "oneOf" || !/\/(credentials|standby_credentials)\/oneOf$/.test(e.schemaPath)) continue;
    const value = pointer(doc, e.instancePath);
    const type = isJsonObject(value) ? value["auth_type"] : undefined;
    const index = typeof type === "string" ? (AUTH_TYPES as readonly string[]).indexOf(type) : -1;
    // standby_credentials' first option is "None", so its branches sit one further on.
    const offset = e.schemaPath.endsWith("/standby_credentials/oneOf") ? 1 : 0;
    choices.set(e.schemaPath, index >= 0 ? index + offset : undefined);
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

/** One application user's credentials: `credentials` first, then `standby_credentials`. */
export function appUser(clientId: string, o: JsonObject): AppUser {
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
        sendChain: o["send_certificate_chain"] === true,
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
