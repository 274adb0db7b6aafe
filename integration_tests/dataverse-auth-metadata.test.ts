import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthError } from "../src/dataverse/auth.js";
import { DataverseError } from "../src/dataverse/errors.js";
import { MetadataLoader, TableNotFoundError } from "../src/dataverse/metadata.js";
import { POOL_APPS, startHarness, type Harness } from "./dataverse-env.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("token acquisition through msal-node over our transport", () => {
  it("gets a token with the emulator's CA and no NODE_EXTRA_CA_CERTS", async () => {
    expect(process.env.NODE_EXTRA_CA_CERTS ?? "").not.toContain("emulator");
    const token = await h.tokenProvider().getToken();
    expect(token.split(".")).toHaveLength(3);
  });

  it("serves a second call from msal's cache and a forced refresh from Entra", async () => {
    const tp = h.tokenProvider();
    const before = h.emulator.stats().tokensIssued;
    const a = await tp.getToken();
    const b = await tp.getToken();
    expect(b).toBe(a);
    expect(h.emulator.stats().tokensIssued).toBe(before + 1);
    await tp.getToken({ forceRefresh: true });
    expect(h.emulator.stats().tokensIssued).toBe(before + 2);
    // After a forced refresh the new token is the one handed out again.
    const c = await tp.getToken();
    expect(h.emulator.stats().tokensIssued).toBe(before + 2);
    expect(c).not.toBe(a);
  });

  it("never hands out again a token within msal's five minutes of renewal: each call goes back to Entra", async () => {
    const short = await startHarness({ tokenLifetimeSeconds: 200 });
    try {
      const tp = short.tokenProvider();
      const before = short.emulator.stats().tokensIssued;
      await tp.getToken();
      await tp.getToken();
      await tp.getToken();
      expect(short.emulator.stats().tokensIssued).toBe(before + 3);
    } finally {
      await short.close();
    }
  });

  it("a wrong secret is an AuthError naming the secret, without the secret", async () => {
    const secret = "definitely-wrong-secret-value";
    const err = await h.tokenProvider(undefined, secret).getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).field).toBe("client_secret");
    expect((err as AuthError).aadsts).toBe("AADSTS7000215");
    expect(String((err as Error).message)).not.toContain(secret);
  });

  it("an unknown client id is an AuthError naming the client id", async () => {
    const err = await h.tokenProvider("99999999-9999-4999-8999-999999999999", "x").getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).field).toBe("client_id");
  });

  it("an expired secret says so", async () => {
    const expired = h.emulator.apps.find((a) => a.secretExpired);
    expect(expired).toBeDefined();
    const err = await h.tokenProvider(expired?.clientId, expired?.clientSecret).getToken().catch((e: unknown) => e);
    expect((err as AuthError).code).toBe("SECRET_EXPIRED");
  });
});

describe("WhoAmI and membership", () => {
  it("returns the application user's ids and the dop hint", async () => {
    const who = await h.client().whoAmI();
    expect(who.userId).toMatch(/^[0-9a-f-]{36}$/);
    expect(who.organizationId).toBe(h.emulator.environment.organizationId);
  });

  it("an app that is not an application user gets not_member (0x80072560)", async () => {
    const stranger = h.emulator.apps.find((a) => a.systemUserId === undefined && !a.secretExpired);
    expect(stranger).toBeDefined();
    const err = await h.client({ clientId: stranger?.clientId, secret: stranger?.clientSecret }).whoAmI().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataverseError);
    expect((err as DataverseError).kind).toBe("not_member");
    expect((err as DataverseError).code).toBe("0x80072560");
  });

  it("each pool user is its own application user", async () => {
    const ids = await Promise.all(POOL_APPS.map((a) => h.client({ clientId: a.clientId, secret: a.secret }).whoAmI()));
    expect(ids.map((w) => w.userId)).toEqual(POOL_APPS.map((a) => a.systemUserId));
  });
});

describe("metadata", () => {
  it("loads contact with column details, keys, relationships and bulk support", async () => {
    const m = new MetadataLoader(h.client());
    const contact = await m.loadTable("contact");
    expect(contact.entitySetName).toBe("contacts");
    expect(contact.primaryIdAttribute).toBe("contactid");
    expect(contact.columns.get("emailaddress1")).toMatchObject({ type: "String", maxLength: 100 });
    expect(contact.columns.get("birthdate")).toMatchObject({ type: "DateTime", dateTimeBehavior: "DateOnly" });
    expect(contact.columns.get("parentcustomerid")).toMatchObject({ type: "Customer", targets: ["account", "contact"] });
    expect(contact.columns.get("statuscode")?.options).toEqual([
      { value: 1, label: "Active", state: 0 },
      { value: 2, label: "Inactive", state: 1 },
    ]);
    expect(contact.columns.get("statecode")?.options?.[1]).toEqual({ value: 1, label: "Inactive", defaultStatus: 2 });
    expect(contact.keys).toEqual([expect.objectContaining({ logicalName: "emailaddress1_key", columns: ["emailaddress1"], status: "Active" })]);
    expect(contact.manyToOne).toContainEqual(
      expect.objectContaining({ referencingAttribute: "parentcustomerid", referencedEntity: "account", navigationProperty: "parentcustomerid_account" }),
    );
    expect(contact.bulk).toEqual({ createMultiple: true, updateMultiple: true, upsertMultiple: true });
  });

  it("loads account with numeric ranges and picklist labels, once per run", async () => {
    const m = new MetadataLoader(h.client());
    const [a, b] = await Promise.all([m.loadTable("account"), m.loadTable("account")]);
    expect(a).toBe(b);
    expect(a.columns.get("numberofemployees")).toMatchObject({ type: "Integer", minValue: 0, maxValue: 1_000_000 });
    // PrecisionSource 2 (the currency's precision, Dataverse's default): up to Money's 4 decimals go
    // out and the server rounds to the currency, rather than rounding here to the column's Precision.
    expect(a.columns.get("revenue")).toMatchObject({ type: "Money", precision: 4 });
    expect(a.columns.get("industrycode")?.options?.map((o) => o.label)).toEqual(["Accounting", "Agriculture"]);
    expect(a.columns.get("name")?.requiredLevel).toBe("ApplicationRequired");
    expect(m.lookup("account")).toBe(a);
    expect(await m.findByEntitySet("accounts")).toBe(a);
  });

  it("a missing table is a TableNotFoundError naming it", async () => {
    const err = await new MetadataLoader(h.client()).loadTable("nosuchtable").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TableNotFoundError);
    expect((err as TableNotFoundError).table).toBe("nosuchtable");
  });

  it("lists tables for discover", async () => {
    const tables = await new MetadataLoader(h.client()).listTables();
    expect(tables.map((t) => t.logicalName)).toEqual(expect.arrayContaining(["account", "contact"]));
  });
});
