// The emulator alone (issue 2's throughput check): UpsertMultiple requests straight to the
// emulator with undici, no connector in the way. Run as a child process by run.ts so the
// client does not share the emulator's event loop; prints one BENCH_RESULT line.
//
//   BENCH_EMULATOR_CONNECTION='{…}' NODE_EXTRA_CA_CERTS=ca.pem \
//     node dist/bench/raw-loader.js --records 100000 --batch-size 1000 --concurrency 8
import { Pool, request } from "undici";
import { BENCH_ENTITY_SET, upsertTargets } from "./generate.js";
import { forEachChunk, formatResult, parseLoaderOptions, resourceOrigin } from "./loader-io.js";
import type { EmulatorConnection, LoaderResult } from "./loader-io.js";
import { BenchError } from "./errors.js";

async function clientCredentialsToken(connection: EmulatorConnection): Promise<string> {
  const url = new URL(`${connection.tenant_id}/oauth2/v2.0/token`, connection.authority_host.endsWith("/") ? connection.authority_host : `${connection.authority_host}/`);
  const form = new URLSearchParams({
    client_id: connection.client_id,
    client_secret: connection.client_secret,
    grant_type: "client_credentials",
    scope: `${resourceOrigin(connection)}/.default`,
  });
  const response = await request(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  const body: unknown = await response.body.json();
  const token = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["access_token"] : undefined;
  if (response.statusCode !== 200 || typeof token !== "string") {
    throw new BenchError("BENCH_LOADER", `token request answered ${response.statusCode}`);
  }
  return token;
}

async function main(): Promise<void> {
  const options = parseLoaderOptions(process.argv.slice(2), process.env, { batchSize: 1000, concurrency: 8 });
  const { connection } = options;
  const token = await clientCredentialsToken(connection);
  const root = new URL(connection.web_api_endpoint);
  const path = `${root.pathname}${BENCH_ENTITY_SET}/Microsoft.Dynamics.CRM.UpsertMultiple`;
  const pool = new Pool(root.origin, { connections: options.concurrency });
  const chunks = Math.ceil(options.records / options.batchSize);
  let requests = 0;
  let failedRecords = 0;
  let firstError: string | undefined;

  const started = performance.now();
  await forEachChunk(chunks, options.concurrency, async (index) => {
    const from = index * options.batchSize;
    const count = Math.min(options.batchSize, options.records - from);
    const body = JSON.stringify({ Targets: upsertTargets(from, count) });
    requests++;
    const response = await pool.request({
      method: "POST",
      path,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json",
        "odata-version": "4.0",
        "odata-maxversion": "4.0",
      },
      body,
    });
    const text = await response.body.text();
    if (response.statusCode !== 204) {
      failedRecords += count;
      if (firstError === undefined) {
        const code = /"code"\s*:\s*"([^"]*)"/.exec(text)?.[1] ?? "";
        firstError = `UpsertMultiple answered ${response.statusCode} ${code}`.trim();
      }
    }
  });
  const writeSeconds = (performance.now() - started) / 1000;
  await pool.close();

  const result: LoaderResult = {
    records: options.records,
    failedRecords,
    requests,
    retries: 0,
    writeSeconds,
    ...(firstError === undefined ? {} : { firstError }),
  };
  process.stdout.write(formatResult(result) + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`raw-loader: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
