// The embedded default environment, used when no --environment file is given. Ids are fixed so tests
// and docs can name them.
import type { AppRegistration } from "./types.js";
import type { Environment } from "./types.js";
import type { TableDefinition } from "./schema.js";
import { defaultManyToManyRelationships, defaultTables } from "./default-tables.js";
import { TokenIssuer } from "./federation.js";

export const DEFAULT_IDS = {
  tenantId: "4f1c6a2e-8b3d-4e5f-9a7b-0c1d2e3f4a5b",
  organizationId: "a7e2c4d1-5b6f-4a8e-9c0d-1e2f3a4b5c6d",
  businessUnitId: "b3d5f7a9-1c2e-4f6a-8b0d-2e4f6a8c0e1f",
  mainApp: {
    clientId: "11111111-2222-4333-8444-555555555555",
    objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d01",
    systemUserId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f601",
    secret: "emulator-main-secret",
  },
  readOnlyApp: {
    clientId: "22222222-3333-4444-8555-666666666666",
    objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d02",
    systemUserId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f602",
    secret: "emulator-readonly-secret",
  },
  notAUserApp: {
    clientId: "33333333-4444-4555-8666-777777777777",
    objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d03",
    secret: "emulator-notauser-secret",
  },
  expiredApp: {
    clientId: "44444444-5555-4666-8777-888888888888",
    objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d04",
    systemUserId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f604",
    secret: "emulator-expired-secret",
  },
  /** Signs in with a certificate only (emulator/certs/app-cert.pem, its key app-key.pem). */
  certificateApp: {
    clientId: "88888888-9999-4aaa-8bbb-cccccccccccc",
    objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d21",
    systemUserId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f621",
  },
  /** Signs in with workload identity federation only: a service account token of the emulated cluster. */
  federatedApp: {
    clientId: "99999999-aaaa-4bbb-8ccc-dddddddddddd",
    objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d22",
    systemUserId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f622",
    issuer: "https://eastus.oic.prod-aks.emulator.invalid/4f1c6a2e-8b3d-4e5f-9a7b-0c1d2e3f4a5b/0e4c6d2a-3b5f-4a7c-9d1e-2f3a4b5c6d7e/",
    subject: "system:serviceaccount:airbyte:destination-dynamics365",
  },
  /** An interactive user and a team, so ownerid@odata.bind has targets besides the app users. */
  userId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f610",
  teamId: "d1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f620",
} as const;

const FAR_FUTURE = "2099-12-31T23:59:59Z";

/** The public certificate of the certificate app (test-only; its key is emulator/certs/app-key.pem). */
export const CERTIFICATE_APP_PEM = `-----BEGIN CERTIFICATE-----
MIIDWTCCAkGgAwIBAgIUCuU38kThYB462AZ/6M39zjC9cggwDQYJKoZIhvcNAQEL
BQAwOzE5MDcGA1UEAwwwZGVzdGluYXRpb24tZHluYW1pY3MzNjUgZW11bGF0b3Ig
Y2VydGlmaWNhdGUgYXBwMCAXDTI2MTIwMjA2MjUyOFoYDzIxMjYxMTA4MDYyNTI4
WjA7MTkwNwYDVQQDDDBkZXN0aW5hdGlvbi1keW5hbWljczM2NSBlbXVsYXRvciBj
ZXJ0aWZpY2F0ZSBhcHAwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQDv
/3bg8ORoGutDbZRXOt3sap8r7pvpGqtrUdnpz1mhsDvHmBUMWiykYOUYTsQ/Y2j/
1yqtWU/8OmNdPpQaMNQSg854876P5I+WkBQtHYUxMaVHDjgkxh85CormXLmE96KL
MkprdhVBdjCuPbRo+mkbhO2N1W3Y4OH4wrXqm7tDZtXfwbFHFbKplABbIXHDtE04
dU59fEkzK9R7X9lAjJcWp51s1TDJYl/D2JtR+vkIuWVFKsm+AcBaMBm89UwPUU/f
dJW8HdEaozHekludBJQjz1AuooqzDZbj1dm8ig0BmpyxZy/MgiBiQJy1QSWOArdu
TLg0dDxVn54tW8SQilD5AgMBAAGjUzBRMB0GA1UdDgQWBBTUgIGtexkDW6vJnvox
aq9bn4Tu5zAfBgNVHSMEGDAWgBTUgIGtexkDW6vJnvoxaq9bn4Tu5zAPBgNVHRMB
Af8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQA/IZ5SY8/Kgrk1kwuBf5wh0YU9
LcBMv7j1Fi4KvHTPGwBRd3IghXZa08ZezU4J98695QNIoTrCpeRXVlPKf8119iP3
QZ2FXpCkzDVpGQC7EeUk/gf9XzglZb8lIrb2q2reztLokxCoXHudlfHaBb7LbVAs
PI1TgYlg7FoSgJYC/1Qp61TB1KM7rUT8+fLL7UqC0RvQ4hhNvGaDG5lN+ikDMBfu
niZ4asM88yE4tmx9KVkOmI+uezIn0m0i1cFP48EJg21cThy6SucmN4dkYPZyA7kr
yZ6/vTm7CYVmz22EfA6WC2fT1i3+QZfc8GUa2J7vXkU4oVvLtXaN9k5Q0MxY
-----END CERTIFICATE-----
`;

