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
process.stdout.write(JSON.stringify(out) + "\n");
