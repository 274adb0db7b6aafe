import { describe, expect, it } from "vitest";
import { FilterSyntaxError, FilterTooDeepError, MAX_FILTER_DEPTH, type Scalar, evaluate, filterProperties, parseFilter } from "./filter.js";
import { collationFor } from "../collation.js";

const row: Record<string, Scalar> = {
  name: "Contoso Ltd",
  revenue: 1000,
  creditonhold: false,
  description: null,
  _primarycontactid_value: "0b6f4a1e-1111-4222-8333-444455556666",
  createdon: "2024-05-01T10:00:00Z",
  birthdate: "1990-02-03",
};
const read = (p: string): Scalar => row[p] ?? null;
const check = (f: string) => evaluate(parseFilter(f), read);

describe("$filter string equality under the environment's collation", () => {
  const english = collationFor(1033).key;
  const finnish = collationFor(1035).key;
  const on = (name: string) => (p: string): Scalar => (p === "name" ? name : null);
  it.each([
    ["ACC/2", "name eq 'acc/2 '", english, true],
    ["ACC/2\t", "name eq 'ACC/2'", english, false],
    ["Café", "name eq 'cafe'", english, true],
    ["Café", "name eq 'cafe'", finnish, false],
    ["Café", "name eq 'CAFÉ  '", finnish, true],
    ["Café", "name ne 'cafe'", english, false],
  ] as const)("%s: %s", (stored, filter, key, expected) => {
    expect(evaluate(parseFilter(filter), on(stored), key)).toBe(expected);
  });
});

describe("$filter", () => {
  it.each([
    ["name eq 'contoso ltd'", true], // case-insensitive, as Dataverse
    ["name ne 'Contoso Ltd'", false],
    ["revenue gt 999 and revenue le 1000", true],
    ["revenue lt 1000 or creditonhold eq false", true],
    ["not (revenue ge 1000)", false],
    ["description eq null", true],
    ["description ne null", false],
    ["name ne null", true],
    ["contains(name,'TOSO')", true],
    ["startswith(name,'con')", true],
    ["endswith(name,'ltd')", true],
    ["contains(name,'x') eq false", true],
    ["_primarycontactid_value eq 0B6F4A1E-1111-4222-8333-444455556666", true],
    ["createdon gt 2024-05-01T09:00:00Z", true],
    ["createdon lt 2024-05-01T12:00:00+01:00", true],
    ["birthdate eq 1990-02-03", true],
    ["(name eq 'a' or name eq 'Contoso Ltd') and revenue eq 1000", true],
    ["revenue eq 'abc'", false],
  ])("%s → %s", (f, expected) => {
    expect(check(f)).toBe(expected);
  });

  it("and binds tighter than or", () => {
    expect(check("name eq 'x' and revenue eq 1 or revenue eq 1000")).toBe(true);
    expect(check("name eq 'x' and (revenue eq 1 or revenue eq 1000)")).toBe(false);
  });

  it("lists the properties it mentions", () => {
    expect(filterProperties(parseFilter("a eq 1 and (contains(b,'x') or not c eq null)"))).toEqual(["a", "b", "c"]);
  });

  it.each(["name eq", "name is 'x'", "(name eq 'x'", "name eq 'x' extra"])("%s is a syntax error", (f) => {
    expect(() => parseFilter(f)).toThrow(FilterSyntaxError);
  });

  it("refuses a tree deeper than ODataLib's FilterLimit instead of overflowing the stack", () => {
    const chain = (n: number): string => Array.from({ length: n }, () => "name eq 'a'").join(" and ");
    expect(() => parseFilter(chain(20_000))).toThrow(FilterTooDeepError);
    expect(() => parseFilter(`${"(".repeat(20_000)}name eq 'a'${")".repeat(20_000)}`)).toThrow("Recursion depth exceeded allowed limit.");
    expect(() => parseFilter(`${"not ".repeat(20_000)}name eq 'a'`)).toThrow(FilterTooDeepError);
    expect(check(chain(MAX_FILTER_DEPTH))).toBe(false);
  });

  it.each([
    ['Microsoft.Dynamics.CRM.In(PropertyName=\'name\',PropertyValues=["x","contoso ltd"])', true],
    ['Microsoft.Dynamics.CRM.NotIn(PropertyName=\'name\',PropertyValues=["Contoso Ltd"])', false],
    ['Microsoft.Dynamics.CRM.Between(PropertyName=\'revenue\',PropertyValues=["5","2000"])', true],
    ['Microsoft.Dynamics.CRM.NotBetween(PropertyName=\'revenue\',PropertyValues=["5","2000"])', false],
    ['Microsoft.Dynamics.CRM.In(PropertyValues=["1000"],PropertyName=\'revenue\') and name ne null', true],
    ['Microsoft.Dynamics.CRM.In(PropertyName=\'description\',PropertyValues=["x"])', false],
  ])("Dataverse query function %s → %s (filter-rows)", (f, expected) => {
    expect(check(f)).toBe(expected);
  });

  it.each([
    ["Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['x','Contoso Ltd'])", true],
    ["Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[ 'x' , \"contoso ltd\" ])", true],
    ["Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['x','y'])", false],
    ["Microsoft.Dynamics.CRM.In(PropertyName='revenue',PropertyValues=[1000,5])", true],
    ["Microsoft.Dynamics.CRM.Between(PropertyName='revenue',PropertyValues=['5','2000'])", true],
    ["Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['Contoso\\u0020Ltd'])", true],
  ])("PropertyValues as Dataverse's JSON reader takes them (single quotes, numbers, spaces): %s → %s", (f, expected) => {
    expect(check(f)).toBe(expected);
  });

  it("refuses a value with an apostrophe that is not double-quoted with Learn's message, and functions it does not emulate", () => {
    for (const values of ["['O'Brian','x']", "['O''Brian']", '["a" "b"]']) {
      expect(() => parseFilter(`Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=${values})`)).toThrow(
        /^Invalid JSON\. A comma character ',' was expected in scope 'Array'\./,
      );
    }
    expect(parseFilter(`Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["O'Brian","Men's clothes"])`)).toMatchObject({ values: ["O'Brian", "Men's clothes"] });
    expect(parseFilter(`Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[])`)).toMatchObject({ values: [] });
    expect(() => parseFilter("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a)")).toThrow(FilterSyntaxError);
    expect(() => parseFilter("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[true])")).toThrow(FilterSyntaxError);
    expect(() => parseFilter("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=3)")).toThrow(FilterSyntaxError);
    expect(() => parseFilter('Microsoft.Dynamics.CRM.Between(PropertyName=\'revenue\',PropertyValues=["1"])')).toThrow(FilterSyntaxError);
  });

  it("compares two columns (filter-rows, column comparison)", () => {
    const node = parseFilter("name eq description");
    expect(node).toEqual({ kind: "columns", op: "eq", property: "name", other: "description" });
    expect(filterProperties(node)).toEqual(["name", "description"]);
    expect(check("name ne description")).toBe(true);
    expect(parseFilter("name eq null").kind).toBe("compare");
  });
});
