// Tables of the default environment: a realistic subset of contact, account, lead and opportunity
// as Microsoft's table reference documents them (powerapps-docs developer/data-platform/reference/
// entities/*.md: names, types, MaxLength, ranges, option values; account's name 160, revenue and
// creditlimit Money 0..1e14 precision 2, numberofemployees 0..1e9, industrycode 1-33 and
// statecode/statuscode were checked there), a custom table, and minimal systemuser and team.
//
// Bulk messages: Learn (bulk-operations) says custom standard tables and elastic tables have
// CreateMultiple/UpdateMultiple/UpsertMultiple, many system tables do and some don't; the four
// business tables here have them, systemuser and team are marked as not having them.
import type { ColumnDefinition, ManyToManyDefinition, OptionDefinition, TableDefinition } from "./schema.js";

const str = (logicalName: string, maxLength: number, extra: Partial<ColumnDefinition> = {}): ColumnDefinition => ({
  logicalName,
  type: "String",
  maxLength,
  ...extra,
});
const opts = (...pairs: readonly (readonly [number, string])[]): OptionDefinition[] =>
  pairs.map(([value, label]) => ({ value, label }));
const picklist = (logicalName: string, options: OptionDefinition[], extra: Partial<ColumnDefinition> = {}): ColumnDefinition => ({
  logicalName,
  type: "Picklist",
  options,
  ...extra,
});
const money = (logicalName: string, extra: Partial<ColumnDefinition> = {}): ColumnDefinition => ({
  logicalName,
  type: "Money",
  minValue: 0,
  maxValue: 100_000_000_000_000,
  precision: 2,
  ...extra,
});
const pk = (logicalName: string): ColumnDefinition => ({ logicalName, type: "Uniqueidentifier", requiredLevel: "SystemRequired", validForUpdate: false });
const computed = (logicalName: string, maxLength: number): ColumnDefinition => ({
  logicalName,
  type: "String",
  maxLength,
  validForCreate: false,
  validForUpdate: false,
});

function stateStatus(
  states: readonly (readonly [number, string, number])[],
  statuses: readonly (readonly [number, string, number])[],
): ColumnDefinition[] {
  return [
    {
      logicalName: "statecode",
      type: "State",
      requiredLevel: "SystemRequired",
      // The reference pages list statecode as IsValidForCreate False.
      validForCreate: false,
      options: states.map(([value, label, defaultStatus]) => ({ value, label, defaultStatus })),
    },
    {
      logicalName: "statuscode",
      type: "Status",
      options: statuses.map(([value, label, state]) => ({ value, label, state })),
    },
  ];
}

const ACTIVE_INACTIVE = stateStatus(
  [
    [0, "Active", 1],
    [1, "Inactive", 2],
  ],
  [
    [1, "Active", 0],
    [2, "Inactive", 1],
  ],
);

const INDUSTRY = opts(
  [1, "Accounting"],
  [2, "Agriculture and Non-petrol Natural Resource Extraction"],
  [3, "Broadcasting Printing and Publishing"],
  [4, "Brokers"],
  [5, "Building Supply Retail"],
  [6, "Business Services"],
  [7, "Consulting"],
  [8, "Consumer Services"],
  [9, "Design, Direction and Creative Management"],
  [10, "Distributors, Dispatchers and Processors"],
  [11, "Doctor's Offices and Clinics"],
  [12, "Durable Manufacturing"],
  [13, "Eating and Drinking Places"],
  [14, "Entertainment Retail"],
  [15, "Equipment Rental and Leasing"],
  [16, "Financial"],
  [17, "Food and Tobacco Processing"],
  [18, "Inbound Capital Intensive Processing"],
  [19, "Inbound Repair and Services"],
  [20, "Insurance"],
  [21, "Legal Services"],
  [22, "Non-Durable Merchandise Retail"],
  [23, "Outbound Consumer Service"],
  [24, "Petrochemical Extraction and Distribution"],
  [25, "Service Retail"],
  [26, "SIG Affiliations"],
  [27, "Social Services"],
  [28, "Special Outbound Trade Contractors"],
  [29, "Specialty Realty"],
  [30, "Transportation"],
  [31, "Utility Creation and Distribution"],
  [32, "Vehicle Retail"],
  [33, "Wholesale"],
);

