import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";

const base = {
  web_api_endpoint: "https://contoso.crm.dynamics.com/api/data/v9.2/",
  tenant_id: "00000000-0000-0000-0000-000000000001",
  client_id: "00000000-0000-0000-0000-000000000002",
  credentials: { auth_type: "client_secret", client_secret: "s3cret-value" },
};

function problem(extra: Record<string, unknown>): string {
  try {
    loadConfig({ ...base, ...extra });
  } catch (err) {
    return (err as Error).message;
  }
  return "";
}

describe("the hosts the credential and the data go to", () => {
  it("refuses user-info in web_api_endpoint and authority_host", () => {
    expect(problem({ authority_host: "https://login.microsoftonline.com@127.0.0.1:8443" })).toMatch(/\/authority_host.*user name or password before an @/);
    expect(problem({ web_api_endpoint: "https://contoso.crm.dynamics.com@evil.example/api/data/v9.2/" })).toMatch(/\/web_api_endpoint.*user-info/);
  });

  it("takes the Microsoft sign-in hosts of the public and sovereign clouds", () => {
    for (const host of ["https://login.microsoftonline.com", "https://login.microsoftonline.us", "https://login.partner.microsoftonline.cn", "https://LOGIN.MICROSOFTONLINE.COM/"]) {
      expect(problem({ authority_host: host }), host).toBe("");
    }
  });

  it("refuses another authority unless allow_custom_authority_host says so, then notes where the credential goes", () => {
    expect(problem({ authority_host: "https://login.microsoftonline.com.evil.example" })).toMatch(/\/authority_host names login\.microsoftonline\.com\.evil\.example, which is not a Microsoft Entra ID sign-in host.*allow_custom_authority_host/);
    expect(problem({ authority_host: "https://login.microsoftonline.com:8443" })).toMatch(/not a Microsoft Entra ID sign-in host/);
    const loaded = loadConfig({ ...base, authority_host: "https://127.0.0.1:8443", allow_custom_authority_host: true });
    expect(loaded.notices).toContain("authority_host 127.0.0.1:8443 is not a Microsoft Entra ID sign-in host; the credential is sent there because allow_custom_authority_host is true");
  });
});

describe("a secret pasted with whitespace around it", () => {
  it("is named by its path, never shown", () => {
    const message = problem({ credentials: { auth_type: "client_secret", client_secret: " s3cret-value\n" } });
    expect(message).toContain("/credentials/client_secret has whitespace before or after it (a space or a line break copied with it)");
    expect(message).not.toContain("s3cret-value");
    expect(problem({ credentials: undefined, client_secret: "s3cret-value " })).toMatch(/\/credentials\/client_secret has whitespace/);
    expect(problem({})).toBe("");
  });
});
