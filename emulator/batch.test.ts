import { describe, expect, it } from "vitest";
import type { ServiceResponse } from "./types.js";
import { executeBatch, formatBatchResponse, parseBatch, type BatchPart, type BatchRunner } from "./batch.js";

const crlf = (lines: string[]): string => lines.join("\r\n");

function part(method: string, url: string, body = "", contentId?: string, boundary = "batch_A"): string[] {
  return [
    `--${boundary}`,
    "Content-Type: application/http",
    "Content-Transfer-Encoding: binary",
    ...(contentId === undefined ? [] : [`Content-ID: ${contentId}`]),
    "",
    `${method} ${url} HTTP/1.1`,
    ...(body === "" ? ["", ""] : ["Content-Type: application/json; type=entry", "", body]),
  ];
}

// The documented changeset example: three creates in a changeset, then a GET outside it.
const documented = crlf([
  "--batch_22975cad",
  'Content-Type: multipart/mixed; boundary="changeset_246e6bfe"',
  "",
  ...part("POST", "/api/data/v9.2/tasks", '{"subject":"Task 1 in batch"}', "1", "changeset_246e6bfe"),
  ...part("POST", "/api/data/v9.2/tasks", '{"subject":"Task 2 in batch"}', "2", "changeset_246e6bfe"),
  "--changeset_246e6bfe--",
  "",
  ...part("GET", "/api/data/v9.2/tasks?$select=subject", "", undefined, "batch_22975cad"),
  "--batch_22975cad--",
  "",
]);

/** A DataService stand-in: rows in an array, transactions by snapshot. */
function fakeRunner(): BatchRunner & { rows: string[]; seen: { part: BatchPart; refs: string[] }[] } {
  const rows: string[] = [];
  const seen: { part: BatchPart; refs: string[] }[] = [];
  return {
    rows,
    seen,
    run(p, refs): ServiceResponse {
      seen.push({ part: p, refs: refs === undefined ? [] : [...refs.keys()] });
      if (p.body.includes("fail")) {
        return { status: 400, headers: { "content-type": "application/json" }, body: '{"error":{"code":"0x80044331","message":"too long"}}' };
      }
      if (p.method === "GET") return { status: 200, headers: { "content-type": "application/json" }, body: '{"value":[]}' };
      rows.push(p.body);
      const id = `0000000${rows.length}-0000-0000-0000-000000000000`;
      return { status: 204, headers: { "odata-version": "4.0", "odata-entityid": `https://h/api/data/v9.2/tasks(${id})` }, cost: { records: 1, bulk: false } };
    },
    transaction(fn) {
      const before = rows.length;
      if (!fn()) rows.length = before;
    },
  };
}

