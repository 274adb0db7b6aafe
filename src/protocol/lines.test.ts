import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readLineBatches, readLines } from "./lines.js";
import { ProtocolError } from "./errors.js";

async function collect(chunks: (string | Buffer)[], max?: number) {
  const out: { number: number; text: string }[] = [];
  for await (const l of readLines(Readable.from(chunks), max)) out.push(l);
  return out;
}

describe("readLines", () => {
  it("numbers lines across chunk boundaries, strips CR and keeps a last line without newline", async () => {
    expect(await collect(["a", "b\r\n\nc", "d\n", "e"])).toEqual([
      { number: 1, text: "ab" },
      { number: 2, text: "" },
      { number: 3, text: "cd" },
      { number: 4, text: "e" },
    ]);
  });
  it("decodes a multi-byte character split between chunks", async () => {
    const bytes = Buffer.from("é€😀\n", "utf8");
    expect(await collect([bytes.subarray(0, 1), bytes.subarray(1, 5), bytes.subarray(5)])).toEqual([{ number: 1, text: "é€😀" }]);
  });
  it("given a line over the cap, fails naming that line", async () => {
    await expect(collect(["ok\n", "x".repeat(10), "y".repeat(10) + "\n"], 15)).rejects.toMatchObject({ code: "line_too_long", context: { line: 2 } });
  });
  it("given invalid UTF-8, fails naming the line", async () => {
    const err = await collect(["fine\n", Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: "invalid_utf8", context: { line: 2 } });
  });
  it("pulls from the source only as fast as lines are consumed", async () => {
    let produced = 0;
    async function* source() {
      for (let i = 0; i < 1000; i++) {
        produced++;
        yield `line ${i}\n`;
      }
    }
    const it = readLines(source());
    await it.next();
    await it.next();
    expect(produced).toBeLessThan(5);
    await it.return();
  });
});

describe("readLineBatches", () => {
  it("yields one array per chunk, the lines before a bad one first, then fails naming the bad line", async () => {
    const batches: string[][] = [];
    const err = await (async () => {
      for await (const b of readLineBatches(Readable.from([Buffer.from("a\nb\n"), Buffer.concat([Buffer.from("c\nd\n"), Buffer.from([0xff, 0x0a]), Buffer.from("e\n")])])))
        batches.push(b.map((l) => l.text));
    })().catch((e: unknown) => e);
    expect(batches).toEqual([["a", "b"], ["c", "d"]]);
    expect(err).toMatchObject({ code: "invalid_utf8", context: { line: 5 } });
  });
  it("a line over the cap in the middle of a chunk comes after the lines before it", async () => {
    const batches: number[][] = [];
    const err = await (async () => {
      for await (const b of readLineBatches(Readable.from(["ok\nfine\n" + "x".repeat(20) + "\nlater\n"]), 15)) batches.push(b.map((l) => l.number));
    })().catch((e: unknown) => e);
    expect(batches).toEqual([[1, 2]]);
    expect(err).toMatchObject({ code: "line_too_long", context: { line: 3 } });
  });
});
