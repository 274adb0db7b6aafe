// The in-memory Dataverse behind the emulator: one DataService per environment.
import type { DataService, ServiceRequest, ServiceResponse } from "./types.js";
import type { Environment } from "./environment.js";

export class DataverseService implements DataService {
  constructor(
    readonly env: Environment,
    readonly now: () => Date,
  ) {}

  handle(_request: ServiceRequest): ServiceResponse {
    return {
      status: 501,
      headers: { "content-type": "application/json; odata.metadata=minimal", "odata-version": "4.0" },
      body: JSON.stringify({ error: { code: "0x80040216", message: "Not implemented yet." } }),
    };
  }

  transaction(fn: () => boolean): void {
    fn();
  }

  rowCount(_table: string): number {
    return 0;
  }
}
