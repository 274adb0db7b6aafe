// The writer's and the client's rarer branches, pinned before the writer is split:
// whole-$batch refusals, 413s on one row, answers that leave parts unanswered, keys a URL cannot
// carry, numeric key values written as text, and the client's guards on what it reads back.
// Only public seams: createWriter, DataverseClient, a scripted Transport and a ManualClock.
import { describe, expect, it } from "vitest";
import { ManualClock } from "../http/clock.js";
import { Throttle } from "../http/throttle.js";
import type { HttpRequest, HttpResponse, Transport } from "../http/transport.js";
import type { Operation, RowRef } from "../model/operation.js";
import type { TableLookup } from "../model/table-meta.js";
import { fixtureTables } from "../mapping/test-fixtures.js";
import { boundaryOf } from "./batch.js";
import { DataverseClient } from "./client.js";
import { DataverseError, ForeignHostError } from "./errors.js";
import { createWriter } from "./writer.js";

const ROOT = "https://org.example/api/data/v9.2/";
/** A writer that loops on a broken branch would otherwise spin forever: every script stops here. */
const MAX_REQUESTS = 60;

interface Part {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

function partsOf(req: HttpRequest): Part[] {
  const boundary = boundaryOf(req.headers["Content-Type"] ?? "") ?? "";
  return String(req.body)
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => {
      const m = /\r\n\r\n([A-Z]+) (\S+) HTTP\/1\.1\r\n/.exec(p);
      const rest = m === null ? "" : p.slice(m.index + m[0].length);
      const blank = rest.indexOf("\r\n\r\n");
      const body = rest.startsWith("\r\n") ? rest.slice(2) : blank < 0 ? "" : rest.slice(blank + 4);
      return { method: m?.[1] ?? "", url: m?.[2] ?? "", body: body.trim() };
    });
}

function multipart(parts: readonly { status: number; body?: string }[]): HttpResponse {
  const b = "batchresponse_b";
  let body = "";
  for (const p of parts) {
    const head = p.body === undefined ? "" : "Content-Type: application/json; odata.metadata=minimal\r\n";
    body += `--${b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 ${p.status} X\r\n${head}\r\n${p.body ?? ""}\r\n`;
  }
  body += `--${b}--\r\n`;
  return { status: 200, headers: { "content-type": `multipart/mixed; boundary=${b}` }, body };
}

function json(status: number, value: unknown): HttpResponse {
  return { status, headers: { "content-type": "application/json; odata.metadata=minimal" }, body: JSON.stringify(value) };
}

const refusal = (status: number, code: string, message: string): HttpResponse => json(status, { error: { code, message } });

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly parts: Part[];
  readonly body: string;
}

function scripted(answer: (req: HttpRequest, seen: Seen) => HttpResponse) {
  const seen: Seen[] = [];
  const transport: Transport = {
    async request(req) {
      if (seen.length >= MAX_REQUESTS) throw new Error(`more than ${MAX_REQUESTS} requests: the writer is looping`);
      const s = { method: req.method, url: req.url, parts: req.url.endsWith("$batch") ? partsOf(req) : [], body: req.body === undefined ? "" : String(req.body) };
      seen.push(s);
      return answer(req, s);
    },
  };
  return { transport, seen };
}

function clientOver(transport: Transport, clock = new ManualClock()): DataverseClient {
  return new DataverseClient({
    endpoint: new URL(ROOT),
    transport,
    tokens: { clientId: "c", getToken: async () => "token" },
    clock,
    throttle: new Throttle({ clock, initial: 4, max: 4 }),
    retryBudgetMs: 60_000,
  });
}

function writerOver(transport: Transport, o: { tables?: TableLookup; bulk?: boolean } = {}) {
  const clock = new ManualClock();
  return createWriter({
    clients: [clientOver(transport, clock)],
    tables: o.tables ?? fixtureTables(),
    settings: { batchSize: 1000, maxBatchBytes: 1e7, retryBudgetSeconds: 60, useBulkActions: o.bulk ?? false },
    clock,
    // Unanswered parts are resent at once; no test here waits on the clock.
    backoff: { baseDelayMs: 0, maxDelayMs: 0, random: () => 0 },
  });
}

const byEmail = (email: string): RowRef => ({ kind: "key", values: [["emailaddress1", email]] });

function op(kind: Operation["kind"], ref: RowRef, table = "contact", entitySet = "contacts"): Operation {
  return { kind, table, entitySet, ref, columns: kind === "delete" ? {} : { lastname: "L" }, bindings: [] };
}

const GUID = "0f8fad5b-d9cb-469f-a165-70867728950e";
const GUID2 = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

