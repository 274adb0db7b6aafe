import { describe, expect, it } from "vitest";
import { AuthError } from "../dataverse/auth.js";
import { DataverseError } from "../dataverse/errors.js";
import { TransportError } from "../http/transport.js";
import { resourceOf, toConnectorError } from "./failures.js";

const dv = (kind: ConstructorParameters<typeof DataverseError>[0]["kind"], status: number, code: string) =>
  new DataverseError({ kind, status, code, method: "PATCH", path: "/api/data/v9.2/contacts(emailaddress1='secret@x.org')", retryable: false, serverMessage: "secret@x.org is bad" });

describe("toConnectorError", () => {
  it.each([
    [dv("not_member", 403, "0x80072560"), "config_error", /not an application user/],
    [dv("forbidden", 403, "0x80040220"), "config_error", /privilege for PATCH contacts/],
    [dv("unauthorized", 401, ""), "config_error", /web_api_endpoint/],
    [dv("transient", 503, ""), "transient_error", /retry budget/],
    [dv("unexpected", 400, "0x80040216"), "system_error", /unexpected/],
    [new TransportError("ENOTFOUND", "GET", "https://nope.example.org/api/data/v9.2/WhoAmI"), "config_error", /host not found/],
    [new TransportError("ECONNRESET", "POST", "https://org/api/data/v9.2/$batch"), "transient_error", /reset/],
    [new AuthError("INVALID_SECRET", "AADSTS7000215", "client_secret", "the client secret is wrong", false), "config_error", /client secret/],
  ])("%s → %s", (err, failureType, message) => {
    const e = toConnectorError(err);
    expect(e.failureType).toBe(failureType);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain("secret@x.org");
  });

  it("names the entity set of a path, never its key segment", () => {
    expect(resourceOf("/api/data/v9.2/contacts(emailaddress1='a%40b.com')")).toBe("contacts");
    expect(resourceOf("/api/data/v9.2/$batch")).toBe("$batch");
    expect(resourceOf("/api/data/v9.2/'weird")).toBe("(resource)");
  });
});
