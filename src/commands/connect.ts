// Builds the Dataverse side from the configuration: one transport, one token provider and one
// client per application user, a metadata loader. The only place commands meet dataverse/ and http/.
import type { CredentialTokenProvider } from "../dataverse/auth.js";
import type { DataverseClient } from "../dataverse/client.js";
import { MetadataLoader } from "../dataverse/metadata.js";
import { systemClock } from "../http/clock.js";
import { createUndiciTransport } from "../http/transport.js";
import { ConfigError } from "../config/errors.js";
import { loadConfig, rawSecrets, secretsOf } from "../config/load.js";
import type { LoadedConfig } from "../config/load.js";
import type { ConnectorConfig } from "../config/types.js";
import type { LineSink } from "../protocol/emit.js";
import { readJsonFile } from "./errors.js";
import { connectDataverse, createUserClients } from "../dataverse/connect.js";
import type { DataverseConnection, UserClient } from "../dataverse/connect.js";
import { toConnectorError } from "../pipeline/failures.js";
import type { CommandIO } from "./io.js";

export interface Connection {
  readonly tokens: CredentialTokenProvider;
  readonly client: DataverseClient;
  readonly clients: readonly DataverseClient[];
  readonly metadata: MetadataLoader;
  close(): Promise<void>;
}

/** Reads, validates and registers the config's secrets with every output sink before anything can print. */
export async function readConfig(io: CommandIO, path: string, sinks: readonly LineSink[]): Promise<LoadedConfig> {
  const raw = await readJsonFile(io.readFile, path, "config");
  // Secrets are registered from the raw JSON too, so even a config that fails validation cannot echo them.
  for (const v of rawSecrets(raw)) for (const s of sinks) s.addSecret(v);
  const loaded = loadConfig(raw, io.env);
  for (const secret of secretsOf(loaded.config)) for (const s of sinks) s.addSecret(secret);
  return loaded;
}

/** ca_file's PEM text; a file that cannot be read is a config error naming the setting, not the path. */
async function readCaFile(config: ConnectorConfig, io: CommandIO): Promise<string | undefined> {
  if (config.caFile === undefined) return undefined;
  try {
    return await io.readFile(config.caFile);
  } catch {
    throw new ConfigError("ca_file_unreadable", "The file named by ca_file cannot be read", [{ path: "/ca_file", message: "cannot be read" }]);
  }
}

/**
 * The Dataverse layer for write and discover (dataverse/connect.ts): WhoAmI first, so bad
 * credentials or a missing application user fail before any record is read.
 */
export async function connectForWrite(config: ConnectorConfig, io: CommandIO, notice?: (message: string) => void): Promise<DataverseConnection> {
  await readCaFile(config, io);
  try {
    return await connectDataverse(config, notice === undefined ? {} : { notice });
  } catch (err) {
    throw toConnectorError(err);
  }
}

/** The same pieces, built step by step for `check`, which reports each step's failure on its own. */
export async function connect(config: ConnectorConfig, io: CommandIO, notice?: (message: string) => void): Promise<Connection> {
  const caPem = await readCaFile(config, io);
  const maxConcurrency = Math.max(1, config.write.maxConcurrency);
  const transport = createUndiciTransport({ ...(caPem !== undefined ? { caPem } : {}), connections: Math.max(8, maxConcurrency * (1 + config.additionalUsers.length) + 4) });
  const clients = createUserClients(config, transport, systemClock, { initial: maxConcurrency, max: maxConcurrency, ...(notice === undefined ? {} : { notice }) });
  const main = clients[0] as UserClient;
  const metadata = new MetadataLoader(main.client);
  return {
    tokens: main.tokens,
    client: main.client,
    clients: clients.map((c) => c.client),
    metadata,
    async close() {
      await transport.close();
    },
  };
}
