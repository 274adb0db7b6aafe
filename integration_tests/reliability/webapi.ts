// Reads the emulator's tables back through the Web API, as a user would verify a sync: real HTTPS,
// a client-credentials token from the emulator's Entra endpoint, trust in the emulator CA only.
// Deliberately independent of src/ so a bug in the connector's HTTP layer cannot hide itself here.
import { readFileSync } from "node:fs";
import { Agent, request } from "undici";

export interface EmulatorConnection {
  readonly web_api_endpoint: string;
  readonly authority_host: string;
  readonly tenant_id: string;
  readonly client_id: string;
  readonly client_secret: string;
  readonly ca_file: string;
  /** Set for the connector: the emulator's sign-in host is not Microsoft's. */
  readonly allow_custom_authority_host?: true;
}

export type Row = Readonly<Record<string, unknown>>;

export class WebApiError extends Error {
  readonly code = "webapi_read_failed";
  constructor(
    readonly status: number,
    readonly path: string,
  ) {
    super(`Web API read ${path} answered ${status}`);
  }
}

export class WebApiReader {
  private readonly agent: Agent;
  private token: { value: string; expiresAt: number } | undefined;

  constructor(private readonly conn: EmulatorConnection) {
    this.agent = new Agent({ connect: { ca: readFileSync(conn.ca_file, "utf8") } });
  }

  /** The access token the reader uses; tests that look for leaked tokens also need it. */
  async accessToken(): Promise<string> {
    if (this.token !== undefined && this.token.expiresAt > Date.now() + 5_000) return this.token.value;
    const endpoint = new URL(this.conn.web_api_endpoint);
    const form = new URLSearchParams({
      client_id: this.conn.client_id,
      client_secret: this.conn.client_secret,
      grant_type: "client_credentials",
      scope: `${endpoint.origin}/.default`,
    });
    const url = `${this.conn.authority_host.replace(/\/$/, "")}/${this.conn.tenant_id}/oauth2/v2.0/token`;
    const res = await request(url, {
      method: "POST",
      dispatcher: this.agent,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    const body: unknown = await res.body.json();
    if (res.statusCode !== 200 || !isObject(body) || typeof body["access_token"] !== "string") {
      throw new WebApiError(res.statusCode, "token");
    }
    const lifetime = typeof body["expires_in"] === "number" ? body["expires_in"] : 300;
    this.token = { value: body["access_token"], expiresAt: Date.now() + lifetime * 1000 };
    return this.token.value;
  }

  /** GET a path relative to the service root; returns status and parsed JSON (undefined when empty). */
  async get(path: string, headers: Readonly<Record<string, string>> = {}): Promise<{ status: number; body: unknown }> {
    // Fault suites revoke the main app's tokens, ours included: get a new one and ask again.
    for (let attempt = 0; ; attempt += 1) {
      const answer = await this.getOnce(path, headers);
      if (answer.status !== 401 || attempt >= 3) return answer;
      this.token = undefined;
    }
  }

  private async getOnce(path: string, headers: Readonly<Record<string, string>>): Promise<{ status: number; body: unknown }> {
    const token = await this.accessToken();
    const res = await request(new URL(path, this.conn.web_api_endpoint), {
      method: "GET",
      dispatcher: this.agent,
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/json",
        "odata-maxversion": "4.0",
        "odata-version": "4.0",
        "if-none-match": "null",
        ...headers,
      },
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
  }

  /** Every row of an entity set matching the query options, following @odata.nextLink. */
  async rows(entitySet: string, options: { select?: readonly string[]; filter?: string } = {}): Promise<Row[]> {
    const params: string[] = [];
    if (options.select !== undefined) params.push(`$select=${options.select.join(",")}`);
    if (options.filter !== undefined) params.push(`$filter=${encodeURIComponent(options.filter)}`);
    let next: string | undefined = `${entitySet}${params.length > 0 ? `?${params.join("&")}` : ""}`;
    const out: Row[] = [];
    while (next !== undefined) {
      const { status, body } = await this.get(next, { prefer: "odata.maxpagesize=5000" });
      if (status !== 200 || !isObject(body) || !Array.isArray(body["value"])) throw new WebApiError(status, entitySet);
      for (const row of body["value"]) if (isObject(row)) out.push(row);
      const link = body["@odata.nextLink"];
      next = typeof link === "string" ? link : undefined;
    }
    return out;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An OData string literal for $filter: single quotes, embedded quotes doubled. */
export function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
