#!/usr/bin/env node
// Generates docs/configuration.md from spec/spec.json so the reference cannot drift from the
// schema the connector validates against. integration_tests/packaging.test.ts fails when the
// committed file differs from what this prints.
//
//   node scripts/gen-config-reference.mjs            rewrite docs/configuration.md
//   node scripts/gen-config-reference.mjs --check    exit 1 when docs/configuration.md is stale
//   node scripts/gen-config-reference.mjs --stdout [--spec FILE]
//
// spec/spec.json may hold either the connection specification itself (a JSON Schema) or a whole
// ConnectorSpecification with it under "connectionSpecification".
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import path from "node:path";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const defaultSpec = path.join(repoRoot, "spec", "spec.json");
const defaultOut = path.join(repoRoot, "docs", "configuration.md");

/** @param {unknown} v @returns {v is Record<string, unknown>} */
function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Resolves local "#/..." references; other references are left as they are (and shown by name). */
function resolve(root, schema, seen = new Set()) {
  if (!isObject(schema) || typeof schema.$ref !== "string" || !schema.$ref.startsWith("#/")) return schema;
  if (seen.has(schema.$ref)) return schema;
  seen.add(schema.$ref);
  let target = root;
  for (const raw of schema.$ref.slice(2).split("/")) {
    const part = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    target = isObject(target) ? target[part] : undefined;
  }
  if (!isObject(target)) return schema;
  const { $ref: _ignored, ...siblings } = schema;
  return resolve(root, { ...target, ...siblings }, seen);
}

function variantsOf(schema) {
  for (const key of ["oneOf", "anyOf"]) {
    if (Array.isArray(schema[key]) && schema[key].length > 0) return schema[key];
  }
  return undefined;
}

function isObjectSchema(schema) {
  return (
    isObject(schema) &&
    (schema.type === "object" ||
      (Array.isArray(schema.type) && schema.type.includes("object")) ||
      isObject(schema.properties))
  );
}

function typeName(root, raw) {
  const schema = resolve(root, raw);
  if (!isObject(schema)) return "any";
  if ("const" in schema) return `\`${JSON.stringify(schema.const)}\``;
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  const variants = variantsOf(schema);
  if (variants && isObject(schema.properties)) {
    return `object (one of: ${variants.map((v, i) => variantLabel(root, v, i)).join("; ")})`;
  }
  if (variants) return `one of: ${variants.map((v, i) => variantLabel(root, v, i)).join(", ")}`;
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const parts = types.map((t) => {
    if (t === "array") {
      const items = resolve(root, schema.items);
      return isObject(items) ? `array of ${typeName(root, items)}` : "array";
    }
    if (t === "object" && isObject(schema.additionalProperties) && !isObject(schema.properties)) {
      return `map of string to ${typeName(root, schema.additionalProperties)}`;
    }
    if (t === "string" && typeof schema.format === "string") return `string (${schema.format})`;
    return t;
  });
  if (parts.length === 0) return isObject(schema.properties) ? "object" : "any";
  return parts.join(" or ");
}

function variantLabel(root, raw, index) {
  const v = resolve(root, raw);
  if (isObject(v) && typeof v.title === "string") return v.title;
  if (isObject(v) && isObject(v.properties)) {
    for (const [name, prop] of Object.entries(v.properties)) {
      const p = resolve(root, prop);
      if (isObject(p) && "const" in p) return `${name} = ${JSON.stringify(p.const)}`;
    }
  }
  if (isObject(v) && Array.isArray(v.required) && v.required.length > 0) {
    return `with ${v.required.join(", ")}`;
  }
  return `variant ${index + 1}`;
}

function cell(text) {
  return String(text).replace(/\s*\n\s*/g, " ").replaceAll("|", "\\|").trim();
}

