// The organization table's one row: the environment's id, name and base language. A client reads
// `organizations?$select=languagecode` to learn the base language, and so the collation keys are
// compared under (collation.ts). Only listing, retrieving by id and $select are emulated.
import type { Environment, ServiceRequest, ServiceResponse } from "./types.js";
import type { PathSegment } from "./odata/path.js";
import { errors } from "./errors.js";
import { parseQuery } from "./query.js";
import { json } from "./responses.js";

const COLUMNS = ["organizationid", "name", "languagecode"] as const;

export function handleOrganizations(env: Environment, req: ServiceRequest, segments: readonly PathSegment[]): ServiceResponse {
  const first = segments[0];
  if (req.method !== "GET") throw errors.methodNotAllowed(req.method);
  if (first === undefined || segments.length > 1) throw errors.resourceNotFound(segments[1]?.name ?? "");
  const q = parseQuery(req.query);
  const select = q.select ?? COLUMNS;
  for (const c of select) if (!(COLUMNS as readonly string[]).includes(c)) throw errors.propertyNotFound(c, "organization");
  const row: Record<string, unknown> = { organizationid: env.organizationId, name: "emulated organization", languagecode: env.baseLanguage };
  const picked: Record<string, unknown> = { "@odata.etag": 'W/"1"' };
  for (const c of select) picked[c] = row[c];
  if (!select.includes("organizationid")) picked["organizationid"] = env.organizationId;
  const context = `${req.serviceRoot}$metadata#organizations(${select.join(",")})`;
  const keys = first.keys;
  if (keys === undefined) return json(200, { "@odata.context": context, value: [picked] });
  const only = keys[0];
  if (keys.length !== 1 || only === undefined || only.value.kind !== "guid" || (only.name !== undefined && only.name !== "organizationid")) {
    throw errors.invalidKey("organization");
  }
  if (only.value.value.toLowerCase() !== env.organizationId.toLowerCase()) throw errors.notFoundById("organization", only.value.value);
  return json(200, { "@odata.context": `${context}/$entity`, ...picked });
}
