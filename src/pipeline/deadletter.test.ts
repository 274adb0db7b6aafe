import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { JsonObject } from "../protocol/airbyte.js";
import { openDeadLetterFile, serialize } from "./deadletter.js";

/** {"d":{"d":...}} `depth` levels deep, built without recursion. */
function nested(depth: number): JsonObject {
  let v: JsonObject = { leaf: 1 };
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("dead-letter lines", () => {
  it("a record too deep for JSON.stringify is left out and marked; the rest of the entry is kept", async () => {
    const deep = nested(20_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const dir = await mkdtemp(join(tmpdir(), "dl-"));
    dirs.push(dir);
    const path = join(dir, "dead.jsonl");
    const sink = openDeadLetterFile(path);
    await sink.write({ stream: "contacts", line: 7, key: { emailaddress1: "a@x.org" }, field: "/firstname", code: "too_long", message: "m", record: deep });
    await sink.write({ stream: "contacts", line: 8, code: "too_long", message: "m", record: { firstname: "x" } });
    await sink.close();
    const lines = (await readFile(path, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([
      { stream: "contacts", line: 7, key: { emailaddress1: "a@x.org" }, field: "/firstname", code: "too_long", message: "m", record: null, record_omitted: "too_deep_to_serialize" },
      { stream: "contacts", line: 8, code: "too_long", message: "m", record: { firstname: "x" } },
    ]);
  });

  it("a shallow record is written as it is", () => {
    expect(JSON.parse(serialize({ stream: "s", line: 1, code: "c", message: "m", record: nested(100) }))).toMatchObject({ record: nested(100) });
  });
});
