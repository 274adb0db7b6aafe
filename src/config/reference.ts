// docs/configuration.md, written from the connector specification through the form model the
// Airbyte webapp builds (form.ts): the same groups, the same fields in the same order, the same
// split between fields shown open and those folded under "Optional fields", secrets marked.
import { formLayout, groupsOf, toFormBlock } from "./form.js";
import type { FormBlock, FormCondition, FormGroup, FormObjectArray, FormSection } from "./form.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";

export const REFERENCE_COMMAND = "npm run docs:config";

function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").replaceAll("|", "\\|").trim();
}

function code(v: unknown): string {
  return `\`${JSON.stringify(v)}\``;
}

function typeOf(b: FormBlock): string {
  switch (b.kind) {
    case "condition":
      return `one of: ${b.conditions.map((c, i) => c.title ?? String(b.selectionConstValues[i])).join(", ")}`;
    case "objectArray":
      return `list of ${b.item.title ?? "entries"}`;
    case "group":
      return "group";
    case "item": {
      if (b.const !== undefined) return code(b.const);
      if (b.enum !== undefined) return b.type === "array" ? `list of ${b.enum.map(code).join(" \\| ")}` : b.enum.map(code).join(" \\| ");
      if (b.type === "array") return `list of ${b.itemType ?? "values"}`;
      const base = b.format !== undefined ? `${b.type} (${b.format})` : b.type;
      return b.isSecret ? `${base} **(secret)**` : base;
    }
  }
}

function describe(b: FormBlock): string {
  const s = b.schema;
  const bits: string[] = [];
  if (b.description !== undefined) bits.push(b.description);
  if (Array.isArray(s["examples"]) && s["examples"].length > 0) bits.push(`Example: ${s["examples"].map(code).join(", ")}.`);
  if (b.pattern !== undefined) bits.push(`Pattern: \`${b.pattern}\`.`);
  const limits: [string, string][] = [
    ["minimum", "Minimum"],
    ["maximum", "Maximum"],
    ["minLength", "Minimum length"],
    ["maxLength", "Maximum length"],
    ["minItems", "Minimum entries"],
    ["maxItems", "Maximum entries"],
  ];
  for (const [key, label] of limits) if (typeof s[key] === "number") bits.push(`${label}: ${String(s[key])}.`);
  return cell(bits.join(" "));
}

/** Setting path as a configuration file writes it: `.` for objects, `[]` for list entries. */
function settingPath(prefix: string, b: FormBlock): string {
  return prefix === "" ? b.fieldKey : `${prefix}.${b.fieldKey}`;
}

interface Nested {
  readonly heading: string;
  readonly prefix: string;
  readonly block: FormObjectArray | FormCondition | FormGroup;
}

const HEADER = ["| Setting | Field | Type | Required | Default | Description |", "|---|---|---|---|---|---|"];

function rows(blocks: readonly FormBlock[], prefix: string, nested: Nested[]): string[] {
  const out: string[] = [];
  for (const b of blocks) {
    const p = settingPath(prefix, b);
    const field = b.title ?? b.fieldKey;
    const dflt = b.default !== undefined ? code(b.default) : "";
    out.push(`| \`${p}\` | ${cell(field)} | ${typeOf(b)} | ${b.isRequired ? "yes" : "no"} | ${dflt} | ${describe(b)} |`);
    if (b.kind === "objectArray") nested.push({ heading: `${field}: each entry of \`${p}[]\``, prefix: `${p}[]`, block: b });
    else if (b.kind === "condition") nested.push({ heading: `${field}: the options of \`${p}\``, prefix: p, block: b });
    else if (b.kind === "group") nested.push({ heading: `${field} (\`${p}\`)`, prefix: p, block: b });
  }
  return out;
}

function sectionLines(section: FormSection, prefix: string, nested: Nested[]): string[] {
  const lines: string[] = [];
  if (section.displayType !== "expanded") lines.push("*Optional fields* (folded in the form until opened):", "");
  lines.push(...HEADER, ...rows(section.blocks, prefix, nested), "");
  return lines;
}

