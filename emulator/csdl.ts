// The CSDL $metadata document (web-api-service-documents): what OData clients that read the service's
// schema before talking to it (code generators, Power Query, generic OData libraries) fetch first.
// Generated from the same table models as EntityDefinitions, so both views agree. Only what the
// emulator serves is declared: entity types with their key, properties (lookups as `_x_value`
// Edm.Guid, as Dataverse publishes them) and single-valued navigation properties, the entity sets,
// WhoAmI and the bulk actions. Dataverse's real document is far larger (every table, complex types,
// enums, functions); Learn does not list its contents, so the element order follows the
// published samples (Schema Microsoft.Dynamics.CRM, alias mscrm, container System).
import type { TableModel } from "./model.js";
import { edmType } from "./validate.js";

const escapeXml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

// The owner tables, which Dataverse derives from principal.
const PRINCIPALS = new Set(["systemuser", "team"]);

function entityType(model: TableModel): string {
  const lines: string[] = [];
  const base = PRINCIPALS.has(model.logicalName) ? "mscrm.principal" : "mscrm.crmbaseentity";
  lines.push(`<EntityType Name="${escapeXml(model.logicalName)}" BaseType="${base}">`);
  lines.push(`<Key><PropertyRef Name="${escapeXml(model.primaryId)}"/></Key>`);
  for (const c of model.columnList) {
    const lookup = c.type === "Lookup" || c.type === "Customer" || c.type === "Owner";
    const name = lookup ? `_${c.logicalName}_value` : c.logicalName;
    const unicode = edmType(c) === "Edm.String" ? ` Unicode="false"` : "";
    lines.push(`<Property Name="${escapeXml(name)}" Type="${edmType(c)}"${unicode}/>`);
  }
  for (const nav of model.navs.values()) {
    // An Owner nav (ownerid) names several tables; CSDL allows one type, so it points at their
    // common base type, as Dataverse's principal-typed ownerid does.
    const type = nav.targets.length === 1 ? `mscrm.${nav.targets[0] ?? ""}` : "mscrm.principal";
    lines.push(`<NavigationProperty Name="${escapeXml(nav.name)}" Type="${escapeXml(type)}" Nullable="true"/>`);
  }
  for (const [name, side] of model.manyToMany) {
    lines.push(`<NavigationProperty Name="${escapeXml(name)}" Type="Collection(mscrm.${escapeXml(side.other)})"/>`);
  }
  lines.push(`</EntityType>`);
  return lines.join("");
}

function entitySet(model: TableModel, models: ReadonlyMap<string, TableModel>): string {
  const bindings = [...model.navs.values()]
    .filter((nav) => nav.targets.length === 1)
    .map((nav) => {
      const target = models.get(nav.targets[0] ?? "");
      return target === undefined ? "" : `<NavigationPropertyBinding Path="${escapeXml(nav.name)}" Target="${escapeXml(target.entitySetName)}"/>`;
    })
    .join("");
  return `<EntitySet Name="${escapeXml(model.entitySetName)}" EntityType="Microsoft.Dynamics.CRM.${escapeXml(model.logicalName)}">${bindings}</EntitySet>`;
}

/** The $metadata document of the environment's tables, as `application/xml`. */
export function csdlDocument(models: ReadonlyMap<string, TableModel>): string {
  const types = [...models.values()].map(entityType).join("");
  const sets = [...models.values()].map((m) => entitySet(m, models)).join("");
  const bulk = ["CreateMultiple", "UpdateMultiple", "UpsertMultiple"]
    .map(
      (name) =>
        `<Action Name="${name}" IsBound="true"><Parameter Name="entityset" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/>` +
        `<Parameter Name="Targets" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/>` +
        (name === "CreateMultiple" ? `<ReturnType Type="mscrm.CreateMultipleResponse" Nullable="false"/>` : "") +
        `</Action>`,
    )
    .join("");
  // The list actions (list-actions.ts), when the environment has the list table.
  const listActions = models.has("list")
    ? `<ComplexType Name="AddMemberListResponse"><Property Name="Id" Type="Edm.Guid" Nullable="false"/></ComplexType>` +
      `<Action Name="AddListMembersList"><Parameter Name="List" Type="mscrm.list" Nullable="false"/>` +
      `<Parameter Name="Members" Type="Collection(mscrm.crmbaseentity)" Nullable="false"/></Action>` +
      `<Action Name="AddMemberList" IsBound="true"><Parameter Name="entity" Type="mscrm.list" Nullable="false"/>` +
      `<Parameter Name="EntityId" Type="Edm.Guid" Nullable="false"/><ReturnType Type="mscrm.AddMemberListResponse" Nullable="false"/></Action>` +
      `<Action Name="RemoveMemberList" IsBound="true"><Parameter Name="entity" Type="mscrm.list" Nullable="false"/>` +
      `<Parameter Name="EntityId" Type="Edm.Guid" Nullable="false"/></Action>`
    : "";
  const listImport = models.has("list") ? `<ActionImport Name="AddListMembersList" Action="Microsoft.Dynamics.CRM.AddListMembersList"/>` : "";
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">` +
    `<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">` +
    `<EntityType Name="crmbaseentity" Abstract="true"/>` +
    `<EntityType Name="principal" BaseType="mscrm.crmbaseentity" Abstract="true"/>` +
    types +
    `<ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" Nullable="false"/>` +
    `<Property Name="UserId" Type="Edm.Guid" Nullable="false"/><Property Name="OrganizationId" Type="Edm.Guid" Nullable="false"/></ComplexType>` +
    `<ComplexType Name="CreateMultipleResponse"><Property Name="Ids" Type="Collection(Edm.Guid)" Nullable="false"/></ComplexType>` +
    `<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false"/></Function>` +
    bulk +
    listActions +
    `<EntityContainer Name="System">${sets}<FunctionImport Name="WhoAmI" Function="Microsoft.Dynamics.CRM.WhoAmI"/>${listImport}</EntityContainer>` +
    `</Schema></edmx:DataServices></edmx:Edmx>`
  );
}
