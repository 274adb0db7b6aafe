import { describe, expect, it } from "vitest";
import { ROOT, harness } from "./testing/service-harness.js";

const h = harness();
const get = (url: string) => h.call("GET", url);

describe("EntityDefinitions", () => {
  it("by LogicalName key with $select (MetadataId always returned)", () => {
    const r = get("EntityDefinitions(LogicalName='account')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ObjectTypeCode,OwnershipType,TableType");
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      LogicalName: "account",
      EntitySetName: "accounts",
      PrimaryIdAttribute: "accountid",
      PrimaryNameAttribute: "name",
      ObjectTypeCode: 1,
      OwnershipType: "UserOwned",
      TableType: "Standard",
    });
    expect(typeof r.json["MetadataId"]).toBe("string");
    expect(r.json).not.toHaveProperty("SchemaName");
  });

  it("with $filter on EntitySetName or LogicalName", () => {
    expect(get("EntityDefinitions?$filter=EntitySetName eq 'new_memberships'&$select=LogicalName").json.value).toEqual([
      expect.objectContaining({ LogicalName: "new_membership" }),
    ]);
    expect(get("EntityDefinitions?$filter=LogicalName eq 'nothing'&$select=LogicalName").json.value).toEqual([]);
  });

  it("lists every table with $select for discover", () => {
    const names = get("EntityDefinitions?$select=LogicalName,EntitySetName").json.value?.map((e) => e["LogicalName"]);
    expect(names).toEqual(expect.arrayContaining(["contact", "account", "lead", "opportunity", "new_membership"]));
  });

  it("$expand=Keys($select=KeyAttributes) as Learn's alternate-key listing uses", () => {
    const r = get("EntityDefinitions?$select=SchemaName&$expand=Keys($select=KeyAttributes)");
    const account = r.json.value?.find((e) => e["SchemaName"] === "Account");
    expect(account?.["Keys"]).toEqual([
      { MetadataId: expect.any(String), KeyAttributes: ["accountnumber"] },
      { MetadataId: expect.any(String), KeyAttributes: ["emailaddress1"] },
    ]);
    const one = get("EntityDefinitions(LogicalName='contact')?$select=LogicalName&$expand=Attributes($select=LogicalName),ManyToOneRelationships");
    expect((one.json["Attributes"] as unknown[]).length).toBeGreaterThan(10);
    expect((one.json["ManyToOneRelationships"] as unknown[]).length).toBe(3);
    expect(get("EntityDefinitions?$expand=Nope").status).toBe(400);
  });

  it("an unknown metadata property in $select is a 400", () => {
    expect(get("EntityDefinitions(LogicalName='account')?$select=Nope").status).toBe(400);
  });
});

describe("Attributes", () => {
  it("carry @odata.type and the documented common properties", () => {
    const r = get("EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='lastname')");
    expect(r.json).toMatchObject({
      "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata",
      LogicalName: "lastname",
      SchemaName: "Lastname",
      AttributeType: "String",
      AttributeTypeName: { Value: "StringType" },
      IsValidForCreate: true,
      IsValidForUpdate: true,
      IsPrimaryId: false,
      AttributeOf: null,
      MaxLength: 50,
      RequiredLevel: { Value: "ApplicationRequired", CanBeChanged: true },
    });
  });

  it("$filter on LogicalName and $select", () => {
    const r = get("EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName,AttributeType&$filter=LogicalName eq 'birthdate' or LogicalName eq 'contactid'");
    expect(r.json.value?.map((a) => a["LogicalName"]).sort()).toEqual(["birthdate", "contactid"]);
    expect(r.json.value?.find((a) => a["LogicalName"] === "contactid")).toMatchObject({ AttributeType: "Uniqueidentifier" });
  });

  it("filter on RequiredLevel/Value with the enum literal", () => {
    const r = get("EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName&$filter=RequiredLevel/Value eq Microsoft.Dynamics.CRM.AttributeRequiredLevel'ApplicationRequired'");
    expect(r.json.value?.map((a) => a["LogicalName"])).toEqual(["name"]);
  });

  it("a type-specific property needs the cast", () => {
    expect(get("EntityDefinitions(LogicalName='contact')/Attributes?$select=LogicalName,MaxLength").status).toBe(400);
    const r = get("EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength,Format");
    expect(r.json.value?.find((a) => a["LogicalName"] === "emailaddress1")).toEqual({
      "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata",
      MetadataId: expect.any(String),
      LogicalName: "emailaddress1",
      MaxLength: 100,
      Format: "Email",
    });
    expect(r.json.value?.every((a) => a["@odata.type"] === "#Microsoft.Dynamics.CRM.StringAttributeMetadata")).toBe(true);
  });

  it("DateTime casts expose DateTimeBehavior and Format", () => {
    const r = get("EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.DateTimeAttributeMetadata?$select=LogicalName,Format,DateTimeBehavior&$filter=LogicalName eq 'birthdate'");
    expect(r.json.value?.[0]).toMatchObject({ Format: "DateOnly", DateTimeBehavior: { Value: "DateOnly" } });
  });

  it("numeric casts expose MinValue, MaxValue and Precision", () => {
    const r = get("EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.MoneyAttributeMetadata?$select=LogicalName,Precision,MinValue,MaxValue&$filter=LogicalName eq 'revenue'");
    expect(r.json.value?.[0]).toMatchObject({ Precision: 2, MinValue: 0, MaxValue: 100000000000000 });
  });

  it("Picklist with $expand=OptionSet: labels as UserLocalizedLabel and LocalizedLabels", () => {
    const r = get("EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$filter=LogicalName eq 'gendercode'&$expand=OptionSet($select=Options),GlobalOptionSet($select=Options)");
    const attr = r.json.value?.[0] as { OptionSet: { Options: { Value: number; Label: { UserLocalizedLabel: { Label: string; LanguageCode: number }; LocalizedLabels: unknown[] } }[] } };
    expect(attr.OptionSet.Options.map((o) => [o.Value, o.Label.UserLocalizedLabel.Label])).toEqual([
      [1, "Male"],
      [2, "Female"],
    ]);
    expect(attr.OptionSet.Options[0]?.Label.UserLocalizedLabel.LanguageCode).toBe(1033);
    expect(attr.OptionSet.Options[0]?.Label.LocalizedLabels).toHaveLength(1);
  });

  it("Status options carry State, State options DefaultStatus", () => {
    const status = get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.StatusAttributeMetadata?$select=LogicalName&$expand=OptionSet").json.value?.[0] as { OptionSet: { Options: { Value: number; State: number }[] } };
    expect(status.OptionSet.Options.find((o) => o.Value === 3)?.State).toBe(1);
    const state = get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM.StateAttributeMetadata?$select=LogicalName&$expand=OptionSet").json.value?.[0] as { OptionSet: { Options: { Value: number; DefaultStatus: number }[] } };
    expect(state.OptionSet.Options.find((o) => o.Value === 2)?.DefaultStatus).toBe(4);
  });

  it("multi-select is AttributeType Virtual with AttributeTypeName MultiSelectPicklistType", () => {
    const r = get("EntityDefinitions(LogicalName='new_membership')/Attributes/Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata?$select=LogicalName,AttributeType,AttributeTypeName");
    expect(r.json.value).toEqual([expect.objectContaining({ LogicalName: "new_channels", AttributeType: "Virtual", AttributeTypeName: { Value: "MultiSelectPicklistType" } })]);
  });

  it("Lookup, Customer and Owner expose Targets through LookupAttributeMetadata", () => {
    const r = get("EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=LogicalName,Targets,AttributeType");
    const byName = new Map(r.json.value?.map((a) => [a["LogicalName"], a]));
    expect(byName.get("parentcustomerid")).toMatchObject({ AttributeType: "Customer", Targets: ["account", "contact"] });
    expect(byName.get("ownerid")).toMatchObject({ AttributeType: "Owner", Targets: ["systemuser", "team"] });
  });

  it("casting to EnumAttributeMetadata fails", () => {
    expect(get("EntityDefinitions(LogicalName='contact')/Attributes/Microsoft.Dynamics.CRM.EnumAttributeMetadata").status).toBe(400);
  });
});