describe("parseBatch", () => {
  it("reads the documented changeset example: a changeset of two creates with Content-IDs, then a GET", () => {
    const parsed = parseBatch('multipart/mixed; boundary="batch_22975cad"', documented);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.items).toHaveLength(2);
    const [cs, get] = parsed.items;
    expect(cs?.kind).toBe("changeset");
    if (cs?.kind !== "changeset" || get?.kind !== "request") throw new Error("shape");
    expect(cs.parts.map((p) => [p.method, p.url, p.contentId, p.body])).toEqual([
      ["POST", "/api/data/v9.2/tasks", "1", '{"subject":"Task 1 in batch"}'],
      ["POST", "/api/data/v9.2/tasks", "2", '{"subject":"Task 2 in batch"}'],
    ]);
    expect(cs.parts[0]?.headers["content-type"]).toBe("application/json; type=entry");
    expect([get.part.method, get.part.url, get.part.body]).toEqual(["GET", "/api/data/v9.2/tasks?$select=subject", ""]);
  });

  it("accepts an unquoted boundary and pretty-printed JSON bodies with LF inside a CRLF frame", () => {
    const body = crlf([...part("POST", "tasks", '{\n  "subject": "x"\n}'), "--batch_A--", ""]);
    const parsed = parseBatch("multipart/mixed;boundary=batch_A", body);
    expect(parsed.ok && parsed.items[0]?.kind === "request" && parsed.items[0].part.body).toBe('{\n  "subject": "x"\n}');
  });

  it("reads the framing dynamics-web-api writes: CRLF preamble, boundary=without space, GET headers up to the delimiter", () => {
    // Shape of DynamicsWebApi 2.5 convertToBatch: pieces pushed with a leading "\r\n", joined by "\r\n".
    const pieces = [
      "\r\n--dwa_batch_1",
      "Content-Type: multipart/mixed;boundary=changeset_2",
      "\r\n--changeset_2",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "Content-ID: 100001",
      "\r\nPOST https://h/api/data/v9.2/accounts HTTP/1.1",
      "Content-Type: application/json",
      '\r\n{"name":"A"}',
      "\r\n--changeset_2--",
      "\r\n--dwa_batch_1",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "\r\nGET https://h/api/data/v9.2/accounts?$select=name HTTP/1.1",
      "Accept: application/json",
      "\r\n--dwa_batch_1--\r\n",
    ];
    const parsed = parseBatch("multipart/mixed;boundary=dwa_batch_1", pieces.join("\r\n"));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const [cs, get] = parsed.items;
    expect(cs?.kind === "changeset" && cs.parts.map((p) => [p.method, p.url, p.contentId, p.body])).toEqual([
      ["POST", "https://h/api/data/v9.2/accounts", "100001", '{"name":"A"}'],
    ]);
    expect(get?.kind === "request" && [get.part.method, get.part.headers["accept"], get.part.body]).toEqual(["GET", "application/json", ""]);
  });

  it("reads LF framing when the body ends with two LFs, as web-api-client-errors advises", () => {
    const lf = parseBatch('multipart/mixed; boundary="batch_22975cad"', `${documented.replaceAll("\r\n", "\n")}\n`);
    const crlfParsed = parseBatch('multipart/mixed; boundary="batch_22975cad"', documented);
    expect(lf.ok && !lf.truncated).toBe(true);
    expect(lf).toEqual(crlfParsed);
  });

  // The documented example with its changeset last: a GET first, then the changeset of two creates.
  const postLast = crlf([
    ...part("GET", "/api/data/v9.2/tasks?$select=subject", "", undefined, "batch_22975cad"),
    "--batch_22975cad",
    'Content-Type: multipart/mixed; boundary="changeset_246e6bfe"',
    "",
    ...part("POST", "/api/data/v9.2/tasks", '{"subject":"Task 1 in batch"}', "1", "changeset_246e6bfe"),
    ...part("POST", "/api/data/v9.2/tasks", '{"subject":"Task 2 in batch"}', "2", "changeset_246e6bfe"),
    "--changeset_246e6bfe--",
    "--batch_22975cad--",
    "",
  ]);

  it.each([
    ["CRLF framing whose last line has no CRLF", postLast.slice(0, -2)],
    ["LF framing ending in a single LF", postLast.replaceAll("\r\n", "\n")],
  ])("%s: the last operation's content cannot be read (400 0x80048d19 'Stream was not readable'), the ones before it run", (_name, body) => {
    const parsed = parseBatch('multipart/mixed; boundary="batch_22975cad"', body);
    expect(parsed.ok && parsed.truncated).toBe(true);
    if (!parsed.ok) return;
    const runner = fakeRunner();
    const outcome = executeBatch(parsed.items, runner, false);
    expect(outcome.status).toBe(400);
    expect(runner.seen.map((s) => s.part.method)).toEqual(["GET", "POST"]); // the changeset's last create never ran
    expect(runner.rows).toEqual([]); // and the changeset rolled back
    const last = outcome.items[outcome.items.length - 1];
    const error = last?.kind === "response" ? (JSON.parse(last.part.response.body ?? "{}") as { error: { code: string; message: string } }).error : undefined;
    expect(error?.code).toBe("0x80048d19");
    expect(error?.message).toMatch(/^Error identified in Payload provided by the user for Entity :'tasks', .*InnerException : System\.ArgumentException: Stream was not readable\.$/);
  });

  it("runs a truncated body in full when its last operation has no content to read (a GET)", () => {
    const parsed = parseBatch('multipart/mixed; boundary="batch_22975cad"', documented.slice(0, -2));
    expect(parsed.ok && parsed.truncated).toBe(true);
    if (!parsed.ok) return;
    const outcome = executeBatch(parsed.items, fakeRunner(), false);
    expect(outcome.status).toBe(200);
  });

  it("refuses a changeset operation without Content-ID (OData: each MUST carry one) with 400 0x80060888", () => {
    const body = crlf(["--batch_A", "Content-Type: multipart/mixed; boundary=changeset_B", "", ...part("POST", "tasks", "{}", undefined, "changeset_B"), "--changeset_B--", "--batch_A--", ""]);
    expect(parseBatch("multipart/mixed; boundary=batch_A", body)).toMatchObject({ ok: false, status: 400, code: "0x80060888" });
  });

  it("refuses a GET inside a changeset", () => {
    const body = crlf([
      "--batch_A",
      "Content-Type: multipart/mixed; boundary=changeset_B",
      "",
      ...part("GET", "tasks", "", "1", "changeset_B"),
      "--changeset_B--",
      "--batch_A--",
    ]);
    const parsed = parseBatch("multipart/mixed; boundary=batch_A", body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.status).toBe(400);
  });

  it("allows 1000 operations and refuses 1001 with 400", () => {
    const build = (n: number): string => crlf([...Array.from({ length: n }, () => part("POST", "tasks", "{}")).flat(), "--batch_A--", ""]);
    const ok = parseBatch("multipart/mixed; boundary=batch_A", build(1000));
    expect(ok.ok && ok.items.length).toBe(1000);
    const tooMany = parseBatch("multipart/mixed; boundary=batch_A", build(1001));
    expect(tooMany.ok).toBe(false);
    if (!tooMany.ok) {
      expect(tooMany.status).toBe(400);
      expect(tooMany.message).toContain("1000");
    }
  });

  it("refuses a body that is not multipart/mixed", () => {
    expect(parseBatch("application/json", "{}").ok).toBe(false);
  });
});

