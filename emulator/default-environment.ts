// The embedded default environment, used when no --environment file is given. Ids are fixed so tests
// and docs can name them.
import type { AppRegistration } from "./types.js";
import type { Environment } from "./types.js";
import type { TableDefinition } from "./schema.js";
import { defaultTables } from "./default-tables.js";

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
  /** An interactive user and a team, so ownerid@odata.bind has targets besides the app users. */
  userId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f610",
  teamId: "d1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f620",
} as const;

const FAR_FUTURE = "2099-12-31T23:59:59Z";

function apps(tables: readonly TableDefinition[]): AppRegistration[] {
  const all = ["create", "read", "write", "delete", "append", "appendto"] as const;
  const everything: Record<string, readonly (typeof all)[number][]> = {};
  for (const t of tables) everything[t.logicalName] = all;
  const { mainApp, readOnlyApp, notAUserApp, expiredApp } = DEFAULT_IDS;
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
    tables,
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
