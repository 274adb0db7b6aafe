// Programmatic entry point: `startEmulator(options)` for tests, benchmarks and the CLI.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DataService } from "./types.js";
import { createDataService, defaultEnvironment, loadEnvironment, type Environment } from "./environment.js";
import { resolveLimits, type LimitsConfig } from "./limits.js";
import { PluginTimes } from "./cost.js";
import { loadFaultRules, type FaultController, type FaultRule } from "./faults.js";
import { EmulatorServer } from "./server.js";
import type { EmulatorStats } from "./stats.js";
import { EmulatorError } from "./emulator-error.js";

export type { Environment } from "./environment.js";
export type { LimitsConfig, CostModel } from "./limits.js";
export { LIMIT_PRESETS, theoreticalRecordsPerSecond } from "./limits.js";
export type { FaultRule, FaultKind, FaultController } from "./faults.js";
export type { EmulatorStats } from "./stats.js";
export { EmulatorError } from "./emulator-error.js";

export interface StartEmulatorOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** A JSON file (see docs/emulator.md) or an Environment value; default: the embedded environment. */
  readonly environment?: string | Environment;
  /** A preset name (microsoft, faithful, scaled, off), a JSON file, or a config; default "off". */
  readonly limits?: string | Partial<LimitsConfig>;
  /** A JSON file of fault rules or the rules themselves. */
  readonly faults?: string | readonly FaultRule[];
  /** Access token lifetime; default 3599 s as Entra commonly answers. */
  readonly tokenLifetimeSeconds?: number;
  /** Delay each answer by the execution time the cost model charges. */
  readonly latency?: boolean;
  /** No log lines on stderr. */
  readonly quiet?: boolean;
}

/** The one JSON line the CLI prints: a ready connector config for the main app. */
export interface EmulatorConnectorConfig {
  readonly web_api_endpoint: string;
  readonly authority_host: string;
  readonly tenant_id: string;
  readonly client_id: string;
  readonly client_secret: string;
  readonly ca_file: string;
}

/** Credentials of every app registration of the environment, for tests (never printed). */
export interface EmulatorApp {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly objectId: string;
  readonly displayName: string;
  /** systemuserid of its application user; absent when the app is not an application user. */
  readonly systemUserId?: string;
  /** Whether its secret has expired. */
  readonly secretExpired: boolean;
}

export interface Emulator {
  readonly config: EmulatorConnectorConfig;
  readonly apps: readonly EmulatorApp[];
  readonly origin: string;
  readonly port: number;
  readonly environment: Environment;
  readonly service: DataService;
  readonly faults: FaultController;
  stats(): EmulatorStats;
  /** Issues a token directly (no HTTP), e.g. to test expiry with a short lifetime. */
  issueToken(clientId: string): string;
  close(): Promise<void>;
}

/**
 * The TLS material: `certs` beside this module if a packager copied it there, else emulator/certs in
 * the folder that holds package.json, found by walking up (works from emulator/ and dist/emulator/).
 */
export function certsDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(dir, "certs", "ca.pem"))) return join(dir, "certs");
  for (;;) {
    if (existsSync(join(dir, "package.json"))) {
      const candidate = join(dir, "emulator", "certs");
      if (existsSync(join(candidate, "ca.pem"))) return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new EmulatorError("EMULATOR_CERTS", "emulator: cannot find emulator/certs (ca.pem, server.pem, server-key.pem) above the module");
}

export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const environment =
    options.environment === undefined
      ? defaultEnvironment()
      : typeof options.environment === "string"
        ? loadEnvironment(options.environment)
        : options.environment;
  const limits = resolveLimits(options.limits);
  const faults: readonly FaultRule[] =
    options.faults === undefined ? [] : typeof options.faults === "string" ? loadFaultRules(options.faults) : options.faults;
  const certs = certsDirectory();
  const service = createDataService(environment);
  const quiet = options.quiet ?? false;
  const log = quiet ? () => {} : (line: string) => void process.stderr.write(`${line}\n`);

  const server = new EmulatorServer({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    tls: { key: readFileSync(join(certs, "server-key.pem")), cert: readFileSync(join(certs, "server.pem")) },
    tenantId: environment.tenantId,
    organizationId: environment.organizationId,
    businessUnitId: environment.businessUnitId,
    apps: environment.apps,
    issuers: environment.federationIssuers ?? [],
    service,
    limits,
    faults,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3599,
    latency: options.latency ?? false,
    log,
    plugins: new PluginTimes(environment.tables, environment.plugins ?? []),
  });
  await server.listen();

  const now = Date.now();
  const apps: EmulatorApp[] = environment.apps.map((app) => {
    const live = app.secrets.find((s) => Date.parse(s.expiresAt) > now);
    const secret = live ?? app.secrets[0];
    return {
      clientId: app.clientId,
      clientSecret: secret?.value ?? "",
      objectId: app.objectId,
      displayName: app.displayName,
      ...(app.applicationUser === undefined ? {} : { systemUserId: app.applicationUser.systemUserId }),
      secretExpired: live === undefined,
    };
  });
  const main = apps.find((a) => a.systemUserId !== undefined && !a.secretExpired) ?? apps[0];
  if (main === undefined) {
    await server.close();
    throw new EmulatorError("EMULATOR_START", "emulator: the environment declares no app registration");
  }
  const config: EmulatorConnectorConfig = {
    web_api_endpoint: `${server.origin}/api/data/v9.2/`,
    authority_host: server.origin,
    tenant_id: environment.tenantId,
    client_id: main.clientId,
    client_secret: main.clientSecret,
    ca_file: join(certs, "ca.pem"),
  };
  log(`dataverse-emulator listening on ${server.origin} (limits ${limits.enabled ? "on" : "off"}, latency ${options.latency === true ? "on" : "off"})`);

  return {
    config,
    apps,
    origin: server.origin,
    port: server.port,
    environment,
    service,
    faults: server.faults,
    stats: () => server.stats(),
    issueToken: (clientId: string) => {
      const app = environment.apps.find((a) => a.clientId === clientId);
      if (app === undefined) throw new EmulatorError("EMULATOR_UNKNOWN_CLIENT", "emulator: unknown client id");
      return server.tokenService.issue({ clientId: app.clientId, objectId: app.objectId }).accessToken;
    },
    close: () => server.close(),
  };
}
