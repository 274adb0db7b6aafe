// The bulk message probe (bulk-operations): `sdkmessagefilters` has one row per table and bulk
// message the environment enables, `sdkmessages` names the messages.
import type { ServiceRequest, ServiceResponse } from "./types.js";
import { stableGuid } from "./model.js";
import { errors } from "./errors.js";
import type { PathSegment } from "./odata/path.js";
import { evaluate, filterProperties } from "./odata/filter.js";
import { parseQuery } from "./query.js";
import { json } from "./responses.js";
import { expandItemOptions, type Json, reader, selectSuffix, splitTop, type MetadataSource } from "./metadata-json.js";

/**
 * `sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq 'CreateMultiple' and
 * primaryobjecttypecode eq 'account'`: one row when the table has the message (bulk-operations).
 */
export function handleSdkMessageFilters(source: MetadataSource, req: ServiceRequest, segments: readonly PathSegment[]): ServiceResponse {
  if (req.method !== "GET" || segments.length !== 1) throw errors.noHttpResource(req.serviceRoot + req.path);
  const q = parseQuery(req.query);
  const allowed = ["sdkmessagefilterid", "primaryobjecttypecode", "sdkmessageid/name", "_sdkmessageid_value", "iscustomprocessingstepallowed"];
  for (const p of q.select ?? []) if (!allowed.includes(p)) throw errors.propertyNotFound(p, "sdkmessagefilter");
  const rows: Json[] = [];
  for (const m of source.models.values()) {
    for (const message of ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"] as const) {
      const has =
        message === "CreateMultiple" ? m.bulk.createMultiple : message === "UpdateMultiple" ? m.bulk.updateMultiple : m.bulk.upsertMultiple;
      if (!has) continue;
      rows.push({
        sdkmessagefilterid: stableGuid(`sdkmessagefilter:${message}:${m.logicalName}`),
        primaryobjecttypecode: m.logicalName,
        sdkmessageid: { name: message },
        _sdkmessageid_value: stableGuid(`sdkmessage:${message}`),
        iscustomprocessingstepallowed: true,
      });
    }
  }
  let value = rows;
  if (q.filter) {
    const f = q.filter;
    for (const p of filterProperties(f)) if (!allowed.includes(p)) throw errors.propertyNotFound(p, "sdkmessagefilter");
    value = rows.filter((r) => evaluate(f, reader(r)));
  }
  // `$expand=sdkmessageid($select=name)` names each filter's message in the row, the form a client
  // uses when it asks for every bulk message of a table in one query.
  const expand = sdkMessageExpand(q.other.get("$expand"));
  const out = value.map((r) => {
    const o: Json = { "@odata.etag": `W/"1"` };
    const fields = q.select ?? ["sdkmessagefilterid", "primaryobjecttypecode", "_sdkmessageid_value", "iscustomprocessingstepallowed"];
    for (const f of fields) if (!f.includes("/")) o[f] = r[f];
    o["sdkmessagefilterid"] = r["sdkmessagefilterid"];
    if (expand !== undefined) {
      const message = (r["sdkmessageid"] as { name: string }).name;
      o["sdkmessageid"] = sdkMessageRow(message, expand);
    }
    return o;
  });
  const context = `${req.serviceRoot}$metadata#sdkmessagefilters${selectSuffix(expand === undefined ? q.select : [...(q.select ?? []), `sdkmessageid(${(expand.length === 0 ? SDK_MESSAGE_PROPS : expand).join(",")})`])}`;
  return json(200, { "@odata.context": context, value: out });
}

const BULK_MESSAGES = ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"] as const;
const SDK_MESSAGE_PROPS = ["sdkmessageid", "name"];

function sdkMessageRow(name: string, select: readonly string[]): Json {
  const row: Json = { sdkmessageid: stableGuid(`sdkmessage:${name}`), name };
  if (select.length === 0) return row;
  const o: Json = {};
  for (const f of select) o[f] = row[f];
  o["sdkmessageid"] = row["sdkmessageid"];
  return o;
}

/** The select list of `$expand=sdkmessageid(...)`: undefined without the expand, empty for all. */
function sdkMessageExpand(expand: string | undefined): string[] | undefined {
  if (expand === undefined) return undefined;
  const items = splitTop(expand);
  const item = items[0];
  if (items.length !== 1 || item === undefined) throw errors.propertyNotFound(items[1] ?? expand, "sdkmessagefilter");
  const name = item.replace(/\(.*$/s, "").trim();
  if (name !== "sdkmessageid") throw errors.propertyNotFound(name, "sdkmessagefilter");
  const select = expandItemOptions(item).get("$select")?.split(",").map((s) => s.trim());
  for (const p of select ?? []) if (!SDK_MESSAGE_PROPS.includes(p)) throw errors.propertyNotFound(p, "sdkmessage");
  return select ?? [];
}

/**
 * `sdkmessages`, for clients that look a message's id up first and then filter
 * `sdkmessagefilters` on `_sdkmessageid_value` (Microsoft's plug-in registration samples do).
 * Only the bulk messages exist here: they are the only ones the emulator has filters for.
 */
export function handleSdkMessages(req: ServiceRequest, segments: readonly PathSegment[]): ServiceResponse {
  if (req.method !== "GET" || segments.length !== 1 || segments[0]?.keys !== undefined) throw errors.noHttpResource(req.serviceRoot + req.path);
  const q = parseQuery(req.query);
  for (const p of q.select ?? []) if (!SDK_MESSAGE_PROPS.includes(p)) throw errors.propertyNotFound(p, "sdkmessage");
  let rows = BULK_MESSAGES.map((name) => sdkMessageRow(name, []));
  if (q.filter) {
    const f = q.filter;
    for (const p of filterProperties(f)) if (!SDK_MESSAGE_PROPS.includes(p)) throw errors.propertyNotFound(p, "sdkmessage");
    rows = rows.filter((r) => evaluate(f, reader(r)));
  }
  const value = rows.map((r) => ({ "@odata.etag": `W/"1"`, ...sdkMessageRow(String(r["name"]), q.select ?? []) }));
  return json(200, { "@odata.context": `${req.serviceRoot}$metadata#sdkmessages${selectSuffix(q.select)}`, value });
}
