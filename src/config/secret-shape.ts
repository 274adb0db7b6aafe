// A client secret pasted with a space or a line break around it reaches Entra ID as another secret,
// which it refuses as wrong (AADSTS7000215), and the user then checks the wrong thing. Secrets
// Entra ID issues never begin or end with whitespace, so such a value is named before sign-in,
// without its text.
import { isJsonObject } from "../protocol/airbyte.js";
import type { JsonObject } from "../protocol/airbyte.js";
import type { Violation } from "./ajv.js";

function check(value: unknown, path: string, out: Violation[]): void {
  if (typeof value === "string" && value !== "" && value.trim() !== value) {
    out.push({ path, message: "has whitespace before or after it (a space or a line break copied with it); remove it: Entra ID would refuse the secret as wrong" });
  }
}

function credentialSecrets(o: JsonObject, path: string, out: Violation[]): void {
  // The older top-level client_secret is read into credentials too: name it once.
  if (!isJsonObject(o["credentials"])) check(o["client_secret"], `${path}/client_secret`, out);
  for (const key of ["credentials", "standby_credentials"]) {
    const c = o[key];
    if (isJsonObject(c)) {
      check(c["client_secret"], `${path}/${key}/client_secret`, out);
      check(c["private_key_passphrase"], `${path}/${key}/private_key_passphrase`, out);
    }
  }
}

/** Every secret setting whose value has whitespace around it, by JSON path. */
export function secretShapeProblems(c: JsonObject): Violation[] {
  const out: Violation[] = [];
  credentialSecrets(c, "", out);
  const users = c["additional_app_users"];
  if (Array.isArray(users)) users.forEach((u, i) => isJsonObject(u) && credentialSecrets(u, `/additional_app_users/${i}`, out));
  return out;
}