const CONTACT_METHOD = opts([1, "Any"], [2, "Email"], [3, "Phone"], [4, "Fax"], [5, "Mail"]);

function contact(): TableDefinition {
  return {
    logicalName: "contact",
    entitySetName: "contacts",
    primaryIdAttribute: "contactid",
    primaryNameAttribute: "fullname",
    objectTypeCode: 2,
    ownershipType: "UserOwned",
    columns: [
      pk("contactid"),
      str("firstname", 50),
      str("lastname", 50, { requiredLevel: "ApplicationRequired" }),
      computed("fullname", 160),
      str("emailaddress1", 100, { format: "Email" }),
      str("emailaddress2", 100, { format: "Email" }),
      str("telephone1", 50, { format: "Phone" }),
      str("mobilephone", 50, { format: "Phone" }),
      str("jobtitle", 100),
      str("address1_line1", 250),
      str("address1_city", 80),
      str("address1_postalcode", 20),
      str("address1_country", 80),
      { logicalName: "birthdate", type: "DateTime", dateTimeBehavior: "DateOnly", format: "DateOnly" },
      picklist("gendercode", opts([1, "Male"], [2, "Female"])),
      picklist("preferredcontactmethodcode", CONTACT_METHOD),
      { logicalName: "donotemail", type: "Boolean" },
      { logicalName: "numberofchildren", type: "Integer", minValue: 0, maxValue: 1_000_000_000 },
      money("annualincome"),
      { logicalName: "description", type: "Memo", maxLength: 2000 },
      { logicalName: "parentcustomerid", type: "Customer", targets: ["account", "contact"] },
      ...ACTIVE_INACTIVE,
    ],
    keys: [{ logicalName: "new_contact_email", schemaName: "new_contact_email", attributes: ["emailaddress1"] }],
    relationships: [
      { schemaName: "contact_customer_accounts", referencingAttribute: "parentcustomerid", referencedEntity: "account", navigationProperty: "parentcustomerid_account" },
      { schemaName: "contact_customer_contacts", referencingAttribute: "parentcustomerid", referencedEntity: "contact", navigationProperty: "parentcustomerid_contact" },
    ],
  };
}

function account(): TableDefinition {
  return {
    logicalName: "account",
    entitySetName: "accounts",
    primaryIdAttribute: "accountid",
    primaryNameAttribute: "name",
    objectTypeCode: 1,
    ownershipType: "UserOwned",
    columns: [
      pk("accountid"),
      str("name", 160, { requiredLevel: "ApplicationRequired" }),
      str("accountnumber", 20),
      str("emailaddress1", 100, { format: "Email" }),
      str("telephone1", 50, { format: "Phone" }),
      str("websiteurl", 200, { format: "Url" }),
      str("address1_city", 80),
      str("address1_country", 80),
      str("tickersymbol", 10, { format: "TickerSymbol" }),
      money("revenue"),
      money("creditlimit"),
      { logicalName: "numberofemployees", type: "Integer", minValue: 0, maxValue: 1_000_000_000 },
      picklist("industrycode", INDUSTRY),
      picklist("accountcategorycode", opts([1, "Preferred Customer"], [2, "Standard"])),
      picklist("preferredcontactmethodcode", CONTACT_METHOD),
      { logicalName: "creditonhold", type: "Boolean" },
      { logicalName: "description", type: "Memo", maxLength: 2000 },
      { logicalName: "primarycontactid", type: "Lookup", targets: ["contact"] },
      { logicalName: "parentaccountid", type: "Lookup", targets: ["account"] },
      ...ACTIVE_INACTIVE,
    ],
    keys: [
      { logicalName: "new_account_number", schemaName: "new_account_number", attributes: ["accountnumber"] },
      // Declared but its index is still being built: not usable to address rows.
      { logicalName: "new_account_email", schemaName: "new_account_email", attributes: ["emailaddress1"], status: "Pending" },
    ],
    relationships: [
      { schemaName: "account_primary_contact", referencingAttribute: "primarycontactid", referencedEntity: "contact", navigationProperty: "primarycontactid" },
      { schemaName: "account_parent_account", referencingAttribute: "parentaccountid", referencedEntity: "account", navigationProperty: "parentaccountid" },
    ],
  };
}

