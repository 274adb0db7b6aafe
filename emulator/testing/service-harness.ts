// Test helper: drives a DataService with ServiceRequests the way server.ts does, without HTTP.
import type { Caller, DataService, Privilege, ServiceResponse } from "../types.js";
import type { Environment } from "../environment.js";
import { createDataService, defaultEnvironment } from "../environment.js";
import { DEFAULT_IDS } from "../default-environment.js";

export const ROOT = "https://127.0.0.1:8443/api/data/v9.2/";

export function callerFor(env: Environment, clientId: string): Caller {
  const app = env.apps.find((a) => a.clientId === clientId);
  const user = app?.applicationUser;
  if (!user) throw new Error("test app is not an application user");
  return {
    clientId,
    systemUserId: user.systemUserId,
    businessUnitId: env.businessUnitId,
    organizationId: env.organizationId,
    can: (table: string, p: Privilege) => (user.privileges[table] ?? user.privileges["*"] ?? []).includes(p),
    hasSpecial: (p: string) => (user.specialPrivileges ?? []).includes(p),
  };
}

export interface Harness {
  readonly service: DataService & { rowCount(table: string): number };
  readonly env: Environment;
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>, caller?: Caller): Parsed;
}

export interface Parsed {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON body, or undefined when empty. */
  readonly json: Record<string, unknown> & { value?: Record<string, unknown>[]; error?: { code: string; message: string } };
  readonly raw: ServiceResponse;
}

export function harness(env: Environment = defaultEnvironment(), now?: () => Date): Harness {
  const service = createDataService(env, now ? { now } : undefined);
  const main = callerFor(env, DEFAULT_IDS.mainApp.clientId);
  return {
    service,
    env,
    call(method, url, body, headers = {}, caller = main) {
      const q = url.indexOf("?");
      const raw = service.handle({
        method,
        path: q < 0 ? url : url.slice(0, q),
        query: q < 0 ? "" : url.slice(q + 1),
        headers,
        body: body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body),
        caller,
        serviceRoot: ROOT,
      });
      // $metadata is the one XML answer; its text stays in raw.body.
      const xml = (raw.headers["content-type"] ?? "").startsWith("application/xml");
      const json = raw.body && !xml ? (JSON.parse(raw.body) as Parsed["json"]) : ({} as Parsed["json"]);
      return { status: raw.status, headers: raw.headers, json, raw };
    },
  };
}
