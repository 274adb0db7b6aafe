import { describe, expect, it } from "vitest";
import { parseQuery } from "./query.js";

describe("parseQuery", () => {
  it("resolves parameter aliases in $orderby as in Learn's query sample ($orderby=@p2 asc, @p3 desc&@p2=jobtitle&@p3=annualincome)", () => {
    const q = parseQuery("$select=fullname&$filter=contains(@p1,'(sample)')&$orderby=@p2%20asc,%20@p3%20desc&@p1=fullname&@p2=jobtitle&@p3=annualincome");
    expect(q.orderBy).toEqual([
      { property: "jobtitle", descending: false },
      { property: "annualincome", descending: true },
    ]);
    expect(q.other.size).toBe(0);
  });

  it("refuses an alias used in $orderby but never defined", () => {
    expect(() => parseQuery("$orderby=@p1 asc")).toThrow(/parameter alias '@p1' is not defined/);
    expect(() => parseQuery("$orderby=@p9 asc&@p1=name")).toThrow(/parameter alias '@p9' is not defined/);
  });
});
