import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FaultInjector, loadFaultRules, parseFaultRules, type FaultRule } from "./faults.js";

const req = (target: string, method = "GET", clientId?: string) => ({ method, target, clientId });

function fires(rules: FaultRule[], requests: ReturnType<typeof req>[]): (string | undefined)[] {
  const injector = new FaultInjector(rules, () => {});
  return requests.map((r) => injector.pick(r)?.fault);
}

describe("FaultInjector", () => {
  it("lets `after` requests through, then fires on every `every`-th, at most `count` times", () => {
    const rule: FaultRule = { fault: "status", path: "/x", after: 2, every: 3, count: 2 };
    const result = fires([rule], Array.from({ length: 12 }, () => req("/api/x")));
    expect(result.map((f) => (f === undefined ? "." : "F")).join("")).toBe("..F..F......");
  });

  it("matches method, path substring, regex and client id, and only requests that match count", () => {
    const rules: FaultRule[] = [
      { fault: "delay", method: "post", pathRegex: "contacts\\(", clientId: "ABC" },
      { fault: "hang", path: "$batch" },
    ];
    expect(
      fires(rules, [
        req("/api/data/v9.2/contacts(1)", "POST", "abc"),
        req("/api/data/v9.2/contacts(1)", "PATCH", "abc"),
        req("/api/data/v9.2/contacts(1)", "POST", "other"),
        req("/api/data/v9.2/$batch", "POST", "abc"),
        req("/api/data/v9.2/accounts", "POST", "abc"),
      ]),
    ).toEqual(["delay", undefined, undefined, "hang", undefined]);
  });

  it("stops firing after clear() and after remove(id)", () => {
    const injector = new FaultInjector([], () => {});
    const [id] = injector.add({ fault: "status", path: "/a" });
    expect(injector.pick(req("/a"))?.fault).toBe("status");
    injector.remove(id ?? 0);
    expect(injector.pick(req("/a"))).toBeUndefined();
    injector.add({ fault: "status", path: "/a" });
    injector.clear();
    expect(injector.pick(req("/a"))).toBeUndefined();
  });

  it("passes revokeTokens through to the token service", () => {
    const revoked: string[] = [];
    new FaultInjector([], (c) => revoked.push(c)).revokeTokens("client-1");
    expect(revoked).toEqual(["client-1"]);
  });
});

describe("fault rules parsing", () => {
  it("reads an array or {rules: [...]} from a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "faults-"));
    const file = join(dir, "faults.json");
    writeFileSync(file, JSON.stringify({ rules: [{ fault: "reset", path: "/x", resetAfterBytes: 10 }] }));
    expect(loadFaultRules(file)).toEqual([{ fault: "reset", path: "/x", resetAfterBytes: 10 }]);
  });

  it.each([
    [[{ fault: "explode" }], /faults\[0\]\.fault/],
    [[{ fault: "status", status: 404 }], /status: expected 500, 502, 503 or 504/],
    [[{ fault: "delay", delayMs: -1 }], /delayMs/],
    [[{ fault: "hang", pathRegex: "(" }], /pathRegex/],
    [[{ fault: "hang", every: 0 }], /every/],
    [{ nope: true }, /expected an array/],
  ])("refuses %j", (raw, message) => {
    expect(() => parseFaultRules(raw)).toThrow(message);
  });
});