function describe(schema) {
  const bits = [];
  if (typeof schema.title === "string" && typeof schema.description === "string") {
    bits.push(`**${schema.title}.** ${schema.description}`);
  } else if (typeof schema.description === "string") {
    bits.push(schema.description);
  } else if (typeof schema.title === "string") {
    bits.push(`**${schema.title}.**`);
  }
  if (Array.isArray(schema.examples) && schema.examples.length > 0) {
    bits.push(`Example: ${schema.examples.map((e) => `\`${JSON.stringify(e)}\``).join(", ")}.`);
  }
  if (typeof schema.pattern === "string") bits.push(`Pattern: \`${schema.pattern}\`.`);
  for (const [key, label] of [
    ["minimum", "Minimum"],
    ["maximum", "Maximum"],
    ["minLength", "Minimum length"],
    ["maxLength", "Maximum length"],
    ["minItems", "Minimum items"],
    ["maxItems", "Maximum items"],
  ]) {
    if (typeof schema[key] === "number") bits.push(`${label}: ${schema[key]}.`);
  }
  return cell(bits.join(" "));
}

function ordered(root, properties) {
  return Object.entries(properties)
    .map(([name, raw], index) => {
      const schema = resolve(root, raw);
      const order = isObject(schema) && typeof schema.order === "number" ? schema.order : Number.POSITIVE_INFINITY;
      return { name, schema: isObject(schema) ? schema : {}, order, index };
    })
    .sort((a, b) => a.order - b.order || a.index - b.index);
}

/**
 * Walks the schema depth-first: one section per object (root, nested objects, array items,
 * map values and each oneOf/anyOf variant), each a table of its direct properties, and each
 * followed by the sections of its own nested objects.
 */
function collectSections(root, connectionSpec) {
  const sections = [];
  const visit = (next) => {
    const schema = resolve(root, next.schema);
    if (!isObject(schema)) return;
    const variants = variantsOf(schema);
    if (variants && !isObject(schema.properties)) {
      variants.forEach((v, i) => {
        visit({
          title: `${next.title} — ${variantLabel(root, v, i)}`,
          pathPrefix: next.pathPrefix,
          schema: v,
          note: `One of the ${variants.length} forms of \`${next.pathPrefix.replace(/\.$/, "") || "the configuration"}\`.`,
        });
      });
      return;
    }
    if (!isObject(schema.properties)) return;
    const required = new Set(Array.isArray(schema.required) ? schema.required : []);
    const rows = [];
    const children = [];
    for (const { name, schema: prop } of ordered(root, schema.properties)) {
      const fullPath = `${next.pathPrefix}${name}`;
      let type = typeName(root, prop);
      if (prop.airbyte_secret === true) type += " **(secret)**";
      rows.push({
        group: typeof prop.group === "string" ? prop.group : undefined,
        path: fullPath,
        type,
        required: required.has(name) ? "yes" : "no",
        default: "default" in prop ? `\`${JSON.stringify(prop.default)}\`` : "",
        description: describe(prop),
      });
      children.push(...childSchemas(root, prop, fullPath));
    }
    const description = typeof schema.description === "string" && next.pathPrefix !== "" ? schema.description : undefined;
    // The top level follows the Airbyte form's groups (Connection, Stream mappings, ...) when it has them.
    const groups = next.pathPrefix === "" && Array.isArray(schema.groups) ? schema.groups.filter((g) => isObject(g) && typeof g.id === "string") : [];
    if (groups.length > 0 && rows.some((r) => r.group !== undefined)) {
      for (const g of groups) {
        const inGroup = rows.filter((r) => r.group === g.id);
        if (inGroup.length > 0) sections.push({ title: typeof g.title === "string" ? g.title : g.id, description, note: next.note, rows: inGroup });
      }
      const known = new Set(groups.map((g) => g.id));
      const rest = rows.filter((r) => r.group === undefined || !known.has(r.group));
      if (rest.length > 0) sections.push({ title: "Other settings", description, note: next.note, rows: rest });
    } else {
      sections.push({ title: next.title, description, note: next.note, rows });
    }
    for (const child of children) visit(child);
  };
  visit({ title: "Top level", pathPrefix: "", schema: connectionSpec, note: undefined });
  return sections;
}

