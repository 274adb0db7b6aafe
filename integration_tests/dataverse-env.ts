// Shared setup for the dataverse-* suites: an emulator environment with known account/contact
// tables, extra application users for the pool, and clients built the way the connector builds them.
import { readFileSync } from "node:fs";
import { startEmulator, type Emulator, type Environment, type FaultRule } from "../emulator/index.js";
import { defaultEnvironment } from "../emulator/environment.js";
import type { AppRegistration } from "../emulator/types.js";
import { systemClock, type Clock } from "../src/http/clock.js";
import { Throttle } from "../src/http/throttle.js";
import { createUndiciTransport, type Transport } from "../src/http/transport.js";
import { createTokenProvider, type TokenProvider } from "../src/dataverse/auth.js";
import { DataverseClient } from "../src/dataverse/client.js";
import type { Operation } from "../src/model/operation.js";

export const POOL_APPS = [
  { clientId: "aaaaaaaa-0000-4000-8000-000000000001", secret: "pool-secret-one-0123456789", systemUserId: "aaaaaaaa-1111-4000-8000-000000000001" },
  { clientId: "aaaaaaaa-0000-4000-8000-000000000002", secret: "pool-secret-two-0123456789", systemUserId: "aaaaaaaa-1111-4000-8000-000000000002" },
];

const ALL = ["create", "read", "write", "delete", "append", "appendto"] as const;

export function testEnvironment(): Environment {
  const base = defaultEnvironment();
  const tables = base.tables.filter((t) => t.logicalName !== "account" && t.logicalName !== "contact");
  const apps: AppRegistration[] = [
    ...base.apps,
    ...POOL_APPS.map((a, i) => ({
      clientId: a.clientId,
      displayName: `pool user ${i + 1}`,
      objectId: `bbbbbbbb-0000-4000-8000-00000000000${i + 1}`,
      secrets: [{ value: a.secret, expiresAt: "2099-01-01T00:00:00Z" }],
      applicationUser: { systemUserId: a.systemUserId, privileges: { "*": ALL } },
    })),
  ];
  const userRows = POOL_APPS.map((a, i) => ({ systemuserid: a.systemUserId, fullname: `# pool ${i + 1}`, applicationid: a.clientId }));
  return {
    ...base,
    apps,
    tables: [
      ...tables,
      {
        logicalName: "account",
        entitySetName: "accounts",
        primaryIdAttribute: "accountid",
        primaryNameAttribute: "name",
        objectTypeCode: 1,
        columns: [
          { logicalName: "accountid", type: "Uniqueidentifier", validForCreate: true, validForUpdate: false },
          { logicalName: "name", type: "String", maxLength: 160, requiredLevel: "ApplicationRequired" },
          { logicalName: "accountnumber", type: "String", maxLength: 20 },
          { logicalName: "numberofemployees", type: "Integer", minValue: 0, maxValue: 1_000_000 },
          { logicalName: "revenue", type: "Money", minValue: 0, maxValue: 1e12, precision: 2 },
          {
            logicalName: "industrycode",
            type: "Picklist",
            options: [
              { value: 1, label: "Accounting" },
              { value: 2, label: "Agriculture" },
            ],
          },
        ],
        keys: [{ logicalName: "accountnumber_key", attributes: ["accountnumber"] }],
      },
      {
        logicalName: "contact",
        entitySetName: "contacts",
        primaryIdAttribute: "contactid",
        primaryNameAttribute: "fullname",
        objectTypeCode: 2,
        columns: [
          { logicalName: "contactid", type: "Uniqueidentifier", validForCreate: true, validForUpdate: false },
          { logicalName: "firstname", type: "String", maxLength: 50 },
          { logicalName: "lastname", type: "String", maxLength: 50 },
          { logicalName: "emailaddress1", type: "String", maxLength: 100, format: "Email" },
          { logicalName: "birthdate", type: "DateTime", dateTimeBehavior: "DateOnly", format: "DateOnly" },
          { logicalName: "parentcustomerid", type: "Customer", targets: ["account", "contact"] },
          {
            logicalName: "statecode",
            type: "State",
            options: [
              { value: 0, label: "Active", defaultStatus: 1 },
              { value: 1, label: "Inactive", defaultStatus: 2 },
            ],
          },
          {
            logicalName: "statuscode",
            type: "Status",
            options: [
              { value: 1, label: "Active", state: 0 },
              { value: 2, label: "Inactive", state: 1 },
            ],
          },
        ],
        keys: [{ logicalName: "emailaddress1_key", attributes: ["emailaddress1"] }],
        relationships: [
          {
            schemaName: "contact_customer_accounts",
            referencingAttribute: "parentcustomerid",
            referencedEntity: "account",
            navigationProperty: "parentcustomerid_account",
          },
        ],
      },
    ],
    rows: { ...(base.rows ?? {}), systemuser: [...(base.rows?.systemuser ?? []), ...userRows] },
  };
}

export interface Harness {
  readonly emulator: Emulator;
  readonly transport: Transport & { close(): Promise<void> };
  tokenProvider(clientId?: string | undefined, secret?: string | undefined): TokenProvider;
  client(options?: { clientId?: string | undefined; secret?: string | undefined; retryBudgetMs?: number; initial?: number; max?: number; clock?: Clock; pacing?: boolean }): DataverseClient;
  close(): Promise<void>;
}

export async function startHarness(options: { limits?: string; faults?: readonly FaultRule[]; latency?: boolean; tokenLifetimeSeconds?: number; environment?: Environment } = {}): Promise<Harness> {
  const emulator = await startEmulator({
    environment: options.environment ?? testEnvironment(),
    quiet: true,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    ...(options.latency === undefined ? {} : { latency: options.latency }),
    ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
  });
  const transport = createUndiciTransport({ caPem: readFileSync(emulator.config.ca_file), connections: 64, defaultTimeoutMs: 20_000 });
  const endpoint = new URL(emulator.config.web_api_endpoint);
  const tokenProvider = (clientId = emulator.config.client_id, secret = emulator.config.client_secret): TokenProvider =>
    createTokenProvider({
      authorityHost: new URL(emulator.config.authority_host),
      tenantId: emulator.config.tenant_id,
      clientId,
      clientSecret: secret,
      webApiEndpoint: endpoint,
      transport,
    });
  return {
    emulator,
    transport,
    tokenProvider,
    client(o = {}) {
      const clock = o.clock ?? systemClock;
      return new DataverseClient({
        endpoint,
        transport,
        tokens: tokenProvider(o.clientId, o.secret),
        clock,
        throttle: new Throttle({ clock, initial: o.initial ?? 8, max: o.max ?? 52 }),
        retryBudgetMs: o.retryBudgetMs ?? 30_000,
        backoff: { baseDelayMs: 50, maxDelayMs: 1000, random: Math.random },
        ...(o.pacing === undefined ? {} : { pacing: o.pacing }),
      });
    },
    async close() {
      await transport.close();
      await emulator.close();
    },
  };
}

/** `n` contact upserts by e-mail key (`<prefix><i>@example.com`), each setting `lastname`. */
export function contactUpserts(n: number, prefix: string, lastname: string): Operation[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: "upsert",
    table: "contact",
    entitySet: "contacts",
    ref: { kind: "key", values: [["emailaddress1", `${prefix}${i}@example.com`]] },
    columns: { lastname },
    bindings: [],
  }));
}
