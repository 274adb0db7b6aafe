// Runs the built CLI against an emulator the way a platform would: config and catalog files,
// messages on stdin; then checks the output contract every test relies on.
import { expect } from "vitest";
import { runConnector, workdir } from "../reliability/connector.js";
import type { RunResult } from "../reliability/connector.js";
import { findPrivateKeyShapes, findSecretLeaks } from "./no-secrets.js";
import { invalidLines } from "./airbyte-schema.js";

export type Json = Record<string, unknown>;

export interface CliRun extends RunResult {
  /** Parsed stdout messages (Airbyte mode). */
  readonly messages: Json[];
  readonly states: Json[];
  readonly traces: Json[];
  readonly logs: string[];
}

export interface CliOptions {
  readonly args: readonly string[];
  readonly input?: Iterable<string | Buffer>;
  readonly files?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** Secrets that must appear nowhere in stdout or stderr. */
  readonly secrets: readonly string[];
  /** Airbyte mode (default): every stdout line must be a valid protocol message. */
  readonly protocol?: "airbyte" | "singer";
}

/** `{file:name}` arguments are replaced by the path of the file written from `files[name]`. */
export async function runCli(options: CliOptions): Promise<CliRun> {
  const dir = workdir("cli-");
  try {
    const paths: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.files ?? {})) paths[name] = dir.json(name, value);
    const args = options.args.map((a) => a.replace(/^\{file:(.+)\}$/, (_m, n: string) => paths[n] ?? a));
    const result = await runConnector({
      args,
      input: options.input ?? [],
      timeoutMs: options.timeoutMs ?? 60_000,
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    expect(result.timedOut, "the CLI timed out").toBe(false);
    const leaks = findSecretLeaks({ stdout: result.stdout.join("\n"), stderr: result.stderr }, options.secrets.map((value, i) => ({ label: `secret ${i}`, value })));
    expect(leaks, "a secret leaked into the output").toEqual([]);
    expect(findPrivateKeyShapes({ stdout: result.stdout.join("\n"), stderr: result.stderr }), "a private key was printed").toEqual([]);
    const messages: Json[] = [];
    if ((options.protocol ?? "airbyte") === "airbyte") {
      expect(invalidLines(result.stdout), "stdout lines that are not Airbyte messages").toEqual([]);
      for (const l of result.stdout) messages.push(JSON.parse(l) as Json);
    }
    const states = messages.filter((m) => m["type"] === "STATE").map((m) => m["state"] as Json);
    const traces = messages.filter((m) => m["type"] === "TRACE").map((m) => m["trace"] as Json);
    const logs = messages.filter((m) => m["type"] === "LOG").map((m) => String((m["log"] as Json)["message"]));
    return { ...result, messages, states, traces, logs };
  } finally {
    dir.remove();
  }
}

export function record(stream: string, data: Json, namespace?: string): string {
  return JSON.stringify({ type: "RECORD", record: { stream, ...(namespace !== undefined ? { namespace } : {}), data, emitted_at: 1_764_000_000_000 } });
}

export function streamState(stream: string, id: number, cursor: unknown = id): string {
  return JSON.stringify({ type: "STATE", state: { type: "STREAM", stream: { stream_descriptor: { name: stream }, stream_state: { cursor } }, sourceStats: { recordCount: 0 }, id } });
}

export function globalState(streams: readonly string[], id: number): string {
  return JSON.stringify({
    type: "STATE",
    state: { type: "GLOBAL", global: { shared_state: { lsn: id }, stream_states: streams.map((name) => ({ stream_descriptor: { name }, stream_state: { s: id } })) }, id },
  });
}

export function configuredCatalog(streams: readonly { name: string; mode: string; pk?: string[][]; object?: string }[]): Json {
  return {
    streams: streams.map((s) => ({
      stream: { name: s.name, json_schema: { type: "object" }, supported_sync_modes: ["full_refresh", "incremental"] },
      sync_mode: "incremental",
      destination_sync_mode: s.mode,
      ...(s.pk !== undefined ? { primary_key: s.pk } : {}),
      ...(s.object !== undefined ? { destination_object_name: s.object } : {}),
    })),
  };
}

export function stateSummary(states: readonly Json[]): [unknown, unknown][] {
  return states.map((s) => [s["id"], s["destinationStats"]]);
}
