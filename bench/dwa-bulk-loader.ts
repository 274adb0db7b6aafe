// The careful baseline of issue 13: a loader written with the dynamics-web-api client the way a
// careful user writes a bulk load today: UpsertMultiple of 1000 rows by alternate key, called with
// `callAction` on the entity set (a bound action on the collection), 4 requests in flight, and
// Retry-After honoured on a 429 (every sender waits the full time, then the request is sent again).
// Nothing else: no pacing on the rate-limit headers, no reads before writing, no adaptive
// concurrency. A request whose connection was reset is sent again too (UpsertMultiple by key is
// idempotent). Run as a child by scenarios.ts; prints one BENCH_RESULT line.
//
//   BENCH_EMULATOR_CONNECTION='{…}' NODE_EXTRA_CA_CERTS=ca.pem \
//     node dist/bench/dwa-bulk-loader.js --records 100000 --batch-size 1000 --concurrency 4 [--changed-every N]
import { ConfidentialClientApplication } from "@azure/msal-node";
import { DynamicsWebApi } from "dynamics-web-api";
import { BENCH_ENTITY_SET, upsertTargets } from "./generate.js";
import { forEachChunk, formatResult, parseLoaderOptions, resourceOrigin } from "./loader-io.js";
import type { EmulatorConnection, LoaderResult } from "./loader-io.js";

function tokenSource(connection: EmulatorConnection): () => Promise<string | null> {
  const authorityHost = new URL(connection.authority_host);
  const authority = new URL(connection.tenant_id, authorityHost.href.endsWith("/") ? authorityHost.href : `${authorityHost.href}/`).href;
  const msal = new ConfidentialClientApplication({
    auth: { clientId: connection.client_id, clientSecret: connection.client_secret, authority, knownAuthorities: [authorityHost.host] },
  });
  const scopes = [`${resourceOrigin(connection)}/.default`];
  return async () => (await msal.acquireTokenByClientCredential({ scopes }))?.accessToken ?? null;
}

const CONNECTION_ERRORS = new Set(["ECONNRESET", "EPIPE"]);
const MAX_ATTEMPTS = 50;

interface Failure {
  readonly status?: number;
  readonly code?: string;
  readonly retryAfterSeconds?: number;
}

function failureOf(error: unknown): Failure {
  const first: unknown = Array.isArray(error) ? error[0] : error;
  if (typeof first !== "object" || first === null) return {};
  const e = first as Record<string, unknown>;
  const headers = e["headers"];
  const raw = typeof headers === "object" && headers !== null ? (headers as Record<string, unknown>)["retry-after"] : undefined;
  const seconds = typeof raw === "string" ? Number(raw) : NaN;
  return {
    ...(typeof e["status"] === "number" ? { status: e["status"] } : {}),
    ...(typeof e["code"] === "string" ? { code: e["code"] } : {}),
    ...(Number.isFinite(seconds) && seconds >= 0 ? { retryAfterSeconds: seconds } : {}),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const options = parseLoaderOptions(process.argv.slice(2), process.env, { batchSize: 1000, concurrency: 4 });
  const { connection } = options;
  const root = new URL(connection.web_api_endpoint);
  const version = /\/api\/data\/v([\d.]+)\/?$/.exec(root.pathname)?.[1] ?? "9.2";
  const client = new DynamicsWebApi({ serverUrl: `${root.origin}/`, dataApi: { version }, onTokenRefresh: tokenSource(connection) });
  const chunks = Math.ceil(options.records / options.batchSize);
  let requests = 0;
  let retries = 0;
  let failedRecords = 0;
  let firstError: string | undefined;
  // A 429's Retry-After pauses every sender of this user, not only the one that met it.
  let pausedUntil = 0;

  const started = performance.now();
  await forEachChunk(chunks, options.concurrency, async (index) => {
    const from = index * options.batchSize;
    const count = Math.min(options.batchSize, options.records - from);
    const Targets = upsertTargets(from, count, options.changedEvery);
    for (let attempt = 1; ; attempt++) {
      const wait = pausedUntil - performance.now();
      if (wait > 0) await sleep(wait);
      try {
        requests++;
        await client.callAction({ collection: BENCH_ENTITY_SET, actionName: "Microsoft.Dynamics.CRM.UpsertMultiple", action: { Targets } });
        return;
      } catch (error: unknown) {
        const f = failureOf(error);
        const code = typeof (error as { code?: unknown }).code === "string" ? (error as { code: string }).code : "";
        const retryable = f.status === 429 || CONNECTION_ERRORS.has(code);
        if (retryable && attempt < MAX_ATTEMPTS) {
          retries++;
          if (f.status === 429) pausedUntil = Math.max(pausedUntil, performance.now() + (f.retryAfterSeconds ?? 1) * 1000);
          continue;
        }
        failedRecords += count;
        firstError ??= `UpsertMultiple failed: status ${f.status ?? "?"} ${f.code ?? code}`.trim();
        return;
      }
    }
  });
  const writeSeconds = (performance.now() - started) / 1000;
  const result: LoaderResult = { records: options.records, failedRecords, requests, retries, writeSeconds, ...(firstError === undefined ? {} : { firstError }) };
  process.stdout.write(formatResult(result) + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`dwa-bulk-loader: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