/** A batch (boundary batch_A) holding one changeset (boundary changeset_B) of the given parts. */
function oneChangeset(parts: readonly string[][]): string {
  return crlf(["--batch_A", "Content-Type: multipart/mixed; boundary=changeset_B", "", ...parts.flat(), "--changeset_B--", "--batch_A--", ""]);
}

describe("executeBatch", () => {
  const twoThenFail = (fail: number): string[] =>
    [1, 2, 3].flatMap((i) => part("POST", "/api/data/v9.2/tasks", i === fail ? '{"subject":"fail"}' : `{"subject":"${i}"}`));

  it("stops at the first failing part and answers with its status", () => {
    const parsed = parseBatch("multipart/mixed; boundary=batch_A", crlf([...twoThenFail(2), "--batch_A--", ""]));
    if (!parsed.ok) throw new Error("parse");
    const runner = fakeRunner();
    const outcome = executeBatch(parsed.items, runner, false);
    expect(outcome.status).toBe(400);
    expect(runner.seen).toHaveLength(2);
    expect(runner.rows).toEqual(['{"subject":"1"}']);
    expect(outcome.items.map((i) => (i.kind === "response" ? i.part.response.status : 0))).toEqual([204, 400]);
  });

  it("with continue-on-error runs every part and answers 200", () => {
    const parsed = parseBatch("multipart/mixed; boundary=batch_A", crlf([...twoThenFail(2), "--batch_A--", ""]));
    if (!parsed.ok) throw new Error("parse");
    const runner = fakeRunner();
    const outcome = executeBatch(parsed.items, runner, true);
    expect(outcome.status).toBe(200);
    expect(runner.rows).toEqual(['{"subject":"1"}', '{"subject":"3"}']);
    expect(outcome.items.map((i) => (i.kind === "response" ? i.part.response.status : 0))).toEqual([204, 400, 204]);
  });

  it("rolls a changeset back as a whole when one of its parts fails", () => {
    const body = oneChangeset([part("POST", "tasks", '{"subject":"1"}', "1", "changeset_B"), part("POST", "tasks", '{"subject":"fail"}', "2", "changeset_B")]);
    const parsed = parseBatch("multipart/mixed; boundary=batch_A", body);
    if (!parsed.ok) throw new Error("parse");
    const runner = fakeRunner();
    const outcome = executeBatch(parsed.items, runner, false);
    expect(outcome.status).toBe(400);
    expect(runner.rows).toEqual([]);
  });

  it("resolves $n to the URI created earlier in the changeset and refuses a forward reference", () => {
    const body = crlf([
      "--batch_A",
      "Content-Type: multipart/mixed; boundary=changeset_B",
      "",
      ...part("POST", "contacts", '{"firstname":"a"}', "1", "changeset_B"),
      ...part("PATCH", "$1", '{"parentcustomerid_account@odata.bind":"$1"}', "2", "changeset_B"),
      "--changeset_B--",
      "--batch_A",
      "Content-Type: multipart/mixed; boundary=changeset_C",
      "",
      ...part("POST", "tasks", '{"regardingobjectid_account_task@odata.bind":"$4"}', "3", "changeset_C"),
      ...part("POST", "accounts", '{"name":"x"}', "4", "changeset_C"),
      "--changeset_C--",
      "--batch_A--",
      "",
    ]);
    const parsed = parseBatch("multipart/mixed; boundary=batch_A", body);
    if (!parsed.ok) throw new Error("parse");
    const runner = fakeRunner();
    const outcome = executeBatch(parsed.items, runner, true);
    expect(runner.seen[1]?.refs).toEqual(["$1"]);
    const second = outcome.items[1];
    expect(second?.kind === "response" && JSON.parse(second.part.response.body ?? "{}")).toEqual({
      error: { code: "0x0", message: "Content-ID Reference: '$4' does not exist in the batch context." },
    });
  });
});

