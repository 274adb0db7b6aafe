// Assigning a record (issue 6): contact.ownerid is an Owner lookup. Its many-to-one relationship is
// owner_contacts to the abstract "owner" table (nav "ownerid"), and the bind names the concrete
// table: ownerid@odata.bind = /systemusers(<id>) or /teams(<id>) (Learn: "Associate table rows on
// create" / "Assign a record", web-api-navigation-properties). Built CLI against the emulator.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IDS } from "../../emulator/default-environment.js";
import { configuredCatalog, record, runCli, streamState } from "../helpers/cli.js";
import type { CliRun, Json } from "../helpers/cli.js";
import { startTestEmulator } from "./emulator.js";
import type { TestEmulator } from "./emulator.js";
import { odataString, WebApiReader } from "./webapi.js";

let emu: TestEmulator;
let reader: WebApiReader;

beforeAll(async () => {
  emu = await startTestEmulator();
  reader = new WebApiReader(emu.connection);
});

afterAll(async () => {
  await reader?.close();
  await emu?.close();
});

function write(streams: Json[], input: string[]): Promise<CliRun> {
  return runCli({
    args: ["write", "--config", "{file:config.json}", "--catalog", "{file:catalog.json}"],
    files: {
      "config.json": { ...emu.connection, streams },
      "catalog.json": configuredCatalog(streams.map((s) => ({ name: String(s["name"]), mode: "append_dedup" }))),
    },
    input,
    secrets: [emu.connection.client_secret],
  });
}

async function ownerOf(email: string): Promise<unknown> {
  const rows = await reader.rows("contacts", { filter: `emailaddress1 eq ${odataString(email)}`, select: ["_ownerid_value"] });
  expect(rows).toHaveLength(1);
  return rows[0]?.["_ownerid_value"];
}

describe("owner lookups", () => {
  it("a contact owned by a team, then by a user (lookup table fixed per stream)", async () => {
    const toTeam = { name: "ow_team", table: "contact", key: { columns: ["emailaddress1"] }, fields: { owner: { column: "ownerid", lookup: { table: "team", by: "id" } } } };
    const toUser = { name: "ow_user", table: "contact", key: { columns: ["emailaddress1"] }, fields: { owner: { column: "ownerid", lookup: { table: "systemuser", by: "id" } } } };
    const first = await write([toTeam], [record("ow_team", { emailaddress1: "ow-1@example.org", lastname: "Owned", owner: DEFAULT_IDS.teamId }), streamState("ow_team", 1)]);
    expect(first.code, first.stderr).toBe(0);
    expect(await ownerOf("ow-1@example.org")).toBe(DEFAULT_IDS.teamId);
    const second = await write([toUser], [record("ow_user", { emailaddress1: "ow-1@example.org", owner: DEFAULT_IDS.userId }), streamState("ow_user", 1)]);
    expect(second.code, second.stderr).toBe(0);
    expect(await ownerOf("ow-1@example.org")).toBe(DEFAULT_IDS.userId);
  });

  it("the owner's table per row (tableField): a team in one row, a user in the next", async () => {
    const stream = { name: "ow_any", table: "contact", key: { columns: ["emailaddress1"] }, fields: { owner: { column: "ownerid", lookup: { table_field: "owner_type", by: "id" } } } };
    const run = await write([stream], [
      record("ow_any", { emailaddress1: "ow-2@example.org", lastname: "T", owner: DEFAULT_IDS.teamId, owner_type: "team" }),
      record("ow_any", { emailaddress1: "ow-3@example.org", lastname: "U", owner: DEFAULT_IDS.userId, owner_type: "systemuser" }),
      streamState("ow_any", 1),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(await ownerOf("ow-2@example.org")).toBe(DEFAULT_IDS.teamId);
    expect(await ownerOf("ow-3@example.org")).toBe(DEFAULT_IDS.userId);
  });
});
