import { describe, expect, it } from "vitest";
import type { Operation } from "../model/operation.js";
import { fixtureTables } from "../mapping/test-fixtures.js";
import { DryRunWriter, dryRunReport } from "./dry-run.js";
import type { RowReader } from "./dry-run.js";

const ID_A = "00000000-0000-0000-0000-00000000000a";
const ID_B = "00000000-0000-0000-0000-00000000000b";

/** Two active contacts; the reader ignores the filter, the writer matches rows back itself. */
const reader: RowReader = {
  async *query() {
    yield [
      { contactid: ID_A, statecode: 0, statuscode: 1 },
      { contactid: ID_B, statecode: 0, statuscode: 1 },
    ];
  },
};

function op(kind: Operation["kind"], id: string, columns: Operation["columns"]): Operation {
  return { kind, table: "contact", entitySet: "contacts", ref: { kind: "id", id }, columns, bindings: [] };
}

describe("dry run report", () => {
  it("names deactivations as such on the per-table line and in samples, apart from deletes", async () => {
    const writer = new DryRunWriter(reader, fixtureTables());
    await writer.write([op("deactivate", ID_A, { statecode: 1, statuscode: 2 }), op("delete", ID_B, {})]);
    const lines = dryRunReport(writer.tallies, new Map([["contact", ["people"]]]));
    expect(lines[0]).toBe("dry run: contact (stream people): would create 0, update 0, delete 1, deactivate 1, leave unchanged 0");
    expect(lines).toContain("dry run: contact sample deactivate: statecode, statuscode");
    expect(lines).toContain("dry run: contact sample delete");
  });

  it("keeps the line as it was when nothing is deactivated", async () => {
    const writer = new DryRunWriter(reader, fixtureTables());
    await writer.write([op("delete", ID_B, {})]);
    expect(dryRunReport(writer.tallies, new Map())[0]).toBe("dry run: contact: would create 0, update 0, delete 1, leave unchanged 0");
  });
});
