import { describe, expect, it } from "vitest";
import type { Operation, OperationKind, RowRef } from "../model/operation.js";
import { Answer } from "./answer.js";
import { DataverseError } from "./errors.js";
import { verdict } from "./outcome.js";

const op = (kind: OperationKind, ref: RowRef = { kind: "id", id: "00000000-0000-0000-0000-000000000001" }): Operation => ({ kind, table: "contact", entitySet: "contacts", ref, columns: {}, bindings: [] });
const answer = (status: number, code = "", headers: Record<string, string> = {}): Answer => new Answer({ status, headers, body: code === "" ? "" : JSON.stringify({ error: { code, message: "m" } }) });

describe("the outcome of a part's answer", () => {
  it.each([
    ["a 204 upsert is written", op("upsert"), answer(204), { kind: "done", result: { ok: true } }],
    ["a 201 is created", op("upsert"), answer(201), { kind: "done", result: { ok: true, created: true } }],
    ["a 204 create is created", op("create"), answer(204), { kind: "done", result: { ok: true, created: true } }],
    ["a delete meeting no row is unchanged", op("delete"), answer(404, "0x80040217"), { kind: "done", result: { ok: true, unchanged: true } }],
    ["a replayed create meeting its row is unchanged", op("create"), answer(412), { kind: "done", result: { ok: true, created: false, unchanged: true } }],
    ["an update of a missing row is refused", op("update"), answer(404), { kind: "done", result: { ok: false, status: 404, code: "", message: "row does not exist" } }],
    ["a 429 is retried after its Retry-After", op("upsert"), answer(429, "", { "retry-after": "00:00:02" }), { kind: "retry", retryAfterMs: 2000 }],
    ["a bare 500 is refused", op("upsert"), answer(500, "0x80040216"), { kind: "done", result: { ok: false, status: 500, code: "0x80040216", message: "m" } }],
    ["a 400 is refused", op("upsert"), answer(400, "0x80044331"), { kind: "done", result: { ok: false, status: 400, code: "0x80044331", message: "m" } }],
  ] as const)("%s", (_name, o, a, expected) => expect(verdict(o, "PATCH", "/api/data/v9.2/contacts(x)", a)).toEqual(expected));

  it("a 403 for a missing privilege fails the run", () => {
    const v = verdict(op("upsert"), "PATCH", "/api/data/v9.2/contacts(x)", answer(403, "0x80040220"));
    expect(v.kind).toBe("fatal");
    if (v.kind === "fatal") expect(v.error).toBeInstanceOf(DataverseError);
  });
});
