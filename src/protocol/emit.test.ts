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
  it("writes destinationStats' counts with a decimal point (the protocol defines them as doubles), nothing else", async () => {
    const c = capture();
    const out = new AirbyteOutput(new LineSink(c.w), { now: () => 42 });
    const state = {
      type: "STREAM",
      stream: { stream_descriptor: { name: "s" }, stream_state: { cursor: 5, destinationStats: { recordCount: 7 } } },
      destinationStats: { recordCount: 12, rejectedRecordCount: 3 },
    };
    await out.state(state, { id: 9 });
    const line = c.lines()[0] ?? "";
    expect(line).toContain('"destinationStats":{"recordCount":12.0,"rejectedRecordCount":3.0}');
    // The source's own data keeps its form, even under the same key name.
    expect(line).toContain('"stream_state":{"cursor":5,"destinationStats":{"recordCount":7}}');
    expect(JSON.parse(line)).toEqual({ id: 9, type: "STATE", state });
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
