import { PassThrough, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { AirbyteOutput, LineSink, SingerOutput } from "./emit.js";

function capture() {
  const chunks: string[] = [];
  const w = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString()); cb(); } });
  return { w, lines: () => chunks.join("").split("\n").filter((l) => l !== "") };
}

describe("emit", () => {
  it("writes one JSON line per message and scrubs configured secrets", async () => {
    const c = capture();
    const out = new AirbyteOutput(new LineSink(c.w, ["s3cr3t-value"]), { now: () => 42 });
    await out.log("INFO", "leaked s3cr3t-value here");
    await out.connectionStatus("SUCCEEDED");
    expect(c.lines().map((l) => JSON.parse(l) as unknown)).toEqual([
      { type: "LOG", log: { level: "INFO", message: "leaked ********** here" } },
      { type: "CONNECTION_STATUS", connectionStatus: { status: "SUCCEEDED" } },
    ]);
  });
  it("waits for drain when the reader is slow", async () => {
    const slow = new PassThrough({ highWaterMark: 16 });
    const sink = new LineSink(slow);
    let done = false;
    const p = sink.writeLine("x".repeat(100)).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    slow.read();
    await p;
    expect(done).toBe(true);
  });
  it("Singer mode prints bare state values on stdout and logs on stderr", async () => {
    const o = capture();
    const e = capture();
    const out = new SingerOutput(new LineSink(o.w), new LineSink(e.w));
    await out.state({ bookmarks: { a: 1 } });
    await out.log("INFO", "hello");
    expect(o.lines()).toEqual(['{"bookmarks":{"a":1}}']);
    expect(e.lines()).toEqual(["INFO hello"]);
  });
});
