import { describe, expect, it } from "vitest";
import { AuthError, scopeFor, toAuthError } from "./auth.js";
import { errorFromResponse, isRunLevel, parseErrorBody } from "./errors.js";
import { TransportError } from "../http/transport.js";

describe("parseErrorBody", () => {
  it.each([
    ['{"error":{"code":"0x80040217","message":"account With Id = x Does Not Exist"}}', "0x80040217", "account With Id = x Does Not Exist"],
    ['{"error":{"code":"0x8004431A","message":"m"}}', "0x8004431a", "m"],
    ['{"error":{"code":"0x0","message":"Could not find a property"}}', "", "Could not find a property"],
    ['{"error":{"code":"","message":"A record with matching key values already exists."}}', "", "A record with matching key values already exists."],
    ["", "", ""],
    ["<html>Bad gateway</html>", "", "<html>Bad gateway</html>"],
  ])("%s", (body, code, message) => expect(parseErrorBody(body)).toEqual({ code, message }));
});

describe("errorFromResponse", () => {
  it("names method and path without the query string, keeps Dataverse's message apart", () => {
    const e = errorFromResponse(
      "PATCH",
      "https://org.example/api/data/v9.2/contacts(emailaddress1='secret%40x.com')?$select=fullname",
      { status: 403, headers: { "x-ms-service-request-id": "r1" }, body: '{"error":{"code":"0x80040220","message":"The user does not hold the necessary privileges."}}' },
      false,
    );
    expect(e).toMatchObject({ kind: "forbidden", status: 403, code: "0x80040220", method: "PATCH", requestId: "r1" });
    expect(e.path).toBe("/api/data/v9.2/contacts(emailaddress1='secret%40x.com')");
    // The key is a record's value: the message names the table, never the row.
    expect(e.message).toContain("PATCH /api/data/v9.2/contacts(…)");
    expect(e.message).not.toMatch(/secret/);
    expect(e.message).not.toContain("$select");
    expect(e.message).not.toContain("necessary privileges");
  });
  it("0x80072560 is not_member", () => {
    expect(errorFromResponse("GET", "https://o/api/data/v9.2/WhoAmI", { status: 403, headers: {}, body: '{"error":{"code":"0x80072560","message":"x"}}' }, false).kind).toBe("not_member");
  });
});

describe("isRunLevel", () => {
  it.each([
    [401, "", true],
    [403, "0x80040220", true],
    [403, "0x80072560", true],
    [400, "0x80044331", false],
    [404, "0x80040217", false],
    [412, "0x80060892", false],
  ])("%d %s → %s", (status, code, expected) => expect(isRunLevel(status, code)).toBe(expected));
});

describe("auth errors", () => {
  const secret = "s3cr3t-value-never-printed";
  it.each([
    ["7000215", "client_secret", "INVALID_SECRET"],
    ["7000222", "client_secret", "SECRET_EXPIRED"],
    ["700016", "client_id", "UNKNOWN_CLIENT"],
    ["90002", "tenant_id", "UNKNOWN_TENANT"],
    ["500011", "web_api_endpoint", "RESOURCE_NOT_IN_TENANT"],
  ])("AADSTS%s points at %s", (n, field, code) => {
    const msal = Object.assign(new Error(`Error(s): ${n} - Description: AADSTS${n}: something about ${secret}`), { errorCode: "invalid_client", errorNo: n });
    const e = toAuthError(msal, "client-1");
    expect(e).toBeInstanceOf(AuthError);
    expect(e).toMatchObject({ field, code, aadsts: `AADSTS${n}` });
    expect(e.message).not.toContain(secret);
    expect(e.cause).toBeUndefined();
  });
  it("an unreachable authority is AUTHORITY_UNREACHABLE", () => {
    const e = toAuthError(new TransportError("ENOTFOUND", "POST", "https://login.example/t/oauth2/v2.0/token"), "c");
    expect(e).toMatchObject({ code: "AUTHORITY_UNREACHABLE", field: "authority_host" });
  });
  it("msal's endpoints_resolution_error names the sign-in host, with the network cause when known", () => {
    const msal = Object.assign(new Error("endpoints_resolution_error: Endpoints cannot be resolved"), { errorCode: "endpoints_resolution_error" });
    const bare = toAuthError(msal, "c", { authorityHost: "login.example" });
    expect(bare).toMatchObject({ code: "AUTHORITY_UNREACHABLE", field: "authority_host" });
    expect(bare.message).toMatch(/cannot reach the sign-in host login\.example \(authority_host\)/);
    const refused = toAuthError(msal, "c", { authorityHost: "login.example", networkError: new TransportError("ECONNREFUSED", "GET", "https://login.example/t/v2.0/.well-known/openid-configuration") });
    expect(refused.message).toMatch(/login\.example \(authority_host\): ECONNREFUSED/);
  });
  it("the scope always comes from the endpoint's host", () => {
    expect(scopeFor(new URL("https://org.crm4.dynamics.com/api/data/v9.2/"))).toBe("https://org.crm4.dynamics.com/.default");
    expect(scopeFor(new URL("https://127.0.0.1:8443/api/data/v9.2/"))).toBe("https://127.0.0.1:8443/.default");
  });
});