function childSchemas(root, raw, fullPath) {
  const prop = resolve(root, raw);
  if (!isObject(prop)) return [];
  const title = `\`${fullPath}\``;
  if (variantsOf(prop) && !isObject(prop.properties)) {
    const variants = variantsOf(prop);
    if (variants.some((v) => isObjectSchema(resolve(root, v)))) {
      return [{ title, pathPrefix: `${fullPath}.`, schema: prop, note: undefined }];
    }
    return [];
  }
  if (isObjectSchema(prop) && isObject(prop.properties)) {
    return [{ title, pathPrefix: `${fullPath}.`, schema: prop, note: undefined }];
  }
  if (isObject(prop.additionalProperties)) {
    return childSchemas(root, prop.additionalProperties, `${fullPath}.<key>`);
  }
  const types = Array.isArray(prop.type) ? prop.type : [prop.type];
  if (types.includes("array") && isObject(prop.items)) {
    return childSchemas(root, prop.items, `${fullPath}[]`);
  }
  return [];
}

/** @param {unknown} specJson the parsed spec/spec.json */
export function renderConfigReference(specJson) {
  if (!isObject(specJson)) throw new Error("spec/spec.json is not a JSON object");
  const connectionSpec = isObject(specJson.connectionSpecification) ? specJson.connectionSpecification : specJson;
  const root = connectionSpec;
  const lines = [
    "# Configuration reference",
    "",
    "<!-- Generated from spec/spec.json by scripts/gen-config-reference.mjs. Do not edit by hand:",
    "     run `node scripts/gen-config-reference.mjs` after changing the spec. -->",
    "",
    "The connector reads one JSON configuration file (`--config FILE`). Airbyte builds it from the",
    "form generated out of the same schema; Singer and Meltano users write it themselves (see",
    "[examples.md](examples.md)). Paths use `.` for nested objects, `[]` for array items and",
    "`<key>` for map entries. Values marked **(secret)** are never logged or echoed.",
    "",
    "Each top-level setting can also come from an environment variable named `TARGET_DYNAMICS365_` plus",
    "the setting in upper case (for example `TARGET_DYNAMICS365_CLIENT_SECRET`), as Meltano passes them;",
    "non-string values are given as JSON, and the file's values win over the environment's.",
    "",
  ];
  if (typeof connectionSpec.title === "string") lines.push(`Schema: **${cell(connectionSpec.title)}**.`, "");
  if (typeof connectionSpec.description === "string") lines.push(cell(connectionSpec.description), "");
  for (const section of collectSections(root, connectionSpec)) {
    lines.push(`## ${section.title}`, "");
    if (section.note) lines.push(section.note, "");
    if (section.description) lines.push(cell(section.description), "");
    if (section.rows.length === 0) {
      lines.push("No properties.", "");
      continue;
    }
    lines.push("| Property | Type | Required | Default | Description |", "|---|---|---|---|---|");
    for (const r of section.rows) {
      lines.push(`| \`${r.path}\` | ${r.type} | ${r.required} | ${r.default} | ${r.description} |`);
    }
    lines.push("");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

function main() {
  const { values } = parseArgs({
    options: {
      spec: { type: "string" },
      out: { type: "string" },
      check: { type: "boolean", default: false },
      stdout: { type: "boolean", default: false },
    },
  });
  const specPath = values.spec ?? defaultSpec;
  const outPath = values.out ?? defaultOut;
  const rendered = renderConfigReference(JSON.parse(readFileSync(specPath, "utf8")));
  if (values.stdout) {
    process.stdout.write(rendered);
    return;
  }
  if (values.check) {
    let current = "";
    try {
      current = readFileSync(outPath, "utf8");
    } catch {
      current = "";
    }
    if (current !== rendered) {
      process.stderr.write(`${path.relative(repoRoot, outPath)} is out of date: run node scripts/gen-config-reference.mjs\n`);
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(outPath, rendered);
  process.stderr.write(`wrote ${path.relative(repoRoot, outPath)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
