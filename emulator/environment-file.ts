// Parsing and validation of --environment JSON files (format: docs/emulator-environment.md).
import { readFileSync } from "node:fs";
import type { Environment } from "./environment.js";

export class EnvironmentFileError extends Error {
  readonly code = "EMULATOR_ENVIRONMENT_INVALID";
  constructor(
    readonly file: string,
    readonly jsonPath: string,
    problem: string,
  ) {
    super(`${file}: ${jsonPath}: ${problem}`);
    this.name = "EnvironmentFileError";
  }
}

export function parseEnvironmentFile(file: string): Environment {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new EnvironmentFileError(file, "$", `cannot read the file (${(cause as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EnvironmentFileError(file, "$", "not valid JSON");
  }
  return json as Environment;
}