function lead(): TableDefinition {
  return {
    logicalName: "lead",
    entitySetName: "leads",
    primaryIdAttribute: "leadid",
    primaryNameAttribute: "fullname",
    objectTypeCode: 4,
    ownershipType: "UserOwned",
    columns: [
      pk("leadid"),
      str("subject", 300, { requiredLevel: "ApplicationRequired" }),
      str("firstname", 50),
      str("lastname", 50, { requiredLevel: "ApplicationRequired" }),
      computed("fullname", 160),
      str("emailaddress1", 100, { format: "Email" }),
      str("companyname", 100),
      str("telephone1", 50, { format: "Phone" }),
      str("jobtitle", 100),
      picklist(
        "leadsourcecode",
        opts(
          [1, "Advertisement"],
          [2, "Employee Referral"],
          [3, "External Referral"],
          [4, "Partner"],
          [5, "Public Relations"],
          [6, "Seminar"],
          [7, "Trade Show"],
          [8, "Web"],
          [9, "Word of Mouth"],
          [10, "Other"],
        ),
      ),
      picklist("leadqualitycode", opts([1, "Hot"], [2, "Warm"], [3, "Cold"])),
      { logicalName: "numberofemployees", type: "Integer", minValue: 0, maxValue: 1_000_000 },
      money("revenue"),
      { logicalName: "description", type: "Memo", maxLength: 2000 },
      { logicalName: "customerid", type: "Customer", targets: ["account", "contact"] },
      { logicalName: "parentaccountid", type: "Lookup", targets: ["account"] },
      { logicalName: "parentcontactid", type: "Lookup", targets: ["contact"] },
      ...stateStatus(
        [
          [0, "Open", 1],
          [1, "Qualified", 3],
          [2, "Disqualified", 4],
        ],
        [
          [1, "New", 0],
          [2, "Contacted", 0],
          [3, "Qualified", 1],
          [4, "Lost", 2],
          [5, "Cannot Contact", 2],
          [6, "No Longer Interested", 2],
          [7, "Canceled", 2],
        ],
      ),
    ],
    keys: [
      { logicalName: "new_lead_email", schemaName: "new_lead_email", attributes: ["emailaddress1"] },
      // A composite key whose index build failed: declared, never usable.
      { logicalName: "new_lead_name_company", schemaName: "new_lead_name_company", attributes: ["firstname", "lastname", "companyname"], status: "Failed" },
    ],
    relationships: [
      { schemaName: "lead_customer_accounts", referencingAttribute: "customerid", referencedEntity: "account", navigationProperty: "customerid_account" },
      { schemaName: "lead_customer_contacts", referencingAttribute: "customerid", referencedEntity: "contact", navigationProperty: "customerid_contact" },
      { schemaName: "lead_parent_account", referencingAttribute: "parentaccountid", referencedEntity: "account", navigationProperty: "parentaccountid" },
      { schemaName: "lead_parent_contact", referencingAttribute: "parentcontactid", referencedEntity: "contact", navigationProperty: "parentcontactid" },
    ],
  };
}

