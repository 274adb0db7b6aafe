// The bytes on the wire: reading a request body (capped), writing an answer (or cutting it off for a
// reset fault), and the HTTP.sys-style page for requests Node's parser refuses.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { ServiceResponse } from "./types.js";
import { reasonPhrase } from "./batch.js";
import { EmulatorError } from "./emulator-error.js";

/** Bodies above this get 413, as Dataverse answers oversized requests. */
export const MAX_BODY_BYTES = 128 * 1024 * 1024;

/** One HTTP answer, before the server adds its per-answer headers. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function toAnswer(response: ServiceResponse): Answer {
  return { status: response.status, headers: { ...response.headers }, body: response.body ?? "" };
}

export function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** Reads the body as UTF-8; undefined once it exceeds MAX_BODY_BYTES. */
export function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    req.on("end", () => {
      ended = true;
      resolve(over ? undefined : chunks.length === 1 ? (chunks[0]?.toString("utf8") ?? "") : Buffer.concat(chunks).toString("utf8"));
    });
    req.on("error", reject);
    // A client that hangs up mid-body may not raise "error"; settle so nothing waits forever.
    req.on("close", () => {
      if (!ended) reject(new EmulatorError("EMULATOR_CLIENT_GONE", "request closed before its body ended"));
    });
  });
}

/** Writes the answer; with `resetAfterBytes` set (a reset fault), cuts it off instead. */
export function writeAnswer(res: ServerResponse, status: number, headers: Record<string, string | string[]>, text: string, reset: { readonly resetAfterBytes?: number | undefined } | undefined): void {
  const body = Buffer.from(text, "utf8");
  if (reset !== undefined) {
    resetMidResponse(res, status, headers, body, reset.resetAfterBytes);
    return;
  }
  if (status !== 204 && status !== 304) headers["content-length"] = String(body.length);
  res.writeHead(status, reasonPhrase(status), headers);
  res.end(status === 204 || status === 304 ? undefined : body);
}

/** Status line, headers and part of the body straight onto the socket, then a hard close. */
function resetMidResponse(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body: Buffer,
  afterBytes: number | undefined,
): void {
  const socket = res.socket;
  if (socket === null) return;
  const lines = [`HTTP/1.1 ${status} ${reasonPhrase(status)}`];
  for (const [name, value] of Object.entries(headers)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
  }
  let head: string;
  let partial: Buffer;
  if (body.length === 0) {
    // No body to cut: cut the head instead, so the client cannot take the answer for complete.
    const full = `${lines.join("\r\n")}\r\n`;
    head = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
    partial = Buffer.alloc(0);
  } else {
    lines.push(`content-length: ${body.length}`);
    head = `${lines.join("\r\n")}\r\n\r\n`;
    const cut = Math.min(afterBytes ?? Math.floor(body.length / 2), body.length - 1);
    partial = body.subarray(0, Math.max(0, cut));
  }
  socket.write(head);
  // resetAndDestroy() cannot reach the TCP handle under TLS; destroy() drops the connection without
  // a TLS close_notify, which the client sees as the peer going away mid-message.
  socket.write(partial, () => socket.destroy());
}

export function keepParserOnStream(): void {
  // The bytes are the HTTP server's; this listener only exists for its side effect (see
  // EmulatorServer's secureConnection handler).
}

/**
 * Requests Node's HTTP parser refuses (an unknown verb, raw non-ASCII bytes in the target, headers
 * over 16 KiB, broken chunking) never reach the Web API. Dataverse sits behind IIS, whose HTTP.sys
 * refuses such requests itself with a small HTML page ("Bad Request - Invalid Verb", "HTTP Error
 * 400. The request verb is invalid."); Learn documents none of this, so the emulator answers in
 * HTTP.sys's well-known shape and closes the connection.
 */
export function answerMalformed(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || error.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const [title, detail] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? ["Request Too Long", "The size of the request headers is too long."]
      : error.code === "HPE_INVALID_METHOD"
        ? ["Invalid Verb", "The request verb is invalid."]
        : error.code === "HPE_INVALID_URL"
          ? ["Invalid URL", "The request URL is invalid."]
          : ["Bad Request", "The request is badly formed."];
  const html =
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n' +
    `<HTML><HEAD><TITLE>Bad Request</TITLE>\r\n<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n` +
    `<BODY><h2>Bad Request - ${title}</h2>\r\n<hr><p>HTTP Error 400. ${detail}</p>\r\n</BODY></HTML>\r\n`;
  socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/html; charset=us-ascii\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(html)}\r\n\r\n${html}`);
}
