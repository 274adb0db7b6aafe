// Settings the specification does not know. The spec allows them (additionalProperties: true, so
// that removing a setting never invalidates a saved configuration), so a typo is no longer an
// error; it is named in a warning instead, by path and never by value.
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";

/** Properties an object schema declares, its oneOf options' included. */
function declared(schema: JsonObject): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const add = (s: unknown): void => {
    if (!isJsonObject(s) || !isJsonObject(s["properties"])) return;
    for (const [k, v] of Object.entries(s["properties"])) if (!out.has(k)) out.set(k, v);
  };
  add(schema);
  const variants = schema["oneOf"];
  if (Array.isArray(variants)) for (const v of variants) add(v);
  return out;
}

/** The chosen oneOf option, when the value names it by its const property. */
function chosen(schema: JsonObject, value: JsonObject): JsonObject {
  const variants = schema["oneOf"];
  if (!Array.isArray(variants)) return schema;
  for (const v of variants) {
    if (!isJsonObject(v) || !isJsonObject(v["properties"])) continue;
    const picked = Object.entries(v["properties"]).some(([k, p]) => isJsonObject(p) && "const" in p && value[k] === p["const"]);
    if (picked) return { ...schema, oneOf: [v] };
  }
  return schema;
}

/** Dotted paths (`streams[0].fields[1].colum`) of every setting the schema does not declare. */
export function unknownSettings(value: unknown, schema: unknown, path = ""): string[] {
  if (!isJsonObject(schema)) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownSettings(v, schema["items"], `${path}[${i}]`));
  if (!isJsonObject(value)) return [];
  const props = declared(chosen(schema, value));
  if (props.size === 0) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const where = path === "" ? k : `${path}.${k}`;
    const sub = props.get(k);
    if (sub === undefined) out.push(where);
    else out.push(...unknownSettings(v, sub, where));
  }
  return out;
}