function groupLines(group: FormGroup, prefix: string, nested: Nested[]): string[] {
  const lines: string[] = [];
  for (const g of formLayout(group.properties, [], false)) for (const s of g.sections) lines.push(...sectionLines(s, prefix, nested));
  return lines;
}

function nestedLines(n: Nested, level: number, out: string[]): void {
  const more: Nested[] = [];
  out.push(`${"#".repeat(level)} ${n.heading}`, "");
  const b = n.block;
  if (b.kind === "objectArray") {
    if (b.item.kind === "group") out.push(...groupLines(b.item, n.prefix, more));
    else nestedLines({ heading: `${b.title ?? b.fieldKey} entry`, prefix: n.prefix, block: b.item as FormCondition }, level + 1, out);
  } else if (b.kind === "condition") {
    out.push(`Picked from a list; the option sets \`${b.selectionKey}\`:`, "");
    b.conditions.forEach((c, i) => {
      const fields = c.properties.filter((p) => p.fieldKey !== b.selectionKey);
      const what = c.description !== undefined ? ` ${cell(c.description)}` : "";
      out.push(`- **${c.title ?? String(b.selectionConstValues[i])}** (\`${b.selectionKey}\`: ${code(b.selectionConstValues[i])}).${what}${fields.length === 0 ? " No other fields." : ""}`);
    });
    out.push("");
    b.conditions.forEach((c, i) => {
      const fields = c.properties.filter((p) => p.fieldKey !== b.selectionKey);
      if (fields.length === 0) return;
      out.push(`${"#".repeat(level + 1)} ${c.title ?? String(b.selectionConstValues[i])}`, "");
      out.push(...groupLines({ ...c, properties: fields }, n.prefix, more));
    });
  } else {
    if (b.description !== undefined) out.push(cell(b.description), "");
    out.push(...groupLines(b, n.prefix, more));
  }
  for (const m of more) nestedLines(m, level + 1, out);
}

/** The whole reference page for a ConnectorSpecification (or a bare connection specification). */
export function renderConfigReference(specJson: unknown): string {
  if (!isJsonObject(specJson)) throw new Error("the specification is not a JSON object");
  const spec: JsonObject = isJsonObject(specJson["connectionSpecification"]) ? specJson["connectionSpecification"] : specJson;
  const root = toFormBlock(spec);
  if (root.kind !== "group") throw new Error("the connection specification is not an object");
  const lines = [
    "# Configuration reference",
    "",
    `<!-- Generated from spec/spec.json by src/config/reference.ts. Do not edit by hand: run \`${REFERENCE_COMMAND}\``,
    "     after changing the spec. -->",
    "",
    "The connector reads one JSON configuration file (`--config FILE`). In Airbyte it is the form below,",
    "built from the same specification: its sections and fields come in the order the form shows them,",
    "required fields first, and fields listed under *Optional fields* stay folded until opened. Singer",
    "and Meltano users write the file themselves (see [examples.md](examples.md)); the Setting column",
    "gives each value's path (`.` for a nested object, `[]` for an entry of a list). Values marked",
    "**(secret)** are masked in the form and never logged or echoed.",
    "",
    "Each top-level setting can also come from an environment variable named `TARGET_DYNAMICS365_` plus",
    "the setting in upper case (for example `TARGET_DYNAMICS365_CLIENT_SECRET`), as Meltano passes them;",
    "non-string values are given as JSON, and the file's values win over the environment's.",
    "",
    "A setting the specification does not know is not an error: the connector names it in a warning and",
    "ignores it. Configurations written for earlier versions (`fields` as a map of source field to",
    "column) are still read, and the log says how to write them in the current form.",
    "",
  ];
  if (typeof spec["title"] === "string") lines.push(`Schema: **${cell(spec["title"])}**.`, "");
  const nested: Nested[] = [];
  for (const group of formLayout(root.properties, groupsOf(spec))) {
    lines.push(`## ${group.title ?? "Other settings"}`, "");
    for (const section of group.sections) lines.push(...sectionLines(section, "", nested));
  }
  for (const n of nested) nestedLines(n, 2, lines);
  return `${lines.join("\n").trimEnd()}\n`;
}
