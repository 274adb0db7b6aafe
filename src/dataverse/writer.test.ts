// The writer against a scripted Transport (a seam we own): part-level retries and early stops in
// $batch answers, which the emulator cannot stage on demand.
import { describe, expect, it } from "vitest";
import { systemClock } from "../http/clock.js";
import { Throttle } from "../http/throttle.js";
import type { HttpRequest, HttpResponse, Transport } from "../http/transport.js";
import type { Operation } from "../model/operation.js";
import { contactTable, fixtureTables } from "../mapping/test-fixtures.js";
import { boundaryOf } from "./batch.js";
import { DataverseClient } from "./client.js";
import { DataverseError } from "./errors.js";
import type { TableLookup } from "../model/table-meta.js";
import { createWriter } from "./writer.js";

const ROOT = "https://org.example/api/data/v9.2/";

interface SentPart {
  method: string;
  url: string;
}

function partsOf(req: HttpRequest): SentPart[] {
  const boundary = boundaryOf(req.headers["Content-Type"] ?? "") ?? "";
  return String(req.body)
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => {
      const m = /\r\n\r\n([A-Z]+) (\S+) HTTP\/1\.1/.exec(p);
      return { method: m?.[1] ?? "", url: m?.[2] ?? "" };
    });
}

function batchAnswer(parts: { status: number; headers?: Record<string, string>; body?: string }[]): HttpResponse {
  const b = "batchresponse_t";
  let body = "";
  for (const p of parts) {
    const head = Object.entries(p.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    body += `--${b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nHTTP/1.1 ${p.status} X\r\n${head}\r\n${p.body ?? ""}\r\n`;
  }
  body += `--${b}--\r\n`;
  return { status: 200, headers: { "content-type": `multipart/mixed; boundary=${b}` }, body };
}

function setup(handler: (req: HttpRequest, n: number) => HttpResponse, tables: TableLookup = () => undefined) {
  const sent: SentPart[][] = [];
  const transport: Transport = {
    async request(req) {
      sent.push(partsOf(req));
      return handler(req, sent.length);
    },
  };
  const client = new DataverseClient({
    endpoint: new URL(ROOT),
    transport,
    tokens: { clientId: "c", getToken: async () => "token" },
    clock: systemClock,
    throttle: new Throttle({ clock: systemClock, initial: 4, max: 4 }),
    retryBudgetMs: 5000,
  });
  const writer = createWriter({
    clients: [client],
    tables,
    settings: { batchSize: 1000, maxBatchBytes: 1e7, retryBudgetSeconds: 5, useBulkActions: true },
    clock: systemClock,
    backoff: { baseDelayMs: 10, maxDelayMs: 20, random: () => 0 },
  });
  return { writer, sent };
}

const ops = (n: number, kind: Operation["kind"] = "upsert"): Operation[] =>
  Array.from({ length: n }, (_, i) => ({
    kind,
    table: "contact",
    entitySet: "contacts",
    ref: { kind: "key", values: [["emailaddress1", `r${i}@x.com`]] },
    columns: kind === "delete" ? {} : { lastname: "L" },
    bindings: [],
  }));

describe("writer $batch path", () => {
  it("resends only the part answered 429, after its Retry-After, never its committed neighbours", async () => {
    const { writer, sent } = setup((_req, n) =>
      n === 1
        ? batchAnswer([{ status: 204 }, { status: 429, headers: { "Retry-After": "1" }, body: '{"error":{"code":"0x80072322","message":"m"}}' }, { status: 204 }])
        : batchAnswer([{ status: 204 }]),
    );
    const started = Date.now();
    const out = await writer.write(ops(3));
    expect(out).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual([sent[0]?.[1]]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(writer.stats().users[0]?.pausedMs).toBeGreaterThanOrEqual(1000);
    // One part resent: counted once overall and once for its table, with the part's 429.
    expect(writer.stats().retries).toBe(1);
    expect(writer.stats().tables.get("contact")).toMatchObject({ throttled429: 1, retries: 1 });
  });

  it("parts a server left unanswered are sent again; answered ones are not", async () => {
    const { writer, sent } = setup((req) => batchAnswer(partsOf(req).slice(0, 2).map(() => ({ status: 204 }))));
    const out = await writer.write(ops(5));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(sent.map((s) => s.length)).toEqual([5, 3, 1]);
    expect(new Set(sent.flat().map((p) => p.url)).size).toBe(5);
    // Unanswered parts sent again count as resends too (3 after the first answer, 1 after the second).
    expect(writer.stats().retries).toBe(4);
    expect(writer.stats().tables.get("contact")?.retries).toBe(4);
  });

  it("update of a missing row is rejected, delete of a missing row is done, a validation error is rejected", async () => {
    const notFound = { status: 404, body: '{"error":{"code":"0x80060891","message":"A record with the specified key values does not exist"}}' };
    const { writer } = setup(() => batchAnswer([notFound]));
    expect(await writer.write(ops(1, "update"))).toEqual([{ ok: false, status: 404, code: "0x80060891", message: "A record with the specified key values does not exist" }]);
    expect(await writer.write(ops(1, "delete"))).toEqual([{ ok: true, unchanged: true }]);
    const { writer: w2 } = setup(() => batchAnswer([{ status: 400, body: '{"error":{"code":"0x80044331","message":"too long"}}' }]));
    expect(await w2.write(ops(1))).toEqual([{ ok: false, status: 400, code: "0x80044331", message: "too long" }]);
  });

  it("a 404 on delete counts as already gone only when it says the row is missing", async () => {
    const byId = { status: 404, body: '{"error":{"code":"0x80040217","message":"contact With Id = x Does Not Exist"}}' };
    expect(await setup(() => batchAnswer([byId])).writer.write(ops(1, "delete"))).toEqual([{ ok: true, unchanged: true }]);
    // Resource not found for the segment: a wrong entity set, not a deleted row.
    const segment = { status: 404, body: '{"error":{"code":"0x8006088a","message":"Resource not found for the segment"}}' };
    expect(await setup(() => batchAnswer([segment])).writer.write(ops(1, "delete"))).toEqual([{ ok: false, status: 404, code: "0x8006088a", message: "Resource not found for the segment" }]);
  });

  it("a replayed create-only meets its row: 412 with no code (Learn's example) or the duplicate-key code is done, a duplicate-detection 412 is rejected", async () => {
    const creates = ops(1, "create");
    for (const code of ["", "0x80040237"]) {
      const answer = { status: 412, body: JSON.stringify({ error: { code, message: "A record with matching key values already exists." } }) };
      expect(await setup(() => batchAnswer([answer])).writer.write(creates)).toEqual([{ ok: true, created: false, unchanged: true }]);
    }
    const dup = { status: 412, body: '{"error":{"code":"0x80040333","message":"A record was not created or updated because a duplicate of the current record already exists."}}' };
    expect((await setup(() => batchAnswer([dup])).writer.write(creates))[0]).toMatchObject({ ok: false, status: 412, code: "0x80040333" });
  });

  it("rows of an elastic table go through $batch, never a bulk action (bulk may succeed in part there)", async () => {
    const elastic = { ...contactTable(), tableType: "Elastic" };
    const { writer, sent } = setup((req) => batchAnswer(partsOf(req).map(() => ({ status: 204 }))), fixtureTables(elastic));
    expect(await writer.write(ops(3))).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(sent.map((s) => s.length)).toEqual([3]);
    expect(writer.stats().bulkRequests).toBe(0);
  });

  it("a privilege error in a part fails the whole write", async () => {
    const { writer } = setup(() => batchAnswer([{ status: 204 }, { status: 403, body: '{"error":{"code":"0x80040220","message":"no"}}' }]));
    const err = await writer.write(ops(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).kind).toBe("forbidden");
    expect((err as DataverseError).message).not.toContain("r1@x.com");
  });

  it("a part that stays throttled past the budget fails as transient", async () => {
    const { writer } = setup(() => batchAnswer([{ status: 503, headers: { "Retry-After": "10" } }]));
    const err = await writer.write(ops(1)).catch((e: unknown) => e);
    expect((err as DataverseError).kind).toBe("transient");
  });

  it("sends the write headers on the $batch request and on each part", async () => {
    let seen: HttpRequest | undefined;
    const transport: Transport = {
      async request(req) {
        seen = req;
        return batchAnswer([{ status: 204 }]);
      },
    };
    const client = new DataverseClient({
      endpoint: new URL(ROOT),
      transport,
      tokens: { clientId: "c", getToken: async () => "token" },
      clock: systemClock,
      retryBudgetMs: 1000,
    });
    const writer = createWriter({
      clients: [client],
      tables: () => undefined,
      settings: { batchSize: 10, maxBatchBytes: 1e6, retryBudgetSeconds: 1, useBulkActions: false },
      clock: systemClock,
      headers: { "MSCRM.SuppressCallbackRegistrationExpanderJob": "true" },
    });
    await writer.write(ops(1));
    expect(seen?.headers["MSCRM.SuppressCallbackRegistrationExpanderJob"]).toBe("true");
    expect(seen?.headers.Prefer).toBe("odata.continue-on-error");
    expect(String(seen?.body)).toContain("MSCRM.SuppressCallbackRegistrationExpanderJob: true\r\n");
    expect(String(seen?.body)).toContain("PATCH /api/data/v9.2/contacts(emailaddress1='r0@x.com') HTTP/1.1");
  });
});

describe("writer over a pool of application users", () => {
  function pool(answer: (user: string, n: number) => HttpResponse, budgetSeconds = 20) {
    const calls: string[] = [];
    const tokenCalls: string[] = [];
    const clients = ["a", "b"].map(
      (user) =>
        new DataverseClient({
          endpoint: new URL(ROOT),
          transport: {
            async request() {
              calls.push(user);
              return answer(user, calls.length);
            },
          },
          tokens: {
            clientId: user,
            getToken: async () => {
              tokenCalls.push(user);
              return `token-${user}`;
            },
          },
          clock: systemClock,
          throttle: new Throttle({ clock: systemClock, initial: 1, max: 1, label: user }),
          retryBudgetMs: budgetSeconds * 1000,
        }),
    );
    const writer = createWriter({
      clients,
      tables: () => undefined,
      settings: { batchSize: 1000, maxBatchBytes: 1e7, retryBudgetSeconds: budgetSeconds, useBulkActions: false },
      clock: systemClock,
      backoff: { baseDelayMs: 10, maxDelayMs: 20, random: () => 0 },
    });
    return { writer, calls, tokenCalls, clients };
  }
  const throttled: HttpResponse = { status: 429, headers: { "retry-after": "5" }, body: '{"error":{"code":"0x80072321","message":"m"}}' };

  it("moves a request answered 429 to a user that is not paused at once, and counts the resend", async () => {
    const { writer, calls } = pool((user) => (user === "a" ? throttled : batchAnswer([{ status: 204 }])));
    const started = Date.now();
    const out = await writer.write(ops(1));
    expect(out).toEqual([{ ok: true }]);
    // Not the 5 s Retry-After of user a: user b took the request straight away.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls).toEqual(["a", "b"]);
    const stats = writer.stats();
    expect(stats.retries).toBe(1);
    expect(stats.throttled429).toBe(1);
    expect(stats.tables.get("contact")).toMatchObject({ throttled429: 1, retries: 1 });
    expect(stats.users.find((u) => u.label === "a")?.paused).toBe(true);
  });

  it("fails as transient when every user is paused for longer than the budget, without waiting", async () => {
    const { writer, calls } = pool(() => throttled, 2);
    const started = Date.now();
    const err = await writer.write(ops(1)).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).kind).toBe("transient");
    expect((err as DataverseError).status).toBe(429);
    expect(calls).toEqual(["a", "b"]);
  });

  it("signs every user of the pool in up front", async () => {
    const { tokenCalls } = pool(() => batchAnswer([{ status: 204 }]));
    await new Promise((r) => setTimeout(r, 0));
    expect(tokenCalls).toEqual(["b"]);
  });
});

