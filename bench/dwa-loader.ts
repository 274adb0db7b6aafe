// The baseline of issue 5: a loader written with the dynamics-web-api client the way its README
// shows batches (startBatch, queue operations, executeBatch), one changeset of 1000 upserts by
// alternate key per $batch, a fixed number of batches in flight, tokens from msal-node through
// onTokenRefresh. It adds nothing the library does not do itself (no bulk actions, no throttling
// logic) except one thing its maintainer leaves to the caller (DynamicsWebApi issue #101): a batch
// whose connection was reset is sent again, up to twice. Upserts by key are idempotent and the
// changeset is atomic, so a resend cannot double-write; resends are counted in the result.
// Run as a child process by run.ts with NODE_EXTRA_CA_CERTS set to the emulator's CA; prints one
// BENCH_RESULT line.
//
//   BENCH_EMULATOR_CONNECTION='{…}' NODE_EXTRA_CA_CERTS=ca.pem \
//     node dist/bench/dwa-loader.js --records 100000 --batch-size 1000 --concurrency 4
import { ConfidentialClientApplication } from "@azure/msal-node";
import { DynamicsWebApi } from "dynamics-web-api";
import { BENCH_ENTITY_SET, BENCH_KEY_COLUMN, contactRow } from "./generate.js";
import { forEachChunk, formatResult, parseLoaderOptions, resourceOrigin } from "./loader-io.js";
import type { EmulatorConnection, LoaderResult } from "./loader-io.js";
import { BenchError } from "./errors.js";

function tokenSource(connection: EmulatorConnection): () => Promise<string | null> {
  const authorityHost = new URL(connection.authority_host);
  const authority = new URL(connection.tenant_id, authorityHost.href.endsWith("/") ? authorityHost.href : `${authorityHost.href}/`).href;
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: connection.client_id,
      clientSecret: connection.client_secret,
      authority,
      // A local authority: skip Microsoft's instance discovery (reference §1, msal-node).
      knownAuthorities: [authorityHost.host],
    },
  });
  const scopes = [`${resourceOrigin(connection)}/.default`];
  return async () => (await msal.acquireTokenByClientCredential({ scopes }))?.accessToken ?? null;
}

const CONNECTION_ERRORS = new Set(["ECONNRESET", "EPIPE"]);
const MAX_RESENDS = 2;

function isConnectionError(error: unknown): boolean {
  const first: unknown = Array.isArray(error) ? error[0] : error;
  if (typeof first !== "object" || first === null) return false;
  const code = (first as Record<string, unknown>)["code"];
  return typeof code === "string" && CONNECTION_ERRORS.has(code);
}

function errorSummary(error: unknown): string {
  // dynamics-web-api throws its own error objects (or an array of them for a batch); keep only
  // status and Dataverse code so no record value reaches the report.
  const first: unknown = Array.isArray(error) ? error[0] : error;
  if (typeof first === "object" && first !== null) {
    const e = first as Record<string, unknown>;
    const status = typeof e["status"] === "number" ? e["status"] : "?";
    const code = typeof e["code"] === "string" ? e["code"] : "";
    return `$batch failed: status ${status} ${code}`.trim();
  }
  return "$batch failed";
}

async function main(): Promise<void> {
  const options = parseLoaderOptions(process.argv.slice(2), process.env, { batchSize: 1000, concurrency: 4 });
  const { connection } = options;
  const root = new URL(connection.web_api_endpoint);
  const version = /\/api\/data\/v([\d.]+)\/?$/.exec(root.pathname)?.[1] ?? "9.2";
  const onTokenRefresh = tokenSource(connection);
  // One client per in-flight batch: startBatch/executeBatch keep the open batch on the client.
  const clients = Array.from(
    { length: options.concurrency },
    () => new DynamicsWebApi({ serverUrl: `${root.origin}/`, dataApi: { version }, onTokenRefresh }),
  );
  const chunks = Math.ceil(options.records / options.batchSize);
  let requests = 0;
  let resends = 0;
  let failedRecords = 0;
  let firstError: string | undefined;
  const idle = [...clients];

  const started = performance.now();
  await forEachChunk(chunks, options.concurrency, async (index) => {
    const client = idle.pop();
    if (client === undefined) throw new BenchError("BENCH_LOADER", "no idle client: concurrency bookkeeping is wrong");
    const from = index * options.batchSize;
    const count = Math.min(options.batchSize, options.records - from);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          client.startBatch();
          for (let i = from; i < from + count; i++) {
            const { emailaddress1, ...data } = contactRow(i);
            await client.upsert({ collection: BENCH_ENTITY_SET, key: `${BENCH_KEY_COLUMN}='${emailaddress1}'`, data });
          }
          requests++;
          await client.executeBatch();
          break;
        } catch (error: unknown) {
          if (attempt < MAX_RESENDS && isConnectionError(error)) {
            resends++;
            continue;
          }
          throw error;
        }
      }
    } catch (error: unknown) {
      // The changeset is atomic: one failure rolls back all of its records.
      failedRecords += count;
      firstError ??= errorSummary(error);
    } finally {
      idle.push(client);
    }
  });
  const writeSeconds = (performance.now() - started) / 1000;

  const result: LoaderResult = {
    records: options.records,
    failedRecords,
    requests,
    retries: resends,
    writeSeconds,
    ...(firstError === undefined ? {} : { firstError }),
  };
  process.stdout.write(formatResult(result) + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`dwa-loader: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
