// The built connector validates its configuration with code the build precompiled
// (src/config/validators.ts, scripts/precompile-validators.ts). It must be the schema of this
// checkout and behave exactly as a validator compiled at run time: same verdict, same errors,
// same defaults written into the document.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createAjv } from "../src/config/ajv.js";
import { precompiledSchemas, schemasDigest, VALIDATOR_OPTIONS } from "../src/config/validators.js";
import type { ValidateFunction } from "ajv";
import type { JsonObject } from "../src/protocol/airbyte.js";

const file = fileURLToPath(new URL("../dist/src/config/config-validators.cjs", import.meta.url));

const base = {
  web_api_endpoint: "https://org.crm.dynamics.com/api/data/v9.2/",
  tenant_id: "4f1c6a2e-8b3d-4e5f-9a7b-0c1d2e3f4a5b",
  client_id: "4f1c6a2e-8b3d-4e5f-9a7b-0c1d2e3f4a5c",
  client_secret: "not-a-real-secret",
};

const documents: Record<string, unknown[]> = {
  config: [
    base,
    { ...base, batch_size: 500, streams: [{ name: "contacts", table: "contact", key: { key_type: "alternate_key", alternate_key: "emailaddress1" } }] },
    { ...base, batch_size: "many" },
    { ...base, web_api_endpoint: "http://org.crm.dynamics.com/api/data/v9.2/" },
    { ...base, tenant_id: undefined, credentials: { auth_type: "certificate" } },
    { ...base, max_concurrency: 99, streams: [{ table: "contact" }] },
    {},
  ],
  stream: [{ name: "contacts" }, { name: "contacts", mode: "sideways" }, {}],
  mirror: [{}, { enabled: true }, { enabled: "yes" }],
};

describe("the configuration's precompiled validators", () => {
  it("are built, from this checkout's spec", () => {
    expect(existsSync(file)).toBe(true);
    const mod = createRequire(import.meta.url)(file) as Record<string, unknown>;
    expect(mod["digest"]).toBe(schemasDigest(precompiledSchemas()));
  });

  it("give the verdict, errors and defaults of a validator compiled at run time", () => {
    const mod = createRequire(import.meta.url)(file) as Record<string, ValidateFunction>;
    const schemas: Record<string, JsonObject> = precompiledSchemas();
    let invalid = 0;
    for (const [name, docs] of Object.entries(documents)) {
      const fast = mod[name];
      expect(typeof fast, name).toBe("function");
      const slow = createAjv(VALIDATOR_OPTIONS).compile(schemas[name] ?? {});
      for (const doc of docs) {
        const a = structuredClone(JSON.parse(JSON.stringify(doc)) as unknown);
        const b = structuredClone(a);
        const verdict = (fast as ValidateFunction)(a);
        expect(verdict, `${name} ${JSON.stringify(doc)}`).toBe(slow(b));
        expect(a).toEqual(b);
        expect((fast as ValidateFunction).errors ?? null).toEqual(slow.errors ?? null);
        if (!verdict) invalid++;
      }
    }
    // The documents above hold both kinds.
    expect(invalid).toBeGreaterThan(3);
  });
});
