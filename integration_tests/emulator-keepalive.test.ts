// Keep-alive connections that carry large $batch requests and answers, through clients that are not
// undici: node:tls written by hand, and node:https with a keep-alive Agent (what dynamics-web-api
// uses). Pins the HPE_PAUSED reset the benchmark's dynamics-web-api loader met (see the
// secureConnection handler in emulator/server.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { connect, type TLSSocket } from "node:tls";
import { LIMIT_PRESETS, startEmulator, type Emulator } from "../emulator/index.js";
import { errorCause } from "../emulator/emulator-error.js";

const SEEDED = 1000;

interface Reply {
  readonly status: number;
  readonly text: string;
}

function post(agent: Agent, url: string, headers: Record<string, string>, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A $batch holding one changeset of `count` upserts by alternate key, as dynamics-web-api writes it. */
function upsertChangeset(root: string, from: number, count: number): string {
  const lines = ["--batch_k", "Content-Type: multipart/mixed; boundary=changeset_k", ""];
  for (let i = from; i < from + count; i++) {
    lines.push(
      "--changeset_k",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      `Content-ID: ${i - from + 1}`,
      "",
      `PATCH ${root}contacts(emailaddress1='keepalive.${i}@example.com') HTTP/1.1`,
      "Content-Type: application/json",
      "",
      JSON.stringify({ firstname: "Grace", lastname: `Hopper ${i}`, jobtitle: "Engineer" }),
    );
  }
  lines.push("--changeset_k--", "--batch_k--", "");
  return lines.join("\r\n");
}

/** A $batch of `count` GETs of every seeded contact: an answer of several MB. */
function bigReads(root: string, count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(
      "--batch_r",
      "Content-Type: application/http",
      "Content-Transfer-Encoding: binary",
      "",
      `GET ${root}contacts?$select=firstname,lastname,jobtitle,emailaddress1 HTTP/1.1`,
      "Accept: application/json",
      "",
      "",
    );
  }
  parts.push("--batch_r--", "");
  return parts.join("\r\n");
}

function rawRequest(url: URL, token: string, contentType: string, body: string): string {
  return (
    `POST ${url.pathname}$batch HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("emulator over keep-alive with large $batch traffic", () => {
  let emu: Emulator;
  let ca: Buffer;
  let token: string;

  beforeAll(async () => {
    emu = await startEmulator({ port: 0, quiet: true, limits: { ...LIMIT_PRESETS.scaled, enabled: false }, latency: true });
    ca = readFileSync(emu.config.ca_file);
    token = emu.issueToken(emu.config.client_id);
    const agent = new Agent({ keepAlive: true, ca });
    const seed = upsertChangeset(emu.config.web_api_endpoint, 0, SEEDED);
    const reply = await post(agent, `${emu.config.web_api_endpoint}$batch`, { authorization: `Bearer ${token}`, "content-type": "multipart/mixed; boundary=batch_k" }, seed);
    agent.destroy();
    expect(reply.status).toBe(200);
  });
  afterAll(async () => {
    await emu.close();
  });

  it("reads a request that arrives while the previous answer has not drained, instead of resetting", async () => {
    // The client stops reading, so a multi-MB answer stays queued on the server's side of the
    // socket (above its high-water mark), then sends its next request with a body spanning many TLS
    // records. Node pauses the socket for that request; before the fix the paused parser still got
    // the decrypted records and the connection died with HPE_PAUSED.
    const url = new URL(emu.config.web_api_endpoint);
    const socket: TLSSocket = connect({ host: url.hostname, port: Number(url.port), ca, servername: "localhost" });
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    const received: Buffer[] = [];
    let closed = false;
    socket.on("data", (d: Buffer) => received.push(d));
    socket.on("close", () => {
      closed = true;
    });
    socket.on("error", () => {
      closed = true;
    });
    socket.pause();
    socket.write(rawRequest(url, token, "multipart/mixed; boundary=batch_r", bigReads(emu.config.web_api_endpoint, 100)));
    await sleep(400);
    const second = upsertChangeset(emu.config.web_api_endpoint, 5000, 500);
    expect(Buffer.byteLength(second)).toBeGreaterThan(100_000);
    socket.write(rawRequest(url, token, "multipart/mixed; boundary=batch_k", second));
    await sleep(300);
    socket.resume();
    // Both answers: the first with 100 part answers, the second with 500 upserts in its changeset.
    const deadline = Date.now() + 15_000;
    const statusLines = (): string[] => Buffer.concat(received).toString("latin1").match(/^HTTP\/1\.1 \d{3}/gm) ?? [];
    while (!closed && statusLines().length < 1 + 100 + 1 + 500 && Date.now() < deadline) await sleep(50);
    socket.destroy();
    const lines = statusLines();
    expect(closed && lines.length < 602 ? "connection closed early" : "ok").toBe("ok");
    expect(lines.length).toBe(602);
    expect(lines.filter((l) => l !== "HTTP/1.1 200" && l !== "HTTP/1.1 204")).toEqual([]);
  }, 30_000);

  it("answers many $batch changesets over a node:https keep-alive Agent with latency on, no reset", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4, ca });
    const headers = { authorization: `Bearer ${token}`, "content-type": "multipart/mixed; boundary=batch_k" };
    const failures: string[] = [];
    let next = 0;
    const total = 24;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < total) {
          const b = next++;
          try {
            const reply = await post(agent, `${emu.config.web_api_endpoint}$batch`, headers, upsertChangeset(emu.config.web_api_endpoint, 10_000 + b * 200, 200));
            if (reply.status !== 200) failures.push(`batch ${b}: status ${reply.status}`);
          } catch (error: unknown) {
            failures.push(`batch ${b}: ${(error as { code?: string }).code ?? "error"}`);
          }
        }
      }),
    );
    agent.destroy();
    expect(failures).toEqual([]);
  }, 30_000);
});

describe("the emulator's failure log line", () => {
  it("names the cause (class, code, parser reason) and never the message, which may quote a body", () => {
    const parse = Object.assign(new Error("Parse Error: Paused"), { code: "HPE_PAUSED", reason: "Paused" });
    expect(errorCause(parse)).toBe('Error HPE_PAUSED "Paused"');
    let json: unknown;
    try {
      JSON.parse('{"emailaddress1":"someone@example.com"');
    } catch (error: unknown) {
      json = error;
    }
    expect(errorCause(json)).toBe("SyntaxError");
    const reset = Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    expect(errorCause(reset)).toBe("Error ECONNRESET (the client closed the connection)");
  });
});