function opportunity(): TableDefinition {
  return {
    logicalName: "opportunity",
    entitySetName: "opportunities",
    primaryIdAttribute: "opportunityid",
    primaryNameAttribute: "name",
    objectTypeCode: 3,
    ownershipType: "UserOwned",
    columns: [
      pk("opportunityid"),
      str("name", 300, { requiredLevel: "ApplicationRequired" }),
      money("estimatedvalue", { minValue: -922_337_203_685_477, maxValue: 922_337_203_685_477 }),
      money("budgetamount", { minValue: -922_337_203_685_477, maxValue: 922_337_203_685_477 }),
      { logicalName: "estimatedclosedate", type: "DateTime", dateTimeBehavior: "DateOnly", format: "DateOnly" },
      { logicalName: "closeprobability", type: "Integer", minValue: 0, maxValue: 100 },
      picklist("opportunityratingcode", opts([1, "Hot"], [2, "Warm"], [3, "Cold"])),
      { logicalName: "description", type: "Memo", maxLength: 2000 },
      { logicalName: "customerid", type: "Customer", targets: ["account", "contact"] },
      { logicalName: "parentaccountid", type: "Lookup", targets: ["account"] },
      { logicalName: "parentcontactid", type: "Lookup", targets: ["contact"] },
      ...stateStatus(
        [
          [0, "Open", 1],
          [1, "Won", 3],
          [2, "Lost", 4],
        ],
        [
          [1, "In Progress", 0],
          [2, "On Hold", 0],
          [3, "Won", 1],
          [4, "Canceled", 2],
          [5, "Out-Sold", 2],
        ],
      ),
    ],
    relationships: [
      { schemaName: "opportunity_customer_accounts", referencingAttribute: "customerid", referencedEntity: "account", navigationProperty: "customerid_account" },
      { schemaName: "opportunity_customer_contacts", referencingAttribute: "customerid", referencedEntity: "contact", navigationProperty: "customerid_contact" },
      { schemaName: "opportunity_parent_account", referencingAttribute: "parentaccountid", referencedEntity: "account", navigationProperty: "parentaccountid" },
      { schemaName: "opportunity_parent_contact", referencingAttribute: "parentcontactid", referencedEntity: "contact", navigationProperty: "parentcontactid" },
    ],
  };
}

function membership(): TableDefinition {
  return {
    logicalName: "new_membership",
    schemaName: "new_Membership",
    entitySetName: "new_memberships",
    primaryIdAttribute: "new_membershipid",
    primaryNameAttribute: "new_name",
    objectTypeCode: 10001,
    ownershipType: "UserOwned",
    columns: [
      pk("new_membershipid"),
      str("new_name", 100, { schemaName: "new_Name", requiredLevel: "ApplicationRequired" }),
      str("new_externalid", 100, { schemaName: "new_ExternalId" }),
      { logicalName: "new_contactid", schemaName: "new_ContactId", type: "Lookup", targets: ["contact"] },
      picklist("new_tier", opts([100000000, "Bronze"], [100000001, "Silver"], [100000002, "Gold"]), { schemaName: "new_Tier" }),
      {
        logicalName: "new_channels",
        schemaName: "new_Channels",
        type: "MultiSelectPicklist",
        options: opts([100000000, "Email"], [100000001, "SMS"], [100000002, "Phone"], [100000003, "Post"]),
      },
      { logicalName: "new_points", schemaName: "new_Points", type: "Integer", minValue: 0, maxValue: 1_000_000 },
      { logicalName: "new_startdate", schemaName: "new_StartDate", type: "DateTime", dateTimeBehavior: "DateOnly", format: "DateOnly" },
      { logicalName: "new_lastvisit", schemaName: "new_LastVisit", type: "DateTime", dateTimeBehavior: "UserLocal", format: "DateAndTime" },
      money("new_fee", { schemaName: "new_Fee" }),
      { logicalName: "new_discount", schemaName: "new_Discount", type: "Decimal", minValue: 0, maxValue: 100, precision: 2 },
      { logicalName: "new_score", schemaName: "new_Score", type: "Double", minValue: -1000, maxValue: 1000, precision: 3 },
      { logicalName: "new_active", schemaName: "new_Active", type: "Boolean" },
      { logicalName: "new_notes", schemaName: "new_Notes", type: "Memo", maxLength: 4000 },
      ...ACTIVE_INACTIVE,
    ],
    keys: [
      { logicalName: "new_membership_externalid", schemaName: "new_membership_externalid", attributes: ["new_externalid"] },
      // Composite key with a lookup column: addressed as (_new_contactid_value=<guid>,new_tier=100000000).
      { logicalName: "new_membership_contact_tier", schemaName: "new_membership_contact_tier", attributes: ["new_contactid", "new_tier"] },
    ],
    relationships: [
      { schemaName: "new_contact_new_membership_ContactId", referencingAttribute: "new_contactid", referencedEntity: "contact", navigationProperty: "new_ContactId" },
    ],
  };
}

