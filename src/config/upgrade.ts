// Configurations written for earlier versions, read into the current form. Each change comes with a
// notice that says how to write the setting now; none holds a value that could be a secret (field
// and column names only).
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";

export interface Upgraded {
  readonly config: JsonObject;
  readonly notices: readonly string[];
  /** Indexes of `streams` entries whose mirror said `enabled: true`: an explicit request for mirror. */
  readonly mirrorRequested: ReadonlySet<number>;
}

/** The earlier `fields` entry (a column name, or column options) as the current list entry. */
function fieldEntry(source: string, target: unknown): JsonObject | undefined {
  if (typeof target === "string") return { source, column: target };
  if (!isJsonObject(target)) return undefined;
  const { column, lookup, delimiter, nulls, ...rest } = target;
  const entry: JsonObject = { source, ...(column !== undefined ? { column } : {}) };
  if (isJsonObject(lookup)) entry["value"] = { value_type: "lookup", ...lookup };
  else if (delimiter !== undefined) entry["value"] = { value_type: "choice", delimiter };
  if (nulls !== undefined) entry["nulls"] = nulls;
  // Anything else is left in place for the unknown-settings warning to name.
  return { ...entry, ...rest };
}

function streamName(s: JsonObject, i: number): string {
  return typeof s["name"] === "string" ? `streams[${i}] (stream "${s["name"]}")` : `streams[${i}]`;
}

export function upgradeConfig(raw: JsonObject): Upgraded {
  const notices: string[] = [];
  const mirrorRequested = new Set<number>();
  const streams = raw["streams"];
  if (!Array.isArray(streams)) return { config: raw, notices, mirrorRequested };
  const upgraded = streams.map((s: unknown, i: number) => {
    if (!isJsonObject(s)) return s;
    let out: JsonObject = s;
    const fields = s["fields"];
    if (isJsonObject(fields)) {
      const list = Object.entries(fields).map(([source, target]) => fieldEntry(source, target) ?? { source, column: target });
      out = { ...out, fields: list };
      notices.push(
        `${streamName(s, i)}: "fields" is a map of source field to column, the form of earlier versions; it was read as the list the current form uses. Write it as "fields": ${JSON.stringify(list)}`,
      );
    }
    const membership = s["membership"];
    if (isJsonObject(membership) && isJsonObject(membership["list"]) && typeof membership["list"]["id"] === "string") {
      // The shorthand `"list": { "id": GUID }`; the form (a plain text field per choice) says list_id.
      const { list, ...rest } = membership;
      out = { ...out, membership: { ...rest, list_id: (list as JsonObject)["id"] } };
      notices.push(`${streamName(s, i)}: "membership.list" given as {"id": …} was read as "list_id", the form's field for a list named by its GUID; write it as "list_id"`);
    }
    const mirror = s["mirror"];
    if (isJsonObject(mirror) && "enabled" in mirror) {
      const { enabled, ...settings } = mirror;
      out = { ...out, mirror: settings };
      if (enabled === true) {
        mirrorRequested.add(i);
        notices.push(`${streamName(s, i)}: "mirror.enabled" is no longer needed: a stream synced in overwrite mode replaces the rows this connector owns, as the mirror settings say; remove "enabled"`);
      } else {
        notices.push(
          `${streamName(s, i)}: "mirror.enabled": false is no longer read: a stream synced in overwrite mode always replaces the rows this connector owns; to keep rows the source dropped, sync the stream in append_dedup mode, and remove "enabled"`,
        );
      }
    }
    return out;
  });
  return { config: { ...raw, streams: upgraded }, notices, mirrorRequested };
}