describe("Keys and relationships", () => {
  it("Keys with KeyAttributes and EntityKeyIndexStatus, Pending included", () => {
    const r = get("EntityDefinitions(LogicalName='account')/Keys?$select=SchemaName,LogicalName,KeyAttributes,EntityKeyIndexStatus");
    expect(r.json.value?.map((k) => [k["KeyAttributes"], k["EntityKeyIndexStatus"]])).toEqual([
      [["accountnumber"], "Active"],
      [["emailaddress1"], "Pending"],
    ]);
  });

  it("ManyToOneRelationships give the case-sensitive nav names", () => {
    const r = get("EntityDefinitions(LogicalName='new_membership')/ManyToOneRelationships?$select=SchemaName,ReferencingAttribute,ReferencedEntity,ReferencedAttribute,ReferencingEntityNavigationPropertyName");
    expect(r.json.value?.filter((x) => x["ReferencedEntity"] !== "owner")).toEqual([
      expect.objectContaining({ ReferencingAttribute: "new_contactid", ReferencedEntity: "contact", ReferencedAttribute: "contactid", ReferencingEntityNavigationPropertyName: "new_ContactId" }),
    ]);
    const c = get("EntityDefinitions(LogicalName='contact')/ManyToOneRelationships?$select=ReferencingEntityNavigationPropertyName");
    expect(c.json.value?.map((x) => x["ReferencingEntityNavigationPropertyName"])).toEqual(["parentcustomerid_account", "parentcustomerid_contact", "ownerid"]);
    const all = get("EntityDefinitions(LogicalName='contact')/ManyToOneRelationships");
    expect(all.json.value?.find((x) => x["ReferencingEntityNavigationPropertyName"] === "ownerid")).toMatchObject({ SchemaName: "owner_contacts", ReferencedEntity: "owner", ReferencingAttribute: "ownerid" });
  });
});

describe("sdkmessagefilters", () => {
  it("answers one row per table that has the message, none otherwise", () => {
    const q = (msg: string, table: string) =>
      get(`sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq '${msg}' and primaryobjecttypecode eq '${table}'`).json.value ?? [];
    expect(q("CreateMultiple", "account")).toHaveLength(1);
    expect(q("UpsertMultiple", "new_membership")).toHaveLength(1);
    expect(q("CreateMultiple", "systemuser")).toHaveLength(0);
    expect(Object.keys(q("UpdateMultiple", "contact")[0] ?? {})).toEqual(["@odata.etag", "sdkmessagefilterid"]);
  });

  it("accepts Learn's form with parameter aliases", () => {
    const r = get("sdkmessagefilters?$select=sdkmessagefilterid&$filter=sdkmessageid/name eq @message and primaryobjecttypecode eq @table&@message='CreateMultiple'&@table='new_membership'");
    expect(r.json.value).toHaveLength(1);
    expect(get("sdkmessagefilters?$filter=sdkmessageid/name eq @nope").status).toBe(400);
  });

  it("context names the service root", () => {
    expect(get("sdkmessagefilters?$select=sdkmessagefilterid").json["@odata.context"]).toBe(`${ROOT}$metadata#sdkmessagefilters(sdkmessagefilterid)`);
  });
});