// The list table reference (dynamics365 developer/entities/list): static or dynamic (Type, Boolean,
// not valid for update), member type (CreatedFromCode 1 Account, 2 Contact, 4 Lead; SystemRequired,
// not valid for update), LockStatus, MemberCount (not valid for create), statecode Active 0 / Inactive 1
// with statuscode 0 / 1. Its members are the many-to-many relationships in default-environment.ts.
function marketingList(): TableDefinition {
  return {
    logicalName: "list",
    schemaName: "List",
    entitySetName: "lists",
    primaryIdAttribute: "listid",
    primaryNameAttribute: "listname",
    objectTypeCode: 4300,
    ownershipType: "UserOwned",
    columns: [
      pk("listid"),
      str("listname", 128, { schemaName: "ListName", requiredLevel: "SystemRequired" }),
      { logicalName: "type", schemaName: "Type", type: "Boolean", requiredLevel: "SystemRequired", validForUpdate: false, defaultValue: false },
      picklist("createdfromcode", opts([1, "Account"], [2, "Contact"], [4, "Lead"]), {
        schemaName: "CreatedFromCode",
        requiredLevel: "SystemRequired",
        validForUpdate: false,
      }),
      { logicalName: "lockstatus", schemaName: "LockStatus", type: "Boolean", defaultValue: false },
      { logicalName: "membercount", schemaName: "MemberCount", type: "Integer", minValue: 0, maxValue: 1_000_000_000, validForCreate: false },
      { logicalName: "membertype", schemaName: "MemberType", type: "Integer", minValue: 0, maxValue: 1_000_000_000, validForUpdate: false },
      { logicalName: "description", schemaName: "Description", type: "Memo", maxLength: 2000 },
      str("purpose", 512, { schemaName: "Purpose" }),
      str("source", 128, { schemaName: "Source" }),
      // The reference gives Query a MaxLength of 1,073,741,823; the emulator caps Memo at MaxSupportedLength.
      { logicalName: "query", schemaName: "Query", type: "Memo", maxLength: 1_048_576 },
      ...stateStatus(
        [
          [0, "Active", 0],
          [1, "Inactive", 1],
        ],
        [
          [0, "Active", 0],
          [1, "Inactive", 1],
        ],
      ),
    ],
  };
}

const NO_BULK = { createMultiple: false, updateMultiple: false, upsertMultiple: false } as const;

function systemuser(): TableDefinition {
  return {
    logicalName: "systemuser",
    entitySetName: "systemusers",
    primaryIdAttribute: "systemuserid",
    primaryNameAttribute: "fullname",
    objectTypeCode: 8,
    ownershipType: "OrganizationOwned",
    bulk: NO_BULK,
    columns: [
      pk("systemuserid"),
      str("fullname", 200),
      str("domainname", 1024),
      { logicalName: "applicationid", type: "Uniqueidentifier" },
    ],
  };
}

function team(): TableDefinition {
  return {
    logicalName: "team",
    entitySetName: "teams",
    primaryIdAttribute: "teamid",
    primaryNameAttribute: "name",
    objectTypeCode: 9,
    ownershipType: "OrganizationOwned",
    bulk: NO_BULK,
    columns: [pk("teamid"), str("name", 160)],
  };
}

export function defaultTables(): TableDefinition[] {
  return [contact(), account(), lead(), opportunity(), membership(), marketingList(), systemuser(), team()];
}

/**
 * The list table's member relationships as its reference lists them: intersect listmember, list's
 * listid and the member's entityid, both navigation properties named after the relationship.
 */
export function defaultManyToManyRelationships(): ManyToManyDefinition[] {
  return (["account", "contact", "lead"] as const).map((member) => ({
    schemaName: `list${member}_association`,
    entity1LogicalName: "list",
    entity2LogicalName: member,
    intersectEntityName: "listmember",
    entity1IntersectAttribute: "listid",
    entity2IntersectAttribute: "entityid",
    isCustomRelationship: false,
  }));
}