describe("writer: a whole $batch refused", () => {
  it("given a multi-part $batch refused 400 as a whole, halves it until each part answers for itself, and rejects only the bad row", async () => {
    const bad = "r2@x.com";
    const { transport, seen } = scripted((_req, s) => {
      if (s.parts.length > 1) return refusal(400, "0x80048d19", "The request is invalid.");
      // A one-part $batch refused as a whole: that answer belongs to the part.
      if (s.parts[0]?.url.includes(bad) === true) return refusal(400, "0x80044331", "A validation error occurred.");
      return multipart([{ status: 204 }]);
    });
    const out = await writerOver(transport).write([0, 1, 2, 3].map((i) => op("delete", byEmail(`r${i}@x.com`))));
    expect(out[2]).toEqual({ ok: false, status: 400, code: "0x80044331", message: "A validation error occurred." });
    expect([out[0], out[1], out[3]]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(seen.map((s) => s.parts.length).sort()).toEqual([1, 1, 1, 1, 2, 2, 4]);
  });

  it("given a one-part $batch answered 413, rejects that row with 413 instead of resending it", async () => {
    const { transport, seen } = scripted(() => refusal(413, "", "The request is too large."));
    const out = await writerOver(transport).write([op("delete", byEmail("big@x.com"))]);
    expect(out).toEqual([{ ok: false, status: 413, code: "", message: "The request is too large." }]);
    expect(seen).toHaveLength(1);
  });

  it("given a three-part $batch answered 413 while it holds the big row, splits it and rejects only that row", async () => {
    const { transport, seen } = scripted((_req, s) =>
      s.parts.some((p) => p.url.includes("big")) ? refusal(413, "", "too large") : multipart(s.parts.map(() => ({ status: 204 }))),
    );
    const out = await writerOver(transport).write([op("delete", byEmail("a@x.com")), op("delete", byEmail("big@x.com")), op("delete", byEmail("c@x.com"))]);
    expect(out).toEqual([{ ok: true }, { ok: false, status: 413, code: "", message: "too large" }, { ok: true }]);
    expect(seen.map((s) => s.parts.length).sort()).toEqual([1, 1, 1, 2, 3]);
  });

  it("given a $batch whose answer never covers its last part, stops after that part was sent 6 times", async () => {
    // Every answer stops before the part for b: it is left unanswered each time.
    const { transport, seen } = scripted((_req, s) => multipart(s.parts.filter((p) => !p.url.includes("='b")).map(() => ({ status: 204 }))));
    const err = await writerOver(transport)
      .write([op("delete", byEmail("a@x.com")), op("delete", byEmail("b@x.com"))])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).kind).toBe("unexpected");
    expect((err as DataverseError).retryable).toBe(false);
    // Sent once with its neighbour, then on its own five more times.
    expect(seen.map((s) => s.parts.length)).toEqual([2, 1, 1, 1, 1, 1]);
  });
});

describe("writer: a bulk request refused 413", () => {
  it("given one row whose UpsertMultiple is answered 413, rejects it with 413 and sends nothing more", async () => {
    const { transport, seen } = scripted(() => refusal(413, "", "The request is too large."));
    const out = await writerOver(transport, { bulk: true }).write([op("upsert", byEmail("big@x.com"))]);
    expect(out).toEqual([{ ok: false, status: 413, code: "", message: "The request is too large." }]);
    expect(seen.map((s) => s.url)).toEqual([`${ROOT}contacts/Microsoft.Dynamics.CRM.UpsertMultiple`]);
  });

  it("given two rows answered 413 together, halves the bulk request instead of going to $batch, and rejects only the row still refused alone", async () => {
    const { transport, seen } = scripted((req) => (String(req.body).includes("big@x.com") ? refusal(413, "", "too large") : json(200, {})));
    const out = await writerOver(transport, { bulk: true }).write([op("upsert", byEmail("a@x.com")), op("upsert", byEmail("big@x.com"))]);
    expect(out).toEqual([{ ok: true }, { ok: false, status: 413, code: "", message: "too large" }]);
    expect(seen.every((s) => s.url.endsWith("UpsertMultiple"))).toBe(true);
    expect(seen).toHaveLength(3);
  });
});

