import { describe, expect, it } from "vitest";
import { contactTable } from "./test-fixtures.js";
import { idIdentity, keyValuesIdentity, refIdentity, sideRef } from "./relation-ref.js";
import type { RelationSide } from "../config/types.js";
import { collationForLanguage } from "../model/key-identity.js";

const contact = contactTable();
const GUID = "0b5c8e1f-1d2e-4c3b-9a8f-7e6d5c4b3a21";

describe("the row a relationship record names", () => {
  const cases: { name: string; side: Pick<RelationSide, "key" | "sourceFields">; record: Record<string, unknown>; want: unknown }[] = [
    { name: "key columns read from fields of the same name", side: { key: { kind: "columns", columns: ["emailaddress1"] } }, record: { emailaddress1: "a@b.com" }, want: { kind: "key", values: [["emailaddress1", "a@b.com"]] } },
    { name: "key columns read from the source fields given, in order", side: { key: { kind: "columns", columns: ["emailaddress1"] }, sourceFields: ["email"] }, record: { email: "a@b.com" }, want: { kind: "key", values: [["emailaddress1", "a@b.com"]] } },
    { name: "a GUID field, normalised to lower case", side: { key: { kind: "id_field", field: "id" } }, record: { id: GUID.toUpperCase() }, want: { kind: "id", id: GUID } },
    { name: "a deterministic GUID", side: { key: { kind: "deterministic", namespace: GUID, fields: ["n"] } }, record: { n: 7 }, want: { kind: "id" } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = sideRef(c.record, c.side, contact);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.ref).toMatchObject(c.want as object);
    });
  }

  it("a missing or empty key value is an issue naming the source field, never the value", () => {
    for (const record of [{}, { email: "  " }, { email: null }]) {
      const r = sideRef(record, { key: { kind: "columns", columns: ["emailaddress1"] }, sourceFields: ["email"] }, contact);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.issues[0]).toMatchObject({ field: "/email", code: "missing_key" });
    }
    const bad = sideRef({ id: "not-a-guid" }, { key: { kind: "id_field", field: "id" } }, contact);
    expect(bad.ok ? undefined : bad.issues[0]?.code).toBe("not_a_guid");
  });

  it("two spellings of one key value share an identity, as Dataverse's key index compares them", () => {
    const a = sideRef({ emailaddress1: "Ann@Example.com " }, { key: { kind: "columns", columns: ["emailaddress1"] } }, contact);
    const b = sideRef({ emailaddress1: "ann@example.com" }, { key: { kind: "columns", columns: ["emailaddress1"] } }, contact);
    expect(a.ok && b.ok && a.identity === b.identity).toBe(true);
    expect(keyValuesIdentity(contact, [["emailaddress1", "ANN@example.com"]])).toBe(a.ok ? a.identity : "");
    expect(refIdentity(contact, { kind: "id", id: GUID.toUpperCase() })).toBe(idIdentity(GUID));
  });
});

describe("relation identities under the environment's collation", () => {
  it("an accent-insensitive environment (1033) treats café and cafe as one member; an accent-sensitive one (1035) as two", () => {
    const side = { key: { kind: "columns", columns: ["emailaddress1"] } } as const;
    const id = (language: number, v: string) => {
      const r = sideRef({ emailaddress1: v }, side, { ...contactTable(), keyCollation: collationForLanguage(language) });
      return r.ok ? r.identity : "";
    };
    expect(id(1033, "café@example.com")).toBe(id(1033, "CAFE@example.com"));
    expect(id(1035, "café@example.com")).not.toBe(id(1035, "cafe@example.com"));
  });
});
