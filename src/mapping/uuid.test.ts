import { describe, expect, it } from "vitest";
import { deterministicId, deterministicName, normalizeGuid, uuidv5 } from "./uuid.js";
import { isGuid } from "../model/guid.js";

const DNS = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
const URL_NS = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";
const NS = "9e2a5b1c-3f4d-4e5f-8a6b-7c8d9e0f1a2b";

describe("uuidv5", () => {
  // Expected values from RFC 9562 appendix A.4 and Python's uuid.uuid5 (an independent implementation).
  it.each([
    ["www.example.com", DNS, "2ed6657d-e927-568b-95e1-2665a8aea6a2"],
    ["python.org", DNS, "886313e1-3b8a-5372-9b90-0c9aee199e5d"],
    ["https://例え.jp/ü", URL_NS, "c629319a-f7d1-511d-9fc4-a6a18d5eab4b"],
    ['["ACC-1"]', NS, "634acfb5-b12a-55f2-96d3-836b58ec159c"],
  ])("uuidv5(%j) in %s is %s", (name, ns, expected) => {
    expect(uuidv5(name, ns)).toBe(expected);
  });

  it("accepts an upper-case or braced namespace", () => {
    expect(uuidv5("www.example.com", `{${DNS.toUpperCase()}}`)).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2");
  });

  it("sets version 5 and the RFC variant", () => {
    const id = uuidv5("anything", NS);
    expect(id[14]).toBe("5");
    expect(["8", "9", "a", "b"]).toContain(id[19]);
  });

  it("rejects a namespace that is not a GUID", () => {
    expect(() => uuidv5("x", "not-a-guid")).toThrow(TypeError);
  });
});

describe("deterministic ids", () => {
  it("joins values as compact JSON of strings, so a Python uuid5 over json.dumps(..., separators=(',',':')) agrees", () => {
    expect(deterministicName(["A", 1])).toBe('["A","1"]');
    expect(deterministicId(["A", 1], NS)).toBe("6224c046-8114-575c-a689-9e345c755419");
  });

  it("agrees with Python for non-ASCII values when JSON keeps them unescaped (ensure_ascii=False)", () => {
    expect(deterministicId(["Zoë", "東京", 7], NS)).toBe("0bdff432-1034-54f9-9142-27af5c58774b");
  });

  it("is unambiguous: a comma inside a value differs from two values", () => {
    expect(deterministicId(["a,b"], NS)).not.toBe(deterministicId(["a", "b"], NS));
  });

  it("treats 42 and \"42\" as the same key", () => {
    expect(deterministicId([42], NS)).toBe(deterministicId(["42"], NS));
  });
});

describe("GUID syntax", () => {
  it.each([
    ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000001"],
    ["{ABCDEF01-2345-6789-ABCD-EF0123456789}", "abcdef01-2345-6789-abcd-ef0123456789"],
    [" abcdef01-2345-6789-abcd-ef0123456789 ", "abcdef01-2345-6789-abcd-ef0123456789"],
    ["abcdef0123456789abcdef0123456789", undefined],
    ["abcdef01-2345-6789-abcd-ef012345678g", undefined],
    ["", undefined],
  ])("normalizeGuid(%j) = %j", (input, expected) => {
    expect(normalizeGuid(input)).toBe(expected);
  });

  it("isGuid wants the bare 8-4-4-4-12 form", () => {
    expect(isGuid("abcdef01-2345-6789-abcd-ef0123456789")).toBe(true);
    expect(isGuid("{abcdef01-2345-6789-abcd-ef0123456789}")).toBe(false);
  });
});
