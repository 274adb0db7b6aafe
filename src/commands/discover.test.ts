import { describe, expect, it } from "vitest";
import type { TableSummary } from "../dataverse/metadata.js";
import { discoverScope } from "./discover.js";

const table = (logicalName: string, flags: Partial<TableSummary> = {}): TableSummary => ({
  logicalName,
  schemaName: logicalName,
  entitySetName: `${logicalName}s`,
  primaryIdAttribute: `${logicalName}id`,
  primaryNameAttribute: "name",
  isCustomEntity: false,
  isManaged: true,
  isIntersect: false,
  isPrivate: false,
  tableType: "Standard",
  ...flags,
});

const environment = [
  table("account"),
  table("contact"),
  table("lead"),
  table("opportunity"),
  table("systemuser"),
  table("new_project", { isCustomEntity: true, isManaged: false }),
  table("msdyn_thing", { isCustomEntity: true, isManaged: true }),
  table("new_project_contact", { isCustomEntity: true, isManaged: false, isIntersect: true }),
  table("new_secret", { isCustomEntity: true, isManaged: false, isPrivate: true }),
  table("new_external", { isCustomEntity: true, isManaged: false, tableType: "Virtual" }),
];
const names = (ts: readonly TableSummary[]): string[] => ts.map((t) => t.logicalName);

describe("discoverScope", () => {
  it("by default: the standard four and the environment's own unmanaged custom tables that hold rows", () => {
    expect(names(discoverScope(environment, undefined).tables)).toEqual(["account", "contact", "lead", "opportunity", "new_project"]);
  });
  it('"*": every table but intersect, private and virtual ones', () => {
    expect(names(discoverScope(environment, ["*"]).tables)).toEqual(["account", "contact", "lead", "opportunity", "systemuser", "new_project", "msdyn_thing"]);
  });
  it("named tables, case-insensitively, in the order given; unknown names reported", () => {
    expect(discoverScope(environment, ["SystemUser", "msdyn_thing", "nosuch"])).toEqual({ tables: [table("systemuser"), environment[6]], missing: ["nosuch"] });
  });
});
