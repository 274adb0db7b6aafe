// Meltano's `--about`: name, version, capabilities and settings, derived from spec/ so it cannot drift.
import { connectionSpecification } from "../config/spec.js";
import { isJsonObject } from "../protocol/airbyte.js";

export const NAME = "destination-dynamics365";
// No `validate-records`: records are checked against the table's metadata, not against the SCHEMA message.
export const CAPABILITIES = ["about", "hard-delete", "soft-delete"] as const;

export interface Setting {
  readonly name: string;
  readonly label: string;
  readonly description: string;
  readonly kind: string;
  readonly sensitive: boolean;
  readonly required: boolean;
  readonly value?: unknown;
}

export function settings(): Setting[] {
  const spec = connectionSpecification();
  const props = isJsonObject(spec["properties"]) ? spec["properties"] : {};
  const required = Array.isArray(spec["required"]) ? spec["required"] : [];
  return Object.entries(props).map(([name, s]) => {
    const schema = isJsonObject(s) ? s : {};
    const t = schema["type"];
    const kind = t === "integer" ? "integer" : t === "number" ? "decimal" : t === "boolean" ? "boolean" : t === "array" ? "array" : t === "object" ? "object" : "string";
    return {
      name,
      label: typeof schema["title"] === "string" ? schema["title"] : name,
      description: typeof schema["description"] === "string" ? schema["description"] : "",
      kind: schema["airbyte_secret"] === true ? "password" : kind,
      sensitive: schema["airbyte_secret"] === true,
      required: required.includes(name),
      ...("default" in schema ? { value: schema["default"] } : {}),
    };
  });
}

export function aboutText(version: string, format: "json" | "markdown" | "text"): string {
  const list = settings();
  const description = "Airbyte destination and Singer target that writes into Microsoft Dynamics 365 (Dataverse Web API)";
  if (format === "json") {
    return JSON.stringify(
      { name: NAME, description, version, sdk_version: null, supported_python_versions: null, capabilities: CAPABILITIES, settings: list },
      null,
      2,
    );
  }
  const lines: string[] = [];
  if (format === "markdown") {
    lines.push(`# \`${NAME}\``, "", description, "", `Version: ${version}`, "", "## Capabilities", "");
    for (const c of CAPABILITIES) lines.push(`* \`${c}\``);
    lines.push("", "## Settings", "", "| Setting | Required | Default | Description |", "|:--|:--:|:--:|:--|");
    for (const s of list) {
      lines.push(`| ${s.name} | ${s.required ? "True" : "False"} | ${s.value === undefined ? "None" : JSON.stringify(s.value)} | ${s.description.replace(/\|/g, "\\|")} |`);
    }
    lines.push("", "Settings can also be given as environment variables named TARGET_DYNAMICS365_<SETTING>.");
  } else {
    lines.push(`Name: ${NAME}`, `Version: ${version}`, `Capabilities: ${CAPABILITIES.join(", ")}`, "Settings:");
    for (const s of list) lines.push(`  - ${s.name}${s.required ? " (required)" : ""}: ${s.description}`);
  }
  return lines.join("\n");
}
