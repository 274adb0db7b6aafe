// Starts the emulator in-process for a reliability suite and exposes what the suites need: the
// connector config, the fault controller, stats, and the credentials of the other default apps.
import { existsSync } from "node:fs";
import { defaultEnvironment, type Environment } from "../../emulator/environment.js";
import { startEmulator } from "../../emulator/index.js";
import type { Privilege } from "../../emulator/types.js";
import { CONNECTOR_BIN } from "./connector.js";
import type { EmulatorConnection } from "./webapi.js";

export type Emulator = Awaited<ReturnType<typeof startEmulator>>;
export type StartOptions = Parameters<typeof startEmulator>[0];

export interface TestEmulator {
  readonly emulator: Emulator;
  readonly connection: EmulatorConnection;
  close(): Promise<void>;
}

/** An extra app registration with read on every table, for harness reads that must not count against
 *  the connector's per-user limits. */
export const READER_APP = {
  clientId: "77777777-8888-4999-8aaa-bbbbbbbbbbbb",
  objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d77",
  systemUserId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f677",
  secret: "reliability-reader-secret",
} as const;

export function environmentWithReader(): Environment {
  const env = defaultEnvironment();
  const read: Record<string, readonly Privilege[]> = {};
  for (const t of env.tables) read[t.logicalName] = ["read"];
  return {
    ...env,
    apps: [
      ...env.apps,
      {
        clientId: READER_APP.clientId,
        displayName: "reliability suites: reader",
        objectId: READER_APP.objectId,
        secrets: [{ value: READER_APP.secret, expiresAt: "2099-12-31T23:59:59Z" }],
        applicationUser: { systemUserId: READER_APP.systemUserId, privileges: read },
      },
    ],
  };
}

export async function startTestEmulator(options: StartOptions = {}): Promise<TestEmulator> {
  // The suites spawn the built connector; a stale or missing build would make every case fail obscurely.
  if (!existsSync(CONNECTOR_BIN)) throw new Error(`${CONNECTOR_BIN} is missing: run npm run build first`);
  const emulator = await startEmulator({ port: 0, host: "127.0.0.1", quiet: true, ...options });
  const c = emulator.config;
  return {
    emulator,
    connection: {
      web_api_endpoint: c.web_api_endpoint,
      authority_host: c.authority_host,
      // The emulator signs in at a local host, which the connector takes only when told so.
      allow_custom_authority_host: true,
      tenant_id: c.tenant_id,
      client_id: c.client_id,
      client_secret: c.client_secret,
      ca_file: c.ca_file,
    },
    close: () => emulator.close(),
  };
}
