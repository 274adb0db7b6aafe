import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
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
    const sink = await openDeadLetterFile(path);
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

describe("opening the dead-letter file", () => {
  async function dir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), "dl-"));
    dirs.push(d);
    return d;
  }

  it("creates the file 0600 and narrows an existing one to 0600", async () => {
    const d = await dir();
    const created = join(d, "new.jsonl");
    await (await openDeadLetterFile(created)).close();
    expect((await stat(created)).mode & 0o777).toBe(0o600);
    const existing = join(d, "old.jsonl");
    await writeFile(existing, "kept\n", { mode: 0o644 });
    await chmod(existing, 0o644);
    const sink = await openDeadLetterFile(existing);
    await sink.write({ stream: "s", line: 1, code: "c", message: "m" });
    await sink.close();
    expect((await stat(existing)).mode & 0o777).toBe(0o600);
    expect((await readFile(existing, "utf8")).split("\n")[0]).toBe("kept");
  });

  it("never follows a symbolic link, and names the path and the reason", async () => {
    const d = await dir();
    const target = join(d, "target");
    await writeFile(target, "");
    const link = join(d, "link.jsonl");
    await symlink(target, link);
    await expect(openDeadLetterFile(link)).rejects.toMatchObject({ code: "dead_letter_path", failureType: "config_error", message: expect.stringMatching(/link\.jsonl.*symbolic link/) });
    expect(await readFile(target, "utf8")).toBe("");
  });

  it("a folder or a missing parent is a config error naming the path", async () => {
    const d = await dir();
    await expect(openDeadLetterFile(d)).rejects.toMatchObject({ failureType: "config_error", message: expect.stringContaining(`"${d}" cannot be used: it is a folder`) });
    await expect(openDeadLetterFile(join(d, "no", "dead.jsonl"))).rejects.toMatchObject({ failureType: "config_error", message: expect.stringContaining("its folder does not exist") });
  });
});
