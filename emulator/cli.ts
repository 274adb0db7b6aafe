#!/usr/bin/env node
// dataverse-emulator [--port N] [--host 127.0.0.1] [--environment FILE] [--limits FILE|PRESET]
//                    [--faults FILE] [--token-lifetime SECONDS] [--latency] [--quiet]
// Prints exactly one JSON line on stdout (a ready connector config) once listening, logs to stderr,
// runs until SIGTERM or SIGINT and then exits 0.
import { parseArgs } from "node:util";
import { startEmulator, type StartEmulatorOptions } from "./index.js";

const USAGE =
  "usage: dataverse-emulator [--port N] [--host 127.0.0.1] [--environment FILE] [--limits FILE|microsoft|faithful|scaled|off] [--faults FILE] [--token-lifetime SECONDS] [--latency] [--quiet]\n";

function fail(message: string): never {
  process.stderr.write(`dataverse-emulator: ${message}\n${USAGE}`);
  process.exit(2);
}

function integer(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} expects an integer >= ${min}`);
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        port: { type: "string" },
        host: { type: "string" },
        environment: { type: "string" },
        limits: { type: "string" },
        faults: { type: "string" },
        "token-lifetime": { type: "string" },
        latency: { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean" },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    fail(error instanceof Error ? error.message : "bad arguments");
  }
  if (values["help"] === true) {
    process.stderr.write(USAGE);
    return;
  }
  const str = (k: string): string | undefined => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const port = integer("port", str("port"), 0);
  const lifetime = integer("token-lifetime", str("token-lifetime"), 1);
  const environment = str("environment");
  const limits = str("limits");
  const faults = str("faults");
  const options: StartEmulatorOptions = {
    host: str("host") ?? "127.0.0.1",
    ...(port === undefined ? {} : { port }),
    ...(lifetime === undefined ? {} : { tokenLifetimeSeconds: lifetime }),
    ...(environment === undefined ? {} : { environment }),
    ...(limits === undefined ? {} : { limits }),
    ...(faults === undefined ? {} : { faults }),
    latency: values["latency"] === true,
    quiet: values["quiet"] === true,
  };

  let emulator;
  try {
    emulator = await startEmulator(options);
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? ` [${String(error.code)}]` : "";
    fail(`${error instanceof Error ? error.message : "cannot start"}${code}`);
  }
  process.stdout.write(`${JSON.stringify(emulator.config)}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`dataverse-emulator: ${error instanceof Error ? error.message : "failed"}\n`);
  process.exit(1);
});
