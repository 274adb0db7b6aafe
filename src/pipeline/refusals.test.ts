import { describe, expect, it } from "vitest";
import { refusalMessage } from "./refusals.js";

const duplicate = { status: 412, code: "0x80060892", message: "Entity Key contact_email_key violated. A record with the same value for emailaddress1 'jane@example.com' already exists." };

describe("refusalMessage", () => {
  it("keeps Dataverse's text when the record goes into the dead letter too", () => {
    expect(refusalMessage(duplicate, true)).toBe(duplicate.message);
  });

  it("without the record, a message of ours by code, so no value Dataverse quoted gets in", () => {
    const m = refusalMessage(duplicate, false);
    expect(m).toBe("Dataverse refused the row (HTTP 412 0x80060892): a row with the same alternate key values already exists; write the stream in upsert mode (append_dedup) to update that row, or remove the duplicate key value in the source.");
    expect(m).not.toContain("jane");
    const unknown = refusalMessage({ status: 400, code: "0x80049999", message: "Value 'secret-ish' is bad" }, false);
    expect(unknown).toMatch(/^Dataverse refused the row \(HTTP 400 0x80049999\): Dataverse's own message is left out/);
    expect(unknown).not.toContain("secret-ish");
    expect(refusalMessage({ status: 404, code: "", message: "contact With Id = 1234 Does Not Exist" }, false)).not.toContain("1234");
  });

  it("keeps the connector's own verdicts (status 0, the row was never sent): they never quote values", () => {
    expect(refusalMessage({ status: 0, code: "INVALID_KEY_VALUE", message: "key column emailaddress1: text holds half of a UTF-16 surrogate pair" }, false)).toBe(
      "key column emailaddress1: text holds half of a UTF-16 surrogate pair",
    );
  });
});
