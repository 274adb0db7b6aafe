// Wires the Dataverse layer from the parsed config: one transport, one token provider, client and
// throttle per application user (main + additional), the metadata cache and the writer.
import { readFile } from "node:fs/promises";
import { credentialsOf, type ConnectorConfig } from "../config/types.js";
import { systemClock, type Clock } from "../http/clock.js";
import { DATAVERSE_MAX_CONCURRENCY, Throttle } from "../http/throttle.js";
import { createUndiciTransport, type Transport } from "../http/transport.js";
import { createTokenProvider, type CredentialTokenProvider } from "./auth.js";
import { DataverseClient, type WhoAmI } from "./client.js";
import { MetadataLoader } from "./metadata.js";
import { createWriter, writeHeaders, type StatsWriter } from "./writer.js";

export interface DataverseConnection {
  /** Main user first, then the additional users, in config order. */
  readonly clients: readonly DataverseClient[];
  readonly metadata: MetadataLoader;
  readonly writer: StatsWriter;
  /** WhoAmI of the main user (read when connecting; it also carries the dop hint). */
  readonly whoAmI: WhoAmI;
  close(): Promise<void>;
}

export interface ConnectOptions {
  readonly clock?: Clock;
  /** A transport to use instead of the undici one (tests of the layers above). */
  readonly transport?: Transport;
  /** Starting concurrency per user when Dataverse sends no x-ms-dop-hint. */
  readonly defaultConcurrency?: number;
  /** Per-request timeout (headers and body gaps); Microsoft's ServiceClient uses 4 minutes. */
  readonly timeoutMs?: number;
  /** Told when a user's standby credential takes over from a refused one. */
  readonly notice?: (message: string) => void;
}

export interface UserClient {
  readonly tokens: CredentialTokenProvider;
  readonly client: DataverseClient;
}

/**
 * One token provider, client and throttle per application user (main first, then the additional
 * users in config order), all on one transport.
 */
export function createUserClients(
  config: ConnectorConfig,
  transport: Transport,
  clock: Clock,
  limits: { readonly initial: number; readonly max: number; readonly timeoutMs?: number; readonly notice?: (message: string) => void },
): UserClient[] {
  const users = [config, ...config.additionalUsers];
  return users.map((u, i) => {
    const tokens = createTokenProvider({
      authorityHost: config.authorityHost,
      tenantId: config.tenantId,
      clientId: u.clientId,
      credentials: credentialsOf(u),
      webApiEndpoint: config.webApiEndpoint,
      transport,
      ...(limits.notice === undefined ? {} : { notice: limits.notice }),
    });
    const client = new DataverseClient({
      endpoint: config.webApiEndpoint,
      transport,
      tokens,
      clock,
      throttle: new Throttle({ clock, initial: limits.initial, max: limits.max, label: i === 0 ? "main" : `user${i + 1}` }),
      retryBudgetMs: config.write.retryBudgetSeconds * 1000,
      ...(limits.timeoutMs === undefined ? {} : { timeoutMs: limits.timeoutMs }),
    });
    return { tokens, client };
  });
}

/**
 * Builds the clients, calls WhoAmI as the main user (so a bad credential or a missing application
 * user fails here, before any record is read) and starts each user's concurrency at x-ms-dop-hint.
 */
export async function connectDataverse(config: ConnectorConfig, options: ConnectOptions = {}): Promise<DataverseConnection> {
  const clock = options.clock ?? systemClock;
  const max = Math.min(config.write.maxConcurrency, DATAVERSE_MAX_CONCURRENCY);
  const userCount = 1 + config.additionalUsers.length;
  const owned =
    options.transport === undefined
      ? createUndiciTransport({
          ...(config.caFile === undefined ? {} : { caPem: await readFile(config.caFile) }),
          // Each user may run up to `max` requests; the token endpoint shares the agent.
          connections: max * userCount + 4,
          ...(options.timeoutMs === undefined ? {} : { defaultTimeoutMs: options.timeoutMs }),
        })
      : undefined;
  const transport = options.transport ?? (owned as Transport);
  const initial = options.defaultConcurrency ?? 4;
  const clients = createUserClients(config, transport, clock, {
    initial,
    max,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.notice === undefined ? {} : { notice: options.notice }),
  }).map((u) => u.client);
  const main = clients[0] as DataverseClient;
  try {
    const whoAmI = await main.whoAmI();
    // The hint is the server's recommended parallelism for this user (lower or higher than our
    // default); each application user is throttled on its own, so every user starts from it.
    if (whoAmI.dopHint !== undefined) for (const c of clients) c.throttle.startAt(whoAmI.dopHint);
    const metadata = new MetadataLoader(main);
    const writer = createWriter({
      clients,
      tables: metadata.lookup,
      settings: config.write,
      clock,
      headers: writeHeaders(config.write),
    });
    return {
      clients,
      metadata,
      writer,
      whoAmI,
      async close() {
        await writer.close();
        await owned?.close();
      },
    };
  } catch (err) {
    await owned?.close();
    throw err;
  }
}
