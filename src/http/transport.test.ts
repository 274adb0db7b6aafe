// Real sockets, no mocks: a local TLS server signed by the test CA, and ports nobody listens on.
import { createServer as createHttpsServer, type Server } from "node:https";
import { createServer as createNetServer } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyNetworkError, createUndiciTransport, safePath, TransportError } from "./transport.js";

const certs = join(import.meta.dirname, "..", "..", "emulator", "certs");
const ca = readFileSync(join(certs, "ca.pem"));
let server: Server;
let origin: string;
let hang: Server;
let hangOrigin: string;

beforeAll(async () => {
  server = createHttpsServer({ key: readFileSync(join(certs, "server-key.pem")), cert: readFileSync(join(certs, "server.pem")) }, (req, res) => {
    if (req.url?.startsWith("/slow")) return; // never answers
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(201, { "X-Echo-Method": req.method ?? "", "Set-Cookie": ["a=1", "b=2"], "Content-Type": "text/plain" });
      res.end(`${req.headers["x-test"] ?? ""}|${Buffer.concat(chunks).toString()}|${req.headers.cookie ?? "no-cookie"}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hang = createHttpsServer({ key: readFileSync(join(certs, "server-key.pem")), cert: readFileSync(join(certs, "server.pem")) }, () => {});
  await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
  hangOrigin = `https://127.0.0.1:${(hang.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  hang.closeAllConnections();
  await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => hang.close(r))]);
});

describe("undici transport", () => {
  it("trusts the configured CA and returns status, lower-cased headers and body", async () => {
    const t = createUndiciTransport({ caPem: ca });
    try {
      const res = await t.request({ method: "POST", url: `${origin}/echo?x=1`, headers: { "X-Test": "hi" }, body: "payload" });
      expect(res.status).toBe(201);
      expect(res.headers["x-echo-method"]).toBe("POST");
      expect(res.headers["set-cookie"]).toBe("a=1, b=2");
      expect(res.body.toString()).toBe("hi|payload|no-cookie");
      // No cookie jar: a Set-Cookie (ARRAffinity) is never sent back.
      const again = await t.request({ method: "GET", url: `${origin}/echo`, headers: {} });
      expect(again.body.toString()).toBe("||no-cookie");
    } finally {
      await t.close();
    }
  });

  it("without the CA the certificate is untrusted, and the error names method and path only", async () => {
    const t = createUndiciTransport();
    try {
      const err = await t.request({ method: "GET", url: `${origin}/secret-path?key='value'`, headers: { Authorization: "Bearer tok-123" } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe("CERT_UNTRUSTED");
      expect((err as TransportError).retryable).toBe(false);
      expect((err as Error).message).toContain("GET");
      expect((err as Error).message).toContain("/secret-path");
      expect((err as Error).message).not.toContain("value");
      expect((err as Error).message).not.toContain("tok-123");
    } finally {
      await t.close();
    }
  });

  it("a configured CA is trusted in addition, not instead: a certificate from another CA is still refused", async () => {
    // The app-registration certificate is self-signed, so it is a CA of its own that did not sign
    // the server's certificate: trusting it must not make the server trusted.
    const other = readFileSync(join(certs, "app-cert.pem"));
    const t = createUndiciTransport({ caPem: other });
    try {
      const err = await t.request({ method: "GET", url: `${origin}/echo`, headers: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).code).toBe("CERT_UNTRUSTED");
    } finally {
      await t.close();
    }
  });

  it("a closed port is ECONNREFUSED, not retryable", async () => {
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const t = createUndiciTransport({ caPem: ca });
    try {
      const err = await t.request({ method: "GET", url: `https://127.0.0.1:${port}/`, headers: {} }).catch((e: unknown) => e);
      expect((err as TransportError).code).toBe("ECONNREFUSED");
      expect((err as TransportError).retryable).toBe(false);
    } finally {
      await t.close();
    }
  });

  it("a server that never answers times out as ETIMEDOUT, retryable", async () => {
    const t = createUndiciTransport({ caPem: ca });
    try {
      const started = Date.now();
      const err = await t.request({ method: "GET", url: `${hangOrigin}/`, headers: {}, timeoutMs: 300 }).catch((e: unknown) => e);
      expect((err as TransportError).code).toBe("ETIMEDOUT");
      expect((err as TransportError).retryable).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await t.close();
    }
  });

  it("an aborted request is ABORTED", async () => {
    const t = createUndiciTransport({ caPem: ca });
    try {
      const ac = new AbortController();
      const p = t.request({ method: "GET", url: `${origin}/slow`, headers: {}, signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      expect(((await p.catch((e: unknown) => e)) as TransportError).code).toBe("ABORTED");
    } finally {
      await t.close();
    }
  });
});

describe("classifyNetworkError", () => {
  it.each([
    [{ code: "ECONNRESET" }, "ECONNRESET"],
    [{ code: "UND_ERR_SOCKET", cause: { code: "ECONNRESET" } }, "ECONNRESET"],
    [{ code: "UND_ERR_SOCKET" }, "ECONNRESET"],
    [{ code: "UND_ERR_HEADERS_TIMEOUT" }, "ETIMEDOUT"],
    [{ code: "UND_ERR_BODY_TIMEOUT" }, "ETIMEDOUT"],
    [{ code: "UND_ERR_CONNECT_TIMEOUT" }, "ETIMEDOUT"],
    [{ message: "fetch failed", cause: { code: "ENOTFOUND" } }, "ENOTFOUND"],
    [{ code: "DEPTH_ZERO_SELF_SIGNED_CERT" }, "CERT_UNTRUSTED"],
    [{ code: "CERT_HAS_EXPIRED" }, "CERT_INVALID"],
    [{ code: "ERR_TLS_CERT_ALTNAME_INVALID" }, "CERT_INVALID"],
    [{ name: "AbortError" }, "ABORTED"],
    [new Error("strange"), "UNKNOWN"],
  ])("%o → %s", (err, code) => expect(classifyNetworkError(err)).toBe(code));

  it("safePath drops the query string and fragment", () => {
    expect(safePath("https://h.example/api/data/v9.2/contacts?$filter=x eq 'secret'#f")).toBe("h.example/api/data/v9.2/contacts");
  });
});
