// The Dataverse side for the commands, built once by dataverse/connect.ts: the only place commands
// meet dataverse/ and http/. ca_file is read here, once, so an unreadable file is a config error.
import type { CredentialTokenProvider } from "../dataverse/auth.js";
import type { DataverseClient } from "../dataverse/client.js";
import type { MetadataLoader } from "../dataverse/metadata.js";
import { ConfigError } from "../config/errors.js";
import { loadConfig, rawSecrets, secretsOf } from "../config/load.js";
import type { LoadedConfig } from "../config/load.js";
import type { ConnectorConfig } from "../config/types.js";
import type { LineSink, Output } from "../protocol/emit.js";
import { readJsonFile } from "./errors.js";
import { buildConnection, connectDataverse } from "../dataverse/connect.js";
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

/**
 * Reads, validates and registers the config's secrets with every output sink before anything can
 * print; then logs the loader's notices (unknown settings, earlier forms and how to write them now).
 */
export async function readConfig(io: CommandIO, path: string, sinks: readonly LineSink[], output?: Pick<Output, "log">): Promise<LoadedConfig> {
  const raw = await readJsonFile(io.readFile, path, "config");
  // Secrets are registered from the raw JSON too, so even a config that fails validation cannot echo them.
  for (const v of rawSecrets(raw)) for (const s of sinks) s.addSecret(v);
  const loaded = loadConfig(raw, io.env);
  for (const secret of secretsOf(loaded.config)) for (const s of sinks) s.addSecret(secret);
  for (const notice of loaded.notices) await output?.log("WARN", notice);
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
export async function connectForWrite(
  config: ConnectorConfig,
  io: CommandIO,
  notice?: (message: string) => void,
  readAhead?: readonly string[],
): Promise<DataverseConnection> {
  const caPem = await readCaFile(config, io);
  try {
    return await connectDataverse(config, {
      ...(caPem === undefined ? {} : { caPem }),
      ...(notice === undefined ? {} : { notice }),
      ...(readAhead === undefined ? {} : { readAhead }),
    });
  } catch (err) {
    throw toConnectorError(err);
  }
}

/** The same connection before anything is sent, for `check`, which reports each step's failure on its own. */
export async function connect(config: ConnectorConfig, io: CommandIO, notice?: (message: string) => void): Promise<Connection> {
  const caPem = await readCaFile(config, io);
  const built = await buildConnection(config, { ...(caPem === undefined ? {} : { caPem }), ...(notice === undefined ? {} : { notice }) });
  const main = built.users[0] as UserClient;
  return {
    tokens: main.tokens,
    client: main.client,
    clients: built.clients,
    metadata: built.metadata,
    close: () => built.close(),
  };
}
