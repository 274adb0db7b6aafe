// The emulator environment of the mapping end-to-end suite: the default one plus an application
// user that may write every table but holds no special privilege, so the bypass and impersonation
// options meet the privilege errors Dataverse gives. Also a small Web API writer for seeding rows
// the connector did not write (another owner), kept apart from src/ on purpose.
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";
import { defaultEnvironment } from "../../emulator/environment.js";
import type { Environment } from "../../emulator/environment.js";
import { DEFAULT_IDS } from "../../emulator/default-environment.js";
import type { EmulatorConnection } from "../reliability/webapi.js";
import { isObject, WebApiError } from "../reliability/webapi.js";

export const PLAIN_WRITER = {
  clientId: "55555555-6666-4777-8888-999999999999",
  objectId: "61a5d2b4-7c3e-4f1a-9b8d-0e2c4a6b8d05",
  systemUserId: "c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f605",
  secret: "emulator-plain-writer-secret",
} as const;

export function mappingEnvironment(): Environment {
  const env = defaultEnvironment();
  const everything = Object.fromEntries(env.tables.map((t) => [t.logicalName, ["create", "read", "write", "delete", "append", "appendto"] as const]));
  return {
    ...env,
    apps: [
      ...env.apps,
      {
        clientId: PLAIN_WRITER.clientId,
        displayName: "writes everything, no special privileges",
        objectId: PLAIN_WRITER.objectId,
        secrets: [{ value: PLAIN_WRITER.secret, expiresAt: "2099-12-31T23:59:59Z" }],
        applicationUser: { systemUserId: PLAIN_WRITER.systemUserId, privileges: everything },
      },
    ],
    rows: {
      ...env.rows,
      systemuser: [...(env.rows?.["systemuser"] ?? []), { systemuserid: PLAIN_WRITER.systemUserId, fullname: "# plain writer", applicationid: PLAIN_WRITER.clientId }],
    },
  };
}

/** Every secret of the environment, for the no-leak checks. */
export const MAPPING_SECRETS: readonly string[] = [
  DEFAULT_IDS.mainApp.secret,
  DEFAULT_IDS.readOnlyApp.secret,
  DEFAULT_IDS.notAUserApp.secret,
  DEFAULT_IDS.expiredApp.secret,
  PLAIN_WRITER.secret,
];

/** POSTs rows through the Web API as the main app; used to seed rows owned by someone else. */
export class WebApiSeeder {
  private readonly agent: Agent;
  constructor(
    private readonly conn: EmulatorConnection,
    private readonly token: () => Promise<string>,
  ) {
    this.agent = new Agent({ connect: { ca: readFileSync(conn.ca_file, "utf8") } });
  }

  /** Creates a row and returns its GUID (from OData-EntityId). */
  async create(entitySet: string, body: Readonly<Record<string, unknown>>): Promise<string> {
    const res = await request(new URL(entitySet, this.conn.web_api_endpoint), {
      method: "POST",
      dispatcher: this.agent,
      headers: {
        authorization: `Bearer ${await this.token()}`,
        accept: "application/json",
        "content-type": "application/json; charset=utf-8",
        "odata-maxversion": "4.0",
        "odata-version": "4.0",
      },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    const entityId = res.headers["odata-entityid"];
    const m = typeof entityId === "string" ? /\(([0-9a-f-]{36})\)$/i.exec(entityId) : null;
    if (res.statusCode !== 204 || m === null || m[1] === undefined) {
      const parsed: unknown = text === "" ? undefined : JSON.parse(text);
      const code = isObject(parsed) && isObject(parsed["error"]) ? String(parsed["error"]["code"]) : "";
      throw new WebApiError(res.statusCode, `${entitySet} ${code}`);
    }
    return m[1].toLowerCase();
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
