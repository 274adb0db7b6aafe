import { describe, expect, it } from "vitest";
import { ManualClock } from "../http/clock.js";
import type { HttpRequest, HttpResponse } from "../http/transport.js";
import { DataverseClient } from "./client.js";

function client(answers: HttpResponse[]) {
  const sent: HttpRequest[] = [];
  const tokens: boolean[] = [];
  const c = new DataverseClient({
    endpoint: new URL("https://org.example/api/data/v9.2/"),
    transport: {
      async request(req) {
        sent.push(req);
        return answers.shift() ?? { status: 204, headers: {}, body: "" };
      },
    },
    tokens: {
      clientId: "c",
      getToken: async (o) => {
        tokens.push(o?.forceRefresh === true);
        return `t${tokens.length}`;
      },
    },
    clock: new ManualClock(),
    retryBudgetMs: 1000,
  });
  return { c, sent, tokens };
}

describe("the request path", () => {
  it("sends the Web API's headers and the bearer token", async () => {
    const { c, sent } = client([]);
    await c.send({ method: "GET", path: "WhoAmI" });
    expect(sent[0]?.url).toBe("https://org.example/api/data/v9.2/WhoAmI");
    expect(sent[0]?.headers).toMatchObject({ Accept: "application/json", "OData-Version": "4.0", "If-None-Match": "null", Authorization: "Bearer t1" });
    await c.send({ method: "POST", path: "contacts", body: "{}" });
    expect(sent[1]?.headers).toMatchObject({ "Content-Type": "application/json; charset=utf-8" });
  });

  it("given a 401, fetches a fresh token once and resends; a second 401 is the answer", async () => {
    const unauthorized: HttpResponse = { status: 401, headers: {}, body: "" };
    const { c, sent, tokens } = client([unauthorized, unauthorized, unauthorized]);
    const res = await c.send({ method: "GET", path: "WhoAmI", tag: "contact" });
    expect(res.status).toBe(401);
    expect(sent.map((r) => r.headers.Authorization)).toEqual(["Bearer t1", "Bearer t2"]);
    expect(tokens).toEqual([false, true]);
    expect(c.counters).toEqual({ requests: 2, retries: 1, throttled429: 0, unauthorizedRefreshes: 1 });
    expect(c.tagged.get("contact")).toEqual({ requests: 2, throttled429: 0, retries: 1 });
  });

  it("hands back a status it is told to, without retrying it", async () => {
    const { c, sent } = client([{ status: 429, headers: { "retry-after": "1" }, body: "" }]);
    const res = await c.send({ method: "GET", path: "WhoAmI", handBack: [429] });
    expect(res.status).toBe(429);
    expect(sent).toHaveLength(1);
    expect(c.counters.throttled429).toBe(1);
    expect(c.throttle.paused).toBe(true);
  });
});
