// Tables of the default environment. Filled out below; names, types and lengths follow
// Microsoft's entity reference pages (cited per table).
import type { TableDefinition } from "./schema.js";

export function defaultTables(): TableDefinition[] {
  return [
    {
      logicalName: "systemuser",
      entitySetName: "systemusers",
      primaryIdAttribute: "systemuserid",
      primaryNameAttribute: "fullname",
      objectTypeCode: 8,
      ownershipType: "OrganizationOwned" as const,
      bulk: { createMultiple: false, updateMultiple: false, upsertMultiple: false },
      columns: [
        { logicalName: "systemuserid", type: "Uniqueidentifier" as const },
        { logicalName: "fullname", type: "String" as const, maxLength: 200 },
        { logicalName: "domainname", type: "String" as const, maxLength: 1024 },
        { logicalName: "applicationid", type: "Uniqueidentifier" as const },
      ],
    },
    {
      logicalName: "team",
      entitySetName: "teams",
      primaryIdAttribute: "teamid",
      primaryNameAttribute: "name",
      objectTypeCode: 9,
      ownershipType: "OrganizationOwned" as const,
      bulk: { createMultiple: false, updateMultiple: false, upsertMultiple: false },
      columns: [
        { logicalName: "teamid", type: "Uniqueidentifier" as const },
        { logicalName: "name", type: "String" as const, maxLength: 160 },
      ],
    },
  ];
}
