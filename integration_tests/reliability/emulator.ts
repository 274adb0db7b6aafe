// Starts the emulator in-process for a reliability suite and exposes what the suites need: the
// connector config, the fault controller, stats, and the credentials of the other default apps.
import { existsSync } from "node:fs";
import { startEmulator } from "../../emulator/index.js";
import { CONNECTOR_BIN } from "./connector.js";
import type { EmulatorConnection } from "./webapi.js";

export type Emulator = Awaited<ReturnType<typeof startEmulator>>;
export type StartOptions = Parameters<typeof startEmulator>[0];

export interface TestEmulator {
  readonly emulator: Emulator;
  readonly connection: EmulatorConnection;
  close(): Promise<void>;
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
      tenant_id: c.tenant_id,
      client_id: c.client_id,
      client_secret: c.client_secret,
      ca_file: c.ca_file,
    },
    close: () => emulator.close(),
  };
}
