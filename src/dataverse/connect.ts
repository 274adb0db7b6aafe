// The one place the Dataverse layer is built from the parsed config: one transport (sized for every
// user's concurrency), one token provider, client and throttle per application user (main first,
// then the additional users in config order), the metadata loader, and for a write the writer.
import { readFile } from "node:fs/promises";
import { credentialsOf, type ConnectorConfig } from "../config/types.js";
import { systemClock, type Clock } from "../http/clock.js";
import { createUndiciTransport, type Transport } from "../http/transport.js";
import { createTokenProvider, type CredentialTokenProvider } from "./auth.js";
import { DataverseClient, type WhoAmI } from "./client.js";
import { MAX_CONCURRENT_REQUESTS, userThrottle } from "./limits.js";
import { MetadataLoader } from "./metadata.js";
import { createWriter, writeHeaders, type StatsWriter } from "./writer.js";

export interface UserClient {
  readonly tokens: CredentialTokenProvider;
  readonly client: DataverseClient;
}

/** The Dataverse side built, nothing sent yet. */
export interface BuiltConnection {
  /** Main user first, then the additional users, in config order. */
  readonly users: readonly UserClient[];
  readonly clients: readonly DataverseClient[];
  readonly metadata: MetadataLoader;
  /** Closes the transport when the connection built it. */
  close(): Promise<void>;
}

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
  /** ca_file's PEM when the caller read it already; otherwise it is read here. */
  readonly caPem?: string | Buffer;
  /** Starting concurrency per user when Dataverse sends no x-ms-dop-hint. */
  readonly defaultConcurrency?: number;
  /** Per-request timeout (headers and body gaps); Microsoft's ServiceClient uses 4 minutes. */
  readonly timeoutMs?: number;
  /** Told when a user's standby credential takes over from a refused one. */
  readonly notice?: (message: string) => void;
  /**
   * Tables whose metadata the sync will need: read alongside WhoAmI rather than after it, before the
   * dop hint narrows the user's concurrency (a failed read is not kept; the sync reads it again).
   */
  readonly readAhead?: readonly string[];
}

/** Requests in flight per user before the dop hint is known (metadata reads at start-up). */
const STARTUP_CONCURRENCY = 16;
/** Where writes start when Dataverse sends no x-ms-dop-hint. */
const DEFAULT_CONCURRENCY = 4;

/** Builds transport, users and metadata loader; sends nothing (`check` signs in step by step). */
export async function buildConnection(config: ConnectorConfig, options: ConnectOptions = {}): Promise<BuiltConnection> {
  const clock = options.clock ?? systemClock;
  const max = Math.min(config.write.maxConcurrency, MAX_CONCURRENT_REQUESTS);
  const accounts = [config, ...config.additionalUsers];
  const caPem = options.caPem ?? (config.caFile === undefined ? undefined : await readFile(config.caFile));
  const owned =
    options.transport === undefined
      ? createUndiciTransport({
          ...(caPem === undefined ? {} : { caPem }),
          // Each user may run up to `max` requests; the token endpoint shares the agent.
          connections: max * accounts.length + 4,
          ...(options.timeoutMs === undefined ? {} : { defaultTimeoutMs: options.timeoutMs }),
        })
      : undefined;
  const transport = options.transport ?? (owned as Transport);
  // Until WhoAmI has brought the dop hint: the sign-in and the metadata reads, a burst of small GETs
  // that would otherwise queue four at a time (connectDataverse then starts writes at the hint).
  const initial = Math.max(STARTUP_CONCURRENCY, options.defaultConcurrency ?? 0);
  const users = accounts.map((u, i): UserClient => {
    const tokens = createTokenProvider({
      authorityHost: config.authorityHost,
      tenantId: config.tenantId,
      clientId: u.clientId,
      credentials: credentialsOf(u),
      webApiEndpoint: config.webApiEndpoint,
      transport,
      ...(options.notice === undefined ? {} : { notice: options.notice }),
    });
    const client = new DataverseClient({
      endpoint: config.webApiEndpoint,
      transport,
      tokens,
      clock,
      throttle: userThrottle({ clock, initial, max, label: i === 0 ? "main" : `user${i + 1}` }),
      retryBudgetMs: config.write.retryBudgetSeconds * 1000,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    return { tokens, client };
  });
  const clients = users.map((u) => u.client);
  return {
    users,
    clients,
    metadata: new MetadataLoader(clients[0] as DataverseClient),
    close: async () => {
      await owned?.close();
    },
  };
}

/**
 * Builds the connection, calls WhoAmI as the main user (so a bad credential or a missing application
 * user fails here, before any record is read), starts each user's concurrency at x-ms-dop-hint and
 * makes the writer.
 */
export async function connectDataverse(config: ConnectorConfig, options: ConnectOptions = {}): Promise<DataverseConnection> {
  const built = await buildConnection(config, options);
  const { clients, metadata } = built;
  try {
    const asked = (clients[0] as DataverseClient).whoAmI();
    const ahead = (options.readAhead ?? []).map((table) => metadata.loadTable(table).catch(() => undefined));
    const whoAmI = await asked;
    await Promise.all(ahead);
    // The hint is the server's recommended parallelism for this user (lower or higher than our
    // default); each application user is throttled on its own, so every user starts from it.
    const start = whoAmI.dopHint ?? options.defaultConcurrency ?? DEFAULT_CONCURRENCY;
    for (const c of clients) c.throttle.startAt(start);
    const writer = createWriter({
      clients,
      tables: metadata.lookup,
      settings: config.write,
      clock: options.clock ?? systemClock,
      headers: writeHeaders(config.write),
    });
    return {
      clients,
      metadata,
      writer,
      whoAmI,
      async close() {
        await writer.close();
        await built.close();
      },
    };
  } catch (err) {
    await built.close();
    throw err;
  }
}
