import { describe, expect, it } from "vitest";
import { AuthError } from "../dataverse/auth.js";
import { DataverseError, ForeignHostError } from "../dataverse/errors.js";
import { TransportError } from "../http/transport.js";
import { missingPrivilege, resourceOf, toConnectorError } from "./failures.js";

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
    [new ForeignHostError("attacker.example", "org.example"), "config_error", /a link to attacker\.example, another host than web_api_endpoint's \(org\.example\); the connector does not send its access token there/],
  ])("%s → %s", (err, failureType, message) => {
    const e = toConnectorError(err);
    expect(e.failureType).toBe(failureType);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain("secret@x.org");
  });

  const denied = (serverMessage: string) =>
    new DataverseError({ kind: "forbidden", status: 403, code: "0x80040220", method: "POST", path: "/api/data/v9.2/contacts", retryable: false, serverMessage });

  it.each([
    ["Missing privilege: prvBypassCustomBusinessLogic.", /lacks prvBypassCustomBusinessLogic, which the option bypass_business_logic needs .*remove bypass_business_logic/],
    ["Principal user is missing prvActOnBehalfOfAnotherUser privilege", /lacks prvActOnBehalfOfAnotherUser, which the option impersonate_caller_object_id needs .*Delegate/],
    ["Principal user is missing prvCreateContact privilege", /lacks the privilege prvCreateContact for POST contacts/],
  ])("a 403 whose message names %s says which privilege and option", (serverMessage, expected) => {
    const e = toConnectorError(denied(serverMessage));
    expect(e.failureType).toBe("config_error");
    expect(e.message).toMatch(expected);
  });

  it("a 403 that names no privilege lists the options in play as suspects, and only those", () => {
    const e = toConnectorError(denied("denied"), {}, { bypassBusinessLogic: true, impersonating: false });
    expect(e.message).toMatch(/privilege for POST contacts.*prvBypassCustomBusinessLogic \(needed by bypass_business_logic\)/);
    expect(e.message).not.toMatch(/prvActOnBehalfOfAnotherUser/);
    expect(toConnectorError(denied("denied")).message).not.toMatch(/prvBypass|prvActOnBehalf/);
  });

  it("only a prv identifier is taken from Dataverse's message", () => {
    expect(missingPrivilege("user x@y.org is missing prvReadAccount privilege (Id=1)")).toBe("prvReadAccount");
    expect(missingPrivilege("no privilege named here")).toBeUndefined();
  });

  it("names the entity set of a path, never its key segment", () => {
    expect(resourceOf("/api/data/v9.2/contacts(emailaddress1='a%40b.com')")).toBe("contacts");
    expect(resourceOf("/api/data/v9.2/$batch")).toBe("$batch");
    expect(resourceOf("/api/data/v9.2/'weird")).toBe("(resource)");
  });
});
