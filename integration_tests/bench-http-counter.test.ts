// The bench's request counter: a $batch that only reads (the connector's read of a batch's current
// rows when the GET's URL is too long) counts as a read, not as a write request.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { BatchBodyScanner, batchKind, HttpCounter } from "../bench/http-counter.js";
import { buildBatch } from "../src/dataverse/batch.js";
import type { HttpCounts } from "../bench/http-counter.js";
import { throttledAfter } from "../bench/scenarios.js";

const ROOT = "/api/data/v9.2/";
const longRead = { method: "GET", url: `https://org.example.test${ROOT}contacts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='emailaddress1',PropertyValues=[${"'a@example.test',".repeat(200)}'b@example.test'])`, headers: { Prefer: "odata.maxpagesize=5000" } };
const upsert = (i: number): { method: string; url: string; body: string } => ({ method: "PATCH", url: `${ROOT}contacts(emailaddress1='c${i}@example.test')`, body: JSON.stringify({ firstname: `GET ${i} HTTP/1.1` }) });

describe("bench http counter: $batch kinds", () => {
  it("given a $batch of GET parts only, reads; given any part that writes, in a changeset or not, writes", () => {
    expect(batchKind(buildBatch([longRead]).body)).toBe("read");
    expect(batchKind(buildBatch([longRead, { method: "GET", url: `${ROOT}accounts?$top=1` }]).body)).toBe("read");
    expect(batchKind(buildBatch([upsert(1), upsert(2)], { changeset: true }).body)).toBe("batch");
    expect(batchKind(buildBatch([longRead, upsert(1)]).body)).toBe("batch");
    expect(batchKind(buildBatch([{ method: "POST", url: `${ROOT}contacts`, body: "{}" }]).body)).toBe("batch");
    expect(batchKind(buildBatch([{ method: "DELETE", url: `${ROOT}contacts(00000000-0000-0000-0000-000000000001)` }]).body)).toBe("batch");
  });

  it("given a body with no operation it can read, counts it as a write, as before", () => {
    expect(batchKind("")).toBe("batch");
    expect(batchKind("not multipart at all\r\n")).toBe("batch");
  });

  it("given LF line endings, or a body cut anywhere into chunks, gives the same answer as on the whole body", () => {
    const bodies = [buildBatch([longRead]).body, buildBatch([longRead, upsert(7)]).body, buildBatch([upsert(3)], { changeset: true }).body];
    for (const body of [...bodies, ...bodies.map((b) => b.replace(/\r\n/g, "\n"))]) {
      const whole = batchKind(body);
      const bytes = Buffer.from(body, "utf8");
      for (let cut = 0; cut <= bytes.length; cut += 37) {
        const scanner = new BatchBodyScanner();
        scanner.feed(bytes.subarray(0, cut));
        scanner.feed(bytes.subarray(cut));
        scanner.end();
        expect(scanner.kind, `cut at ${cut}`).toBe(whole);
      }
    }
    expect(batchKind(bodies[0]?.replace(/\r\n/g, "\n") ?? "")).toBe("read");
  });

  it("given the requests a connector sends, counts the read $batch with the reads, the writes as writes, and when each 429 came", async () => {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      if (req.url?.includes("throttled") === true) {
        res.writeHead(429, { "retry-after": "1" }).end();
        return;
      }
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        // The body reaches the server whole: the counter only watches it go by.
        res.writeHead(200, { "content-type": "text/plain" }).end(String(Buffer.concat(chunks).length));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const counter = new HttpCounter().start();
    try {
      const send = async (method: string, path: string, body?: string): Promise<string> => {
        const res = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { body }) });
        return res.text();
      };
      const read = buildBatch([longRead]).body;
      const write = buildBatch(Array.from({ length: 300 }, (_, i) => upsert(i)), { changeset: true }).body;
      expect(await send("POST", `${ROOT}$batch`, read)).toBe(String(Buffer.byteLength(read)));
      expect(await send("POST", `${ROOT}$batch`, write)).toBe(String(Buffer.byteLength(write)));
      await send("GET", `${ROOT}contacts?$top=1`);
      await send("POST", `${ROOT}contacts/Microsoft.Dynamics.CRM.CreateMultiple`, '{"Targets":[]}');
      await send("POST", "/tenant/oauth2/v2.0/token", "grant_type=client_credentials");
      await send("POST", `${ROOT}$batch?throttled`, write);
    } finally {
      server.close();
    }
    const counts = counter.stop();
    expect(counts.total).toBe(6);
    expect(counts.token).toBe(1);
    expect(counts.reads).toBe(2);
    expect(counts.bulkWrites).toBe(1);
    // The write $batch and the throttled one (answered unread: a write whether or not its body was seen).
    expect(counts.batchWrites).toBe(2);
    expect(counts.writesOk).toBe(2);
    expect(counts.answered429).toBe(1);
    expect(counts.answered429At).toHaveLength(1);
    expect(counts.answered429At[0]).toBeGreaterThanOrEqual(0);
  });
});

describe("bench http counter: 429s after the first window", () => {
  it("given when each 429 was answered, counts those more than a window after the first request", () => {
    const counts = { answered429At: [0.5, 29.9, 30, 30.1, 95] } as Pick<HttpCounts, "answered429At"> as HttpCounts;
    expect(throttledAfter(counts, 30)).toBe(2);
    expect(throttledAfter(counts, 300)).toBe(0);
  });
});