describe("writer: keys Dataverse cannot take in a URL", () => {
  const slashKey = byEmail("a/b+c?d&e@x.com");

  it("given a key with / + ? & on a table whose metadata is not loaded, rejects the row and sends nothing", async () => {
    const { transport, seen } = scripted(() => json(200, { value: [] }));
    const out = await writerOver(transport, { tables: () => undefined }).write([op("upsert", slashKey)]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ ok: false, status: 0 });
    expect((out[0] as { message: string }).message).toMatch(/metadata is not loaded/);
    expect(seen).toHaveLength(0);
  });

  it("given an update whose URL-unusable key matches no row, rejects it as 404 without creating the row", async () => {
    const { transport, seen } = scripted((req) => (req.method === "GET" ? json(200, { value: [] }) : multipart([{ status: 204 }])));
    const out = await writerOver(transport).write([op("update", slashKey)]);
    expect(out).toEqual([{ ok: false, status: 404, code: "", message: "row does not exist" }]);
    expect(seen.map((s) => s.method)).toEqual(["GET"]);
  });

  it("given a create by a key with a lookup part and a URL-unusable value, binds the lookup through its one relationship in the body", async () => {
    const ref: RowRef = { kind: "key", values: [["_primarycontactid_value", GUID], ["name", "A/B"]] };
    const { transport, seen } = scripted((req) => (req.method === "GET" ? json(200, { value: [] }) : multipart([{ status: 201 }])));
    const out = await writerOver(transport).write([op("create", ref, "account", "accounts")]);
    expect(out).toEqual([{ ok: true, created: true }]);
    const post = seen.find((s) => s.method === "POST")?.parts[0];
    expect(post?.method).toBe("POST");
    expect(post?.url).toBe("/api/data/v9.2/accounts");
    expect(JSON.parse(post?.body ?? "{}")).toMatchObject({ name: "A/B", "primarycontactid@odata.bind": `/contacts(${GUID})` });
  });

  it("given a create by a key whose lookup part has two possible targets, rejects the row and writes nothing", async () => {
    // contact.parentcustomerid is a Customer lookup: account or contact, so no single bind exists.
    const ref: RowRef = { kind: "key", values: [["_parentcustomerid_value", GUID], ["firstname", "A/B"]] };
    const { transport, seen } = scripted((req) => (req.method === "GET" ? json(200, { value: [] }) : multipart([{ status: 201 }])));
    const out = await writerOver(transport).write([op("create", ref)]);
    expect(out[0]).toMatchObject({ ok: false, status: 0, code: "" });
    expect((out[0] as { message: string }).message).toMatch(/parentcustomerid/);
    expect(seen.filter((s) => s.method !== "GET")).toHaveLength(0);
  });

  it("given numeric key values written as text ('42.0'), trusts the grouped lookup that returns them as numbers: no lookup per row", async () => {
    const refs: RowRef[] = [
      { kind: "key", values: [["contoso_legacyid", "42.0"], ["emailaddress1", "a/b@x.com"]] },
      { kind: "key", values: [["contoso_legacyid", " 7"], ["emailaddress1", "c/d@x.com"]] },
    ];
    const rows = [
      { contactid: GUID, contoso_legacyid: 42, emailaddress1: "a/b@x.com" },
      { contactid: GUID2, contoso_legacyid: 7, emailaddress1: "c/d@x.com" },
    ];
    const { transport, seen } = scripted((req, s) => (req.method === "GET" ? json(200, { value: rows }) : multipart(s.parts.map(() => ({ status: 204 })))));
    const out = await writerOver(transport).write(refs.map((r) => op("upsert", r)));
    expect(out).toEqual([{ ok: true }, { ok: true }]);
    expect(seen.filter((s) => s.method === "GET")).toHaveLength(1);
    expect(seen.find((s) => s.method === "POST")?.parts.map((p) => p.url)).toEqual([`/api/data/v9.2/contacts(${GUID})`, `/api/data/v9.2/contacts(${GUID2})`]);
  });
});

describe("client: what it reads back", () => {
  it("given an @odata.nextLink on another host, refuses to follow it, so the bearer token never goes there", async () => {
    const { transport, seen } = scripted(() => json(200, { value: [{ contactid: GUID }], "@odata.nextLink": "https://attacker.example/api/data/v9.2/contacts?$skiptoken=2" }));
    const pages: unknown[] = [];
    const err = await (async () => {
      for await (const page of clientOver(transport).query("contacts")) pages.push(page);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForeignHostError);
    expect(err).toMatchObject({ host: "attacker.example", endpointHost: "org.example" });
    expect(pages).toEqual([[{ contactid: GUID }]]);
    expect(seen.map((s) => new URL(s.url).host)).toEqual(["org.example"]);
  });

  it("given an @odata.nextLink on its own host, follows it", async () => {
    const { transport, seen } = scripted((req) =>
      req.url.includes("skiptoken") ? json(200, { value: [{ contactid: GUID2 }] }) : json(200, { value: [{ contactid: GUID }], "@odata.nextLink": `${ROOT}contacts?$skiptoken=2` }),
    );
    const pages: unknown[] = [];
    for await (const page of clientOver(transport).query("contacts")) pages.push(page);
    expect(pages).toEqual([[{ contactid: GUID }], [{ contactid: GUID2 }]]);
    expect(seen).toHaveLength(2);
  });

  it("given a 200 whose body is not JSON, fails with an unexpected DataverseError that names no body text", async () => {
    const { transport } = scripted(() => ({ status: 200, headers: { "content-type": "text/html" }, body: "<html>secret-looking page</html>" }));
    const err = await clientOver(transport).get("WhoAmI").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).kind).toBe("unexpected");
    expect((err as DataverseError).status).toBe(200);
    expect((err as DataverseError).message).not.toContain("secret-looking");
  });
});
