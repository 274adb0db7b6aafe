// The `membership` and `relationship` settings of a `streams` entry (spec/spec.json) → RelationConfig.
// ajv has checked the shapes; this turns them into readonly values and reports what the schema cannot
// say (a key that is no key of a relation side, a list named both ways).
import type { JsonObject } from "../protocol/airbyte.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { Violation } from "./ajv.js";
import type { KeyStrategy, ListRef, RelationConfig, RelationSide } from "./types.js";

function str(o: JsonObject, k: string): string | undefined {
  const v = o[k];
  return typeof v === "string" ? v : undefined;
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;
}

function share(o: JsonObject): number {
  const v = o["max_remove_share"];
  return typeof v === "number" ? v : 0.1;
}

function sideKey(build: (k: unknown) => KeyStrategy | undefined, raw: unknown, path: string, problems: Violation[]): RelationSide["key"] {
  const key = build(raw);
  if (key === undefined || key.kind === "none") {
    problems.push({ path, message: "needs a key: alternate key columns or name, a GUID field, or a deterministic GUID" });
    return { kind: "columns", columns: [] };
  }
  return key;
}

function side(o: JsonObject, path: string, problems: Violation[], build: (k: unknown) => KeyStrategy | undefined): RelationSide {
  const sourceFields = strings(o["source_fields"]);
  return {
    table: str(o, "table") ?? "",
    key: sideKey(build, o["key"], `${path}/key`, problems),
    ...(sourceFields !== undefined ? { sourceFields } : {}),
  };
}

/** The entry's relation, if it has one; problems are added to `problems`. */
export function buildRelation(s: JsonObject, path: string, problems: Violation[], build: (k: unknown) => KeyStrategy | undefined): RelationConfig | undefined {
  const m = s["membership"];
  const r = s["relationship"];
  if (m !== undefined && r !== undefined) problems.push({ path, message: "a stream keeps either a membership or a relationship, not both" });
  if (isJsonObject(m)) {
    const name = str(m, "list");
    const id = str(m, "list_id");
    if ((name === undefined) === (id === undefined)) problems.push({ path: `${path}/membership`, message: "names its list by list (the name) or by list_id, one of them" });
    const list: ListRef = id !== undefined ? { kind: "id", id: id.toLowerCase() } : { kind: "name", name: name ?? "" };
    const memberTable = str(m, "member_table");
    const member = side(m, `${path}/membership`, problems, build);
    return {
      kind: "membership",
      list,
      ...(memberTable !== undefined ? { memberTable } : {}),
      member: { key: member.key, ...(member.sourceFields !== undefined ? { sourceFields: member.sourceFields } : {}) },
      removeMissing: m["remove_missing"] === true,
      maxRemoveShare: share(m),
    };
  }
  if (isJsonObject(r)) {
    const from = isJsonObject(r["from"]) ? side(r["from"], `${path}/relationship/from`, problems, build) : undefined;
    const to = isJsonObject(r["to"]) ? side(r["to"], `${path}/relationship/to`, problems, build) : undefined;
    if (from === undefined || to === undefined) {
      problems.push({ path: `${path}/relationship`, message: "needs both from and to" });
      return undefined;
    }
    return { kind: "relationship", name: str(r, "name") ?? "", from, to, removeMissing: r["remove_missing"] === true, maxRemoveShare: share(r) };
  }
  return undefined;
}
