import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { progressText, summaryLine, summaryTable, TerminalStatus } from "./report.js";
import type { StreamSummary } from "./report.js";

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString("utf8");
    cb();
  }
}

const row = (over: Partial<StreamSummary> = {}): StreamSummary => ({
  stream: "contacts",
  table: "contact",
  read: 10,
  created: 4,
  updated: 3,
  upserted: 0,
  unchanged: 1,
  deleted: 0,
  deactivated: 0,
  rejected: 2,
  truncated: 0,
  retried: 1,
  requests: 3,
  throttled429: 1,
  seconds: 1.25,
  rejectionsByCode: new Map([["too_long", 2]]),
  ...over,
});

describe("progress and summary text", () => {
  it("the progress line carries read, written, rejected, rate, throttled time and concurrency", () => {
    expect(progressText({ read: 1200, written: 1000, rejected: 5, seconds: 2, throttledMs: 1500, concurrency: 12, statesHeld: 1 })).toBe(
      "read 1200, written 1000, rejected 5, 500 records/s, throttled 1.5 s, concurrency 12, states held 1",
    );
  });

  it("a summary line has every count, the rejection codes, requests and 429s, and the stream's wall time", () => {
    expect(summaryLine(row())).toBe(
      'summary: stream "contacts" → contact: read 10, created 4, updated 3, upserted 0, unchanged 1, deleted 0, deactivated 0, rejected 2 (too_long ×2), truncated 0, retried 1, requests 3, 429s 1, 1.3 s',
    );
    expect(summaryLine(row({ sharedTable: true }))).toContain("requests 3, 429s 1 (all streams to contact)");
    const { requests: _r, throttled429: _t, ...noHttp } = row();
    expect(summaryLine(noHttp)).not.toContain("requests");
  });

  it("the table aligns columns and marks figures shared by streams of one table", () => {
    const table = summaryTable([row(), row({ stream: "more_contacts", read: 123456, sharedTable: true })]);
    const lines = table.split("\n");
    expect(lines[0]).toMatch(/^stream\s+table\s+read\s+created\s+updated\s+upserted\s+unchanged\s+deleted\s+rejected\s+requests\s+429s\s+time$/);
    expect(lines[1]).toMatch(/^-+ +-+ +-+/);
    // Right-aligned numbers: every row ends at the same column.
    expect(new Set(lines.slice(0, 4).map((l) => l.length)).size).toBe(1);
    expect(lines[3]).toMatch(/^more_contacts\s+contact\s+123456\s.*\s3\*\s+1\*\s+1\.3 s$/);
    expect(lines[4]).toMatch(/shared/);
  });
});

describe("TerminalStatus", () => {
  it("on a terminal, redraws one line in place and keeps other writes above it", async () => {
    const out = new Capture();
    const status = new TerminalStatus(out, true);
    const wrapped = status.wrap(out);
    status.show("read 1");
    status.show("read 2");
    await new Promise<void>((resolve) => wrapped.write("INFO a log line\n", () => resolve()));
    status.print("the table");
    status.clear();
    expect(out.text).toBe("\r\x1b[Kread 1" + "\r\x1b[Kread 2" + "\r\x1b[K" + "INFO a log line\n" + "read 2" + "\r\x1b[Kthe table\nread 2" + "\r\x1b[K");
  });

  it("off a terminal, writes nothing of its own and passes the stream through untouched", () => {
    const out = new Capture();
    const status = new TerminalStatus(out, false);
    expect(status.wrap(out)).toBe(out);
    status.show("read 1");
    status.print("table");
    status.clear();
    expect(out.text).toBe("");
    expect(status.enabled).toBe(false);
  });
});
