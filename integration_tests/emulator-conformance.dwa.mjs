// Child process for emulator-conformance.test.ts: drives the emulator with the third-party
// dynamics-web-api client. It runs in its own process so NODE_EXTRA_CA_CERTS can make Node's https
// trust the emulator's CA (the library builds its own https.Agent and takes no CA option).
// Input: SERVER_URL, TOKEN in the environment. Output: one JSON line of observations on stdout.
import { DynamicsWebApi } from "dynamics-web-api";

const api = new DynamicsWebApi({
  serverUrl: process.env.SERVER_URL,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => process.env.TOKEN ?? "",
});

const out = {};
try {
  out.createdId = await api.create({ collection: "contacts", data: { firstname: "Dwa", lastname: "Client" } });

  out.upserted = await api.upsert({
    collection: "accounts",
    key: "accountnumber='O''Neil-1'",
    data: { name: "O'Neil & Sons" },
    returnRepresentation: true,
    select: ["accountid", "accountnumber", "name"],
  });
  out.upsertedAgain = await api.upsert({
    collection: "accounts",
    key: "accountnumber='O''Neil-1'",
    data: { name: "O'Neil and Sons" },
    returnRepresentation: true,
    select: ["accountid", "name"],
  });

  api.startBatch();
  api.create({ collection: "accounts", data: { name: "Batch parent", accountnumber: "DWA-B1" }, contentId: "1" });
  api.create({ collection: "contacts", data: { lastname: "Batch child", "parentcustomerid_account@odata.bind": "$1" } });
  out.batch = await api.executeBatch({ inChangeSet: true });

  for (let i = 0; i < 7; i++) await api.create({ collection: "accounts", data: { name: `Paged ${i}`, accountnumber: `DWA-P${i}` } });
  const first = await api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: "startswith(accountnumber,'DWA-P')", orderBy: ["name"], maxPageSize: 3 });
  const pages = [first.value.map((v) => v.name)];
  let next = first.oDataNextLink;
  while (next) {
    const page = await api.retrieveMultiple({ collection: "accounts", maxPageSize: 3 }, next);
    pages.push(page.value.map((v) => v.name));
    next = page.oDataNextLink;
  }
  out.pages = pages;

  out.deleted = await api.deleteRecord({ collection: "contacts", key: out.createdId });
  try {
    await api.retrieve({ collection: "contacts", key: out.createdId });
    out.afterDelete = "found";
  } catch (error) {
    out.afterDelete = { status: error.status, code: error.code };
  }
} catch (error) {
  out.failure = { message: String(error?.message ?? error), status: error?.status, code: error?.code };
}
// Further operations, each observed on its own so one mismatch does not hide the others.
const more = {};
const observe = async (name, fn) => {
  try {
    more[name] = (await fn()) ?? null;
  } catch (error) {
    more[name] = { error: { status: error?.status ?? null, code: error?.code ?? null, message: String(error?.message ?? error) } };
  }
};
const accountId = await api.create({ collection: "accounts", data: { name: "More", accountnumber: "DWA-M1" } }).catch(() => null);
await observe("update", async () => {
  await api.update({ collection: "accounts", key: accountId, data: { name: "More updated" } });
  return (await api.retrieve({ collection: "accounts", key: accountId, select: ["name"] })).name;
});
await observe("updateMissing", () => api.update({ collection: "accounts", key: "00000000-0000-0000-0000-0000000000aa", data: { name: "x" } }));
await observe("retrieveByKey", async () => (await api.retrieve({ collection: "accounts", key: "accountnumber='DWA-M1'", select: ["accountid", "name"] })).accountid);
await observe("updateSingleProperty", async () => {
  await api.updateSingleProperty({ collection: "accounts", key: accountId, fieldValuePair: { telephone1: "555-0100" } });
  return (await api.retrieve({ collection: "accounts", key: accountId, select: ["telephone1"] })).telephone1;
});
await observe("countAll", () => api.count({ collection: "accounts" }));
await observe("countFiltered", () => api.count({ collection: "accounts", filter: "startswith(accountnumber,'DWA-P')" }));
await observe("retrieveAll", async () => (await api.retrieveAll({ collection: "accounts", select: ["name"], filter: "startswith(accountnumber,'DWA-P')", maxPageSize: 2 })).value.length);
await observe("createMultiple", () =>
  api.callAction({
    collection: "accounts",
    actionName: "Microsoft.Dynamics.CRM.CreateMultiple",
    action: { Targets: [1, 2, 3].map((i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.account", name: `CM ${i}`, accountnumber: `DWA-CM${i}` })) },
  }),
);
await observe("upsertMultiple", async () => {
  await api.callAction({
    collection: "accounts",
    actionName: "Microsoft.Dynamics.CRM.UpsertMultiple",
    action: { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": "accounts(accountnumber='DWA-UM1')", name: "UM 1" }] },
  });
  return (await api.retrieve({ collection: "accounts", key: "accountnumber='DWA-UM1'", select: ["name"] })).name;
});
await observe("associateSingleValued", async () => {
  const contactId = await api.create({ collection: "contacts", data: { lastname: "Assoc" } });
  await api.associateSingleValued({ collection: "contacts", primaryKey: contactId, navigationProperty: "parentcustomerid_account", relatedCollection: "accounts", relatedKey: accountId });
  return (await api.retrieve({ collection: "contacts", key: contactId, select: ["_parentcustomerid_value"] }))._parentcustomerid_value === accountId;
});
await observe("batchContinueOnError", async () => {
  api.startBatch();
  api.create({ collection: "accounts", data: { name: "x".repeat(161) } });
  api.create({ collection: "accounts", data: { name: "After the failure", accountnumber: "DWA-COE" } });
  const responses = await api.executeBatch({ continueOnError: true, inChangeSet: false });
  return responses.map((r) => (r instanceof Error ? { status: r.status ?? null, code: r.error?.code ?? r.code ?? null } : typeof r));
});
await observe("retrieveExpand", async () => {
  const contactId = await api.create({ collection: "contacts", data: { firstname: "Exp", lastname: "Anded" } });
  await api.update({ collection: "accounts", key: accountId, data: { "primarycontactid@odata.bind": `contacts(${contactId})` } });
  const row = await api.retrieve({ collection: "accounts", key: accountId, select: ["name"], expand: [{ property: "primarycontactid", select: ["fullname"] }] });
  return row.primarycontactid?.fullname ?? null;
});
await observe("associateCollection", async () => {
  const opportunityId = await api.create({ collection: "opportunities", data: { name: "Dwa opportunity" } });
  await api.associate({ collection: "accounts", primaryKey: accountId, relationshipName: "opportunity_customer_accounts", relatedCollection: "opportunities", relatedKey: opportunityId });
  const linked = (await api.retrieve({ collection: "opportunities", key: opportunityId, select: ["_customerid_value"] }))._customerid_value === accountId;
  await api.disassociate({ collection: "accounts", primaryKey: accountId, relationshipName: "opportunity_customer_accounts", relatedKey: opportunityId });
  const unlinked = (await api.retrieve({ collection: "opportunities", key: opportunityId, select: ["_customerid_value"] }))._customerid_value === null;
  return [linked, unlinked];
});
await observe("expandCollection", async () => {
  for (const lastname of ["Kid 1", "Kid 2", "Kid 3"]) await api.create({ collection: "contacts", data: { lastname, "parentcustomerid_account@odata.bind": `accounts(${accountId})` } });
  const row = await api.retrieve({ collection: "accounts", key: accountId, select: ["name"], expand: [{ property: "contact_customer_accounts", select: ["lastname"], filter: "startswith(lastname,'Kid')", orderBy: ["lastname desc"], top: 2 }] });
  const related = await api.retrieveMultiple({ collection: `accounts(${accountId})/contact_customer_accounts`, select: ["lastname"], filter: "startswith(lastname,'Kid')", count: true });
  return [row.contact_customer_accounts.map((c) => c.lastname), related.oDataCount];
});
await observe("deleteByKey", async () => {
  await api.deleteRecord({ collection: "accounts", key: "accountnumber='DWA-M1'" });
  return await api.retrieve({ collection: "accounts", key: accountId }).then(() => "found", (e) => e.status);
});
out.more = more;
process.stdout.write(JSON.stringify(out) + "\n");
