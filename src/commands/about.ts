// Meltano's `--about`, in the Meltano SDK's shape (singer_sdk/about.py): `settings` is the config's
// JSON Schema (an object with properties, as MeltanoHub's tooling reads it), derived from spec/ so it
// cannot drift; capability names come from the SDK's list (helpers/capabilities.py).
import { connectionSpecification } from "../config/spec.js";
import { ENV_PREFIX } from "../config/load.js";
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";

export const NAME = "destination-dynamics365";
// - No `validate-records`: records are checked against the table's metadata, not the SCHEMA message.
// - `hard-delete` and `soft-delete` come with the SDK's `hard_delete` setting: a CDC delete
//   (`_sdc_deleted_at`) deactivates the row (soft) unless hard_delete, or the stream's own
//   delete_action, says delete.
// - No `activate-version`: ACTIVATE_VERSION messages are ignored (logged once), as NOT_SUPPORTED says.
export const CAPABILITIES = ["about", "hard-delete", "soft-delete"] as const;

export const NOT_SUPPORTED =
  "ACTIVATE_VERSION messages are not supported: they are read and ignored (table versions are not kept), so a full-table tap's older rows stay unless the stream is synced in Airbyte's overwrite mode.";

const DESCRIPTION = `Airbyte destination and Singer target that writes into Microsoft Dynamics 365 (Dataverse Web API). ${NOT_SUPPORTED}`;

/** The schema with Meltano's markers for secrets (`secret` and `writeOnly`, as the SDK's th.Property(secret=True) writes them). */
function withSecretMarkers(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withSecretMarkers);
  if (!isJsonObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) out[k] = withSecretMarkers(x);
  if (v["airbyte_secret"] === true) {
    out["secret"] = true;
    out["writeOnly"] = true;
  }
  return out;
}

/** The config's JSON Schema: `{ type: "object", properties, required }`. */
export function settingsSchema(): JsonObject {
  const { groups: _groups, ...schema } = connectionSpecification();
  return withSecretMarkers(schema) as JsonObject;
}

function cellText(v: unknown): string {
  return typeof v === "string" ? v.replace(/\n/g, "<BR/>").replace(/\|/g, "\\|") : "";
}

function markdownRows(schema: JsonObject, parent = ""): string[] {
  const props = isJsonObject(schema["properties"]) ? schema["properties"] : {};
  const required = Array.isArray(schema["required"]) ? schema["required"] : [];
  return Object.entries(props).flatMap(([name, raw]) => {
    const s = isJsonObject(raw) ? raw : {};
    const path = parent === "" ? name : `${parent}.${name}`;
    const row = `| ${path} | ${required.includes(name) ? "True" : "False"} | ${"default" in s ? JSON.stringify(s["default"]) : "None"} | ${cellText(s["description"])} |`;
    return [row, ...(isJsonObject(s["properties"]) ? markdownRows(s, path) : [])];
  });
}

export function aboutText(version: string, format: "json" | "markdown" | "text"): string {
  const settings = settingsSchema();
  if (format === "json") {
    return JSON.stringify({ name: NAME, description: DESCRIPTION, version, sdk_version: null, supported_python_versions: null, capabilities: CAPABILITIES, settings }, null, 2);
  }
  const props = isJsonObject(settings["properties"]) ? settings["properties"] : {};
  const lines: string[] = [];
  if (format === "markdown") {
    lines.push(`# \`${NAME}\``, "", DESCRIPTION, "", `Version: ${version}`, "", "## Capabilities", "");
    for (const c of CAPABILITIES) lines.push(`* \`${c}\``);
    lines.push("", "## Settings", "", "| Setting | Required | Default | Description |", "|:--|:--:|:--:|:--|", ...markdownRows(settings));
    lines.push("", `Settings can also be given as environment variables named ${ENV_PREFIX}<SETTING>.`);
  } else {
    lines.push(`Name: ${NAME}`, `Description: ${DESCRIPTION}`, `Version: ${version}`, "Capabilities:", ...CAPABILITIES.map((c) => `  - ${c}`), "Settings:");
    for (const [name, s] of Object.entries(props)) {
      lines.push(`  - Name: ${name}`, `    Type: ${String(isJsonObject(s) ? s["type"] : "")}`, `    Environment Variable: ${ENV_PREFIX}${name.toUpperCase()}`);
    }
  }
  return lines.join("\n");
}
