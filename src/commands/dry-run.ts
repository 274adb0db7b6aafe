import type { Readable } from "node:stream";
import type { ResolvedStream } from "../config/catalog.js";
import type { LoadedConfig } from "../config/load.js";
import type { Output } from "../protocol/emit.js";
import { ConnectorError } from "../protocol/errors.js";
import type { Connection } from "./connect.js";

export interface DryRunInput {
  readonly conn: Connection;
  readonly loaded: LoadedConfig;
  readonly resolved: readonly ResolvedStream[] | undefined;
  readonly input: Readable;
  readonly output: Output;
}

export function runDryRun(_input: DryRunInput): Promise<number> {
  return Promise.reject(new ConnectorError("dry_run_unavailable", "--dry-run is not available in this version", "config_error"));
}