describe("executeBatch: data that looks like a reference", () => {
  it('a string value starting with "$" in a changeset part is data, not a Content-ID reference', () => {
    const body = oneChangeset([part("POST", "accounts", '{"name":"$100","description":"$1 off"}', "1", "changeset_B")]);
    const parsed = parseBatch("multipart/mixed; boundary=batch_A", body);
    if (!parsed.ok) throw new Error("parse");
    const runner = fakeRunner();
    const outcome = executeBatch(parsed.items, runner, false);
    expect(outcome.status).toBe(200);
    expect(runner.rows).toEqual(['{"name":"$100","description":"$1 off"}']);
  });
});

describe("formatBatchResponse", () => {
  it("writes batchresponse_/changesetresponse_ boundaries, status lines, Location beside OData-EntityId and the Content-ID", () => {
    const entity = "https://h/api/data/v9.2/tasks(d31ba648-c592-ed11-aad1-000d3a993550)";
    const { contentType, body } = formatBatchResponse([
      { kind: "changeset", parts: [{ contentId: "1", response: { status: 204, headers: { "odata-version": "4.0", "odata-entityid": entity } } }] },
      { kind: "response", part: { response: { status: 400, headers: { "content-type": "application/json; odata.metadata=minimal" }, body: '{"error":{}}' } } },
    ]);
    const boundary = /^multipart\/mixed; boundary=(batchresponse_[0-9a-f-]{36})$/.exec(contentType)?.[1];
    expect(boundary).toBeDefined();
    const cs = /boundary=(changesetresponse_[0-9a-f-]{36})\r\n/.exec(body)?.[1];
    expect(cs).toBeDefined();
    expect(body).toBe(
      [
        `--${boundary}`,
        `Content-Type: multipart/mixed; boundary=${cs}`,
        "",
        `--${cs}`,
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "Content-ID: 1",
        "",
        "HTTP/1.1 204 No Content",
        "OData-Version: 4.0",
        `OData-EntityId: ${entity}`,
        `Location: ${entity}`,
        "",
        "",
        `--${cs}--`,
        `--${boundary}`,
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "HTTP/1.1 400 Bad Request",
        "Content-Type: application/json; odata.metadata=minimal",
        "",
        '{"error":{}}',
        `--${boundary}--`,
        "",
      ].join("\r\n"),
    );
  });

  it("uses CRLF line endings only", () => {
    const { contentType, body } = formatBatchResponse([{ kind: "response", part: { response: { status: 204, headers: {} } } }]);
    expect(body.split("\r\n").every((line) => !line.includes("\n"))).toBe(true);
    expect(contentType.startsWith("multipart/mixed; boundary=batchresponse_")).toBe(true);
  });
});