let issuer: TokenIssuer | undefined;

/**
 * The emulated cluster's service account token issuer, trusted by the federated app. Its key is
 * made once per process, so tests mint tokens in-process: `defaultTokenIssuer().mint({ subject })`.
 */
export function defaultTokenIssuer(): TokenIssuer {
  issuer ??= new TokenIssuer(DEFAULT_IDS.federatedApp.issuer);
  return issuer;
}

function apps(tables: readonly TableDefinition[]): AppRegistration[] {
  const all = ["create", "read", "write", "delete", "append", "appendto"] as const;
  const everything: Record<string, readonly (typeof all)[number][]> = {};
  for (const t of tables) everything[t.logicalName] = all;
  const { mainApp, readOnlyApp, notAUserApp, expiredApp, certificateApp, federatedApp } = DEFAULT_IDS;
  return [
    {
      clientId: mainApp.clientId,
      displayName: "destination-dynamics365 (emulator main app)",
      objectId: mainApp.objectId,
      secrets: [{ value: mainApp.secret, expiresAt: FAR_FUTURE }],
      applicationUser: {
        systemUserId: mainApp.systemUserId,
        privileges: everything,
        specialPrivileges: ["prvBypassCustomBusinessLogic", "prvActOnBehalfOfAnotherUser"],
      },
    },
    {
      clientId: readOnlyApp.clientId,
      displayName: "read-only on account",
      objectId: readOnlyApp.objectId,
      secrets: [{ value: readOnlyApp.secret, expiresAt: FAR_FUTURE }],
      applicationUser: { systemUserId: readOnlyApp.systemUserId, privileges: { account: ["read"] } },
    },
    {
      clientId: notAUserApp.clientId,
      displayName: "registered in the tenant, not an application user",
      objectId: notAUserApp.objectId,
      secrets: [{ value: notAUserApp.secret, expiresAt: FAR_FUTURE }],
    },
    {
      clientId: expiredApp.clientId,
      displayName: "only an expired secret",
      objectId: expiredApp.objectId,
      secrets: [{ value: expiredApp.secret, expiresAt: "2020-01-01T00:00:00Z" }],
      applicationUser: { systemUserId: expiredApp.systemUserId, privileges: everything },
    },
    // The two below have no systemuser row (the default environment keeps four): writes still
    // name them as owner and creator, and WhoAmI answers their systemuserid.
    {
      clientId: certificateApp.clientId,
      displayName: "signs in with a certificate",
      objectId: certificateApp.objectId,
      secrets: [],
      certificates: [{ pem: CERTIFICATE_APP_PEM }],
      applicationUser: { systemUserId: certificateApp.systemUserId, privileges: everything },
    },
    {
      clientId: federatedApp.clientId,
      displayName: "signs in with workload identity federation",
      objectId: federatedApp.objectId,
      secrets: [],
      federatedCredentials: [{ name: "aks-airbyte", issuer: federatedApp.issuer, subject: federatedApp.subject, audiences: ["api://AzureADTokenExchange"] }],
      applicationUser: { systemUserId: federatedApp.systemUserId, privileges: everything },
    },
  ];
}

export function defaultEnvironment(): Environment {
  const tables = defaultTables();
  const { mainApp, readOnlyApp, expiredApp, userId, teamId, businessUnitId } = DEFAULT_IDS;
  return {
    tenantId: DEFAULT_IDS.tenantId,
    organizationId: DEFAULT_IDS.organizationId,
    businessUnitId,
    baseLanguage: 1033,
    apps: apps(tables),
    federationIssuers: [defaultTokenIssuer().definition],
    tables,
    manyToManyRelationships: defaultManyToManyRelationships(),
    rows: {
      systemuser: [
        { systemuserid: mainApp.systemUserId, fullname: "# destination-dynamics365", applicationid: mainApp.clientId },
        { systemuserid: readOnlyApp.systemUserId, fullname: "# read-only app", applicationid: readOnlyApp.clientId },
        { systemuserid: expiredApp.systemUserId, fullname: "# expired app", applicationid: expiredApp.clientId },
        { systemuserid: userId, fullname: "Alex Wilber", domainname: "alexw@contoso.example" },
      ],
      team: [{ teamid: teamId, name: "Data Integration" }],
    },
  };
}