describe("writer: grouped lookups of keys a URL cannot carry", () => {
  const unusable = (n: number): Operation[] =>
    Array.from({ length: n }, (_, i) => ({
      kind: "upsert",
      table: "contact",
      entitySet: "contacts",
      ref: { kind: "key", values: [["emailaddress1", `a/${i}@x.com`]] },
      columns: { lastname: "L" },
      bindings: [],
    }));
  const json = (value: unknown): HttpResponse => ({ status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(value) });

  it.each([
    ["answers a row matching none of its keys", json({ value: [{ contactid: "00000000-0000-0000-0000-000000000001", emailaddress1: "stranger@x.com" }] })],
    ["fails", { status: 400, headers: { "content-type": "application/json" }, body: '{"error":{"code":"0x0","message":"bad filter"}}' }],
  ])("when the grouped query %s, each key is looked up on its own", async (_name, groupedAnswer: HttpResponse) => {
    const gets: string[] = [];
    const { writer } = setup((req) => {
      if (req.method === "GET") {
        gets.push(req.url);
        return req.url.includes("%20or%20") ? groupedAnswer : json({ value: [] });
      }
      return batchAnswer(partsOf(req).map(() => ({ status: 204 })));
    }, fixtureTables());
    const out = await writer.write(unusable(3));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(gets.filter((u) => u.includes("%20or%20"))).toHaveLength(1);
    expect(gets.filter((u) => u.includes("$top=2"))).toHaveLength(3);
  });

  it("trusts a grouped answer whose rows all match: absent keys are created without a lookup each", async () => {
    const gets: string[] = [];
    const { writer } = setup((req) => {
      if (req.method === "GET") {
        gets.push(req.url);
        return json({ value: [{ contactid: "00000000-0000-0000-0000-000000000001", emailaddress1: "A/0@X.COM  " }] });
      }
      return batchAnswer(partsOf(req).map(() => ({ status: 204 })));
    }, fixtureTables());
    const out = await writer.write(unusable(3));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(gets).toHaveLength(1);
  });

  it("asks about every spelling, each in a query of its own kind: cat/1 and cat/1<TAB> are two rows, CAT/1<SPACE> is cat/1's row", async () => {
    const stored = [
      { contactid: "00000000-0000-0000-0000-000000000001", emailaddress1: "cat/1@x.com" },
      { contactid: "00000000-0000-0000-0000-000000000002", emailaddress1: "cat/1@x.com\t" },
    ];
    // SQL Server's equality under a _CI collation: case and trailing spaces do not count, a tab does.
    const sql = (text: string): string => text.replace(/ +$/, "").toLowerCase();
    const asked: string[][] = [];
    const { writer, sent } = setup((req) => {
      if (req.method === "GET") {
        const filter = decodeURIComponent(/\$filter=([^&]*)/.exec(req.url)?.[1] ?? "");
        const spellings = [...filter.matchAll(/emailaddress1 eq '((?:[^']|'')*)'/g)].map((m) => (m[1] ?? "").replace(/''/g, "'"));
        asked.push(spellings);
        return json({ value: stored.filter((r) => spellings.some((s) => sql(s) === sql(r.emailaddress1))) });
      }
      return batchAnswer(partsOf(req).map(() => ({ status: 204 })));
    }, fixtureTables());
    const op = (email: string): Operation => ({
      kind: "delete",
      table: "contact",
      entitySet: "contacts",
      ref: { kind: "key", values: [["emailaddress1", email]] },
      columns: {},
      bindings: [],
    });
    const out = await writer.write([op("cat/1@x.com"), op("cat/1@x.com\t"), op("CAT/1@x.com ")]);
    expect(out.every((o) => o.ok)).toBe(true);
    expect(asked.flat().sort()).toEqual(["CAT/1@x.com ", "cat/1@x.com", "cat/1@x.com\t"].sort());
    // cat/1 and CAT/1<SPACE> are one key: never in one query, so a row read back names one spelling.
    for (const spellings of asked) expect(spellings.filter((x) => sql(x) === "cat/1@x.com").length).toBeLessThanOrEqual(1);
    const writes = sent.flat().filter((p) => p.method === "DELETE").map((p) => p.url.replace(/^.*\//, ""));
    expect(writes.sort()).toEqual(["contacts(00000000-0000-0000-0000-000000000001)", "contacts(00000000-0000-0000-0000-000000000001)", "contacts(00000000-0000-0000-0000-000000000002)"]);
  });

  it("two rows read back for one key of a grouped query prove nothing: each spelling is looked up on its own", async () => {
    const gets: string[] = [];
    const { writer } = setup((req) => {
      if (req.method === "GET") {
        gets.push(req.url);
        if (req.url.includes("$top=2")) return json({ value: [{ contactid: "00000000-0000-0000-0000-000000000009" }] });
        return json({
          value: [
            { contactid: "00000000-0000-0000-0000-000000000001", emailaddress1: "a/0@x.com" },
            { contactid: "00000000-0000-0000-0000-000000000002", emailaddress1: "A/0@X.com" },
          ],
        });
      }
      return batchAnswer(partsOf(req).map(() => ({ status: 204 })));
    }, fixtureTables());
    const out = await writer.write(unusable(2));
    expect(out.every((o) => o.ok)).toBe(true);
    expect(gets.filter((u) => u.includes("$top=2"))).toHaveLength(2);
  });
});
