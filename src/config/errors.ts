import { ConnectorError } from "../protocol/errors.js";
import type { Violation } from "./ajv.js";

/** The configuration or catalog cannot be used. Lists every violation with its JSON path, never a value. */
export class ConfigError extends ConnectorError {
  readonly violations: readonly Violation[];

  constructor(code: string, message: string, violations: readonly Violation[] = [], context: { stream?: string; field?: string } = {}) {
    super(code, message, "config_error", context);
    this.violations = violations;
  }
}

export function describeViolations(prefix: string, list: readonly Violation[]): string {
  return `${prefix}: ${list.map((v) => `${v.path === "" ? "(root)" : v.path} ${v.message}`).join("; ")}`;
}
