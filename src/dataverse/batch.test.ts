import { describe, expect, it } from "vitest";
import { boundaryOf, buildBatch, matchResponses, parseBatchResponse } from "./batch.js";

const CRLF = "\r\n";

describe("buildBatch", () => {
  it("writes CRLF application/http parts without a changeset", () => {
    const b = buildBatch(
      [
        { method: "PATCH", url: "/api/data/v9.2/contacts(emailaddress1='a@x.com')", body: '{"lastname":"A"}' },
        { method: "DELETE", url: "/api/data/v9.2/contacts(00000000-0000-0000-0000-000000000001)" },
      ],
      { boundary: "batch_T" },
    );
    expect(b.contentType).toBe('multipart/mixed; boundary="batch_T"');
    expect(b.body).toBe(
      [
        "--batch_T",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "PATCH /api/data/v9.2/contacts(emailaddress1='a@x.com') HTTP/1.1",
        "Content-Type: application/json; type=entry",
        "",
        '{"lastname":"A"}',
        "--batch_T",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "DELETE /api/data/v9.2/contacts(00000000-0000-0000-0000-000000000001) HTTP/1.1",
        "",
        "",
        "--batch_T--",
        "",
      ].join(CRLF),
    );
    expect(b.body.replace(/\r\n/g, "")).not.toMatch(/\n/);
  });

  it("numbers Content-IDs inside a changeset", () => {
    const b = buildBatch(
      [
        { method: "POST", url: "/api/data/v9.2/accounts", body: "{}" },
        { method: "POST", url: "/api/data/v9.2/contacts", body: "{}", headers: { "If-Match": "*" } },
      ],
      { boundary: "batch_T", changeset: true },
    );
    const cs = /boundary="(changeset_[^"]+)"/.exec(b.body)?.[1];
    expect(cs).toBeDefined();
    expect(b.body).toContain(`Content-ID: 1${CRLF}`);
    expect(b.body).toContain(`Content-ID: 2${CRLF}`);
    expect(b.body).toContain(`If-Match: *${CRLF}`);
    expect(b.body).toContain(`--${cs}--${CRLF}--batch_T--`);
  });
});

function responseBody(parts: string[], boundary = "batchresponse_1"): string {
  return parts.map((p) => `--${boundary}${CRLF}${p}${CRLF}`).join("") + `--${boundary}--${CRLF}`;
}

function httpPart(status: string, headers: string[], body = ""): string {
  return ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "", `HTTP/1.1 ${status}`, ...headers, "", body].join(CRLF);
}

describe("parseBatchResponse", () => {
  it("reads each part's status, headers and body in order (continue-on-error)", () => {
    const body = responseBody([
      httpPart("204 No Content", ["OData-Version: 4.0", "OData-EntityId: https://x/api/data/v9.2/tasks(1)"]),
      httpPart(
        "400 Bad Request",
        ["REQ_ID: 5", "Content-Type: application/json; odata.metadata=minimal"],
        '{"error":{"code":"0x80044331","message":"A validation error occurred."}}',
      ),
      httpPart("204 No Content", []),
    ]);
    const parts = parseBatchResponse('multipart/mixed; boundary="batchresponse_1"', body);
    expect(parts.map((p) => p.status)).toEqual([204, 400, 204]);
    expect(parts[0]?.headers["odata-entityid"]).toBe("https://x/api/data/v9.2/tasks(1)");
    expect(JSON.parse(parts[1]?.body ?? "")).toEqual({ error: { code: "0x80044331", message: "A validation error occurred." } });
  });

  it("a server that stopped early leaves the rest not attempted", () => {
    const body = responseBody([httpPart("204 No Content", []), httpPart("404 Not Found", [], '{"error":{"code":"0x80040217","message":"x"}}')]);
    const matched = matchResponses(4, parseBatchResponse("multipart/mixed; boundary=batchresponse_1", body));
    expect(matched.map((m) => m?.status)).toEqual([204, 404, undefined, undefined]);
  });

  it("flattens changeset responses and matches them by Content-ID", () => {
    const inner = ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "Content-ID: 2", "", "HTTP/1.1 204 No Content", "", ""].join(CRLF);
    const inner1 = ["Content-Type: application/http", "Content-Transfer-Encoding: binary", "Content-ID: 1", "", "HTTP/1.1 201 Created", "", "{}"].join(CRLF);
    const cs = responseBody([inner, inner1], "changesetresponse_9");
    const body = responseBody([`Content-Type: multipart/mixed; boundary=changesetresponse_9${CRLF}${CRLF}${cs}`]);
    const parts = parseBatchResponse('multipart/mixed; boundary="batchresponse_1"', body);
    expect(parts.map((p) => [p.contentId, p.status])).toEqual([
      ["2", 204],
      ["1", 201],
    ]);
    expect(matchResponses(2, parts).map((p) => p?.status)).toEqual([201, 204]);
  });

  it("reads the boundary quoted or bare", () => {
    expect(boundaryOf('multipart/mixed; boundary="b_1"')).toBe("b_1");
    expect(boundaryOf("multipart/mixed;boundary=b_2; charset=utf-8")).toBe("b_2");
    expect(boundaryOf("application/json")).toBeUndefined();
  });

  it("refuses a part without a status line", () => {
    const body = responseBody(["Content-Type: application/http\r\n\r\ngarbage"]);
    expect(() => parseBatchResponse("multipart/mixed; boundary=batchresponse_1", body)).toThrow(/status line/);
  });

  it("round-trips a body containing the boundary-like text inside JSON strings", () => {
    const body = responseBody([httpPart("200 OK", [], '{"v":"--batchresponse_x"}')]);
    const parts = parseBatchResponse("multipart/mixed; boundary=batchresponse_1", body);
    expect(parts).toHaveLength(1);
    expect(parts[0]?.body).toBe('{"v":"--batchresponse_x"}');
  });
});
