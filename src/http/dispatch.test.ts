import { describe, expect, it } from "vitest";
import { compose, type Interceptor } from "./dispatch.js";
import type { HttpRequest } from "./transport.js";

describe("compose", () => {
  it("sends through the interceptors first to last, then the base", async () => {
    const seen: string[] = [];
    const mark =
      (name: string): Interceptor =>
      (next) =>
      async (req) => {
        seen.push(`${name}>`);
        const res = await next({ ...req, headers: { ...req.headers, [name]: "1" } });
        seen.push(`<${name}`);
        return res;
      };
    const send = compose(async (req: HttpRequest) => {
      seen.push(Object.keys(req.headers).join(","));
      return { status: 204, headers: {}, body: "" };
    }, mark("a"), mark("b"));
    await expect(send({ method: "GET", url: "https://x/", headers: {} })).resolves.toEqual({ status: 204, headers: {}, body: "" });
    expect(seen).toEqual(["a>", "b>", "a,b", "<b", "<a"]);
  });
});
