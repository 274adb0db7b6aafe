// Counts the HTTP requests the in-process emulator answers, by kind and status, through Node's
// built-in http.server diagnostics channel: the bench observes the wire from the server side
// without touching the emulator's code or trusting the client's own accounting.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import { StringDecoder } from "node:string_decoder";

export interface HttpCounts {
  readonly total: number;
  /** Entra ID token requests. */
  readonly token: number;
  /** Web API reads: GET/HEAD, and $batch requests whose parts are all GET/HEAD. */
  readonly reads: number;
  /** Web API requests that write rows: bulk actions, $batch with a part that writes, single writes. */
  readonly writes: number;
  readonly bulkWrites: number;
  readonly batchWrites: number;
  readonly singleWrites: number;
  /** Answers by status code, every request. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Write requests answered 2xx. */
  readonly writesOk: number;
  readonly answered429: number;
  /** When each 429 was answered, seconds after the first Web API request arrived. */
  readonly answered429At: readonly number[];
}

type Kind = "token" | "read" | "bulk" | "batch" | "single" | "other";

const BULK_ACTION = /\/Microsoft\.Dynamics\.CRM\.(Create|Update|Upsert|Delete)Multiple(\?|$)/;

function kindOf(method: string, url: string): Kind {
  const path = url.split("?")[0] ?? "";
  if (path.endsWith("/oauth2/v2.0/token")) return "token";
  if (!path.includes("/api/data/")) return "other";
  if (method === "GET" || method === "HEAD") return "read";
  if (BULK_ACTION.test(path)) return "bulk";
  if (path.endsWith("/$batch") || path.endsWith("/%24batch")) return "batch";
  return "single";
}

/** The request line that opens an operation of a $batch (in a changeset or not): `GET https://… HTTP/1.1`. */
const PART_REQUEST_LINE = /^([A-Z]+) \S+ HTTP\/\d(?:\.\d)?$/;

/**
 * Reads a $batch body as it arrives and tells a read from a write: a batch whose operations are
 * all GET/HEAD (the connector's read of a batch's current rows, when its URL is too long for a
 * GET) only reads. The scan looks at each line's start for an operation's request line and stops
 * at the first one that is not a read, so a write batch is settled on its first operation and the
 * in-process emulator's core is not spent scanning a thousand upserts.
 */
export class BatchBodyScanner {
  readonly #decoder = new StringDecoder("utf8");
  #carry = "";
  #reads = 0;
  #writes = false;
  #ended = false;

  /** The next piece of the body. */
  feed(chunk: Buffer | string): void {
    if (this.#writes || this.#ended) return;
    const text = this.#carry + (typeof chunk === "string" ? chunk : this.#decoder.write(chunk));
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0 && !this.#writes; nl = text.indexOf("\n", start)) {
      this.#line(text.slice(start, nl));
      start = nl + 1;
    }
    this.#carry = this.#writes ? "" : text.slice(start);
  }

  /** The body is complete. */
  end(): void {
    if (this.#ended) return;
    if (!this.#writes) this.#line(this.#carry + this.#decoder.end());
    this.#carry = "";
    this.#ended = true;
  }

  /** "read" when at least one operation was seen and every one seen is a GET/HEAD; otherwise "batch" (a write). */
  get kind(): "read" | "batch" {
    return !this.#writes && this.#reads > 0 ? "read" : "batch";
  }

  #line(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    // Cheap test first: most lines are headers, boundaries or JSON.
    if (!line.includes(" HTTP/")) return;
    const method = PART_REQUEST_LINE.exec(line)?.[1];
    if (method === undefined) return;
    if (method === "GET" || method === "HEAD") this.#reads++;
    else this.#writes = true;
  }
}

/** The kind of a whole $batch body: "read" when every operation in it is a GET/HEAD. */
export function batchKind(body: string): "read" | "batch" {
  const scanner = new BatchBodyScanner();
  scanner.feed(body);
  scanner.end();
  return scanner.kind;
}

interface StartMessage {
  readonly request: IncomingMessage;
}
interface FinishMessage {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

export class HttpCounter {
  #total = 0;
  #token = 0;
  #reads = 0;
  #bulk = 0;
  #batch = 0;
  #single = 0;
  #writesOk = 0;
  #firstApiAt: number | undefined;
  readonly #answered429At: number[] = [];
  readonly #byStatus = new Map<number, number>();
  /** Each $batch request's kind: a scanner until its body has been read, then the kind counted. */
  readonly #batches = new WeakMap<IncomingMessage, BatchBodyScanner | Kind>();

  #count(kind: Kind): void {
    switch (kind) {
      case "token":
        this.#token++;
        break;
      case "read":
        this.#reads++;
        break;
      case "bulk":
        this.#bulk++;
        break;
      case "batch":
        this.#batch++;
        break;
      case "single":
        this.#single++;
        break;
      case "other":
        break;
    }
  }

  /** A $batch's kind, counted once: when its body ends, or at its answer if the body never ended (a 429 answered unread). */
  #settle(request: IncomingMessage): Kind {
    const seen = this.#batches.get(request);
    if (seen === undefined) return "batch";
    if (typeof seen === "string") return seen;
    seen.end();
    const kind = seen.kind;
    this.#batches.set(request, kind);
    this.#count(kind);
    return kind;
  }

  readonly #onStart = (message: unknown): void => {
    const { request } = message as StartMessage;
    this.#total++;
    const kind = kindOf(request.method ?? "", request.url ?? "");
    if (kind !== "token" && kind !== "other") this.#firstApiAt ??= performance.now();
    if (kind !== "batch") {
      this.#count(kind);
      return;
    }
    // The body is still to come: watch it as the HTTP parser hands it to the request stream,
    // without reading the stream (the emulator does) or changing how it flows.
    const scanner = new BatchBodyScanner();
    this.#batches.set(request, scanner);
    const push = request.push.bind(request);
    request.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk === null) this.#settle(request);
      else if (typeof chunk === "string" || Buffer.isBuffer(chunk)) scanner.feed(chunk);
      return push(chunk, encoding);
    };
  };
  readonly #onFinish = (message: unknown): void => {
    const { request, response } = message as FinishMessage;
    const status = response.statusCode;
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
    if (status === 429) this.#answered429At.push((performance.now() - (this.#firstApiAt ?? performance.now())) / 1000);
    const first = kindOf(request.method ?? "", request.url ?? "");
    const kind = first === "batch" ? this.#settle(request) : first;
    if (status >= 200 && status < 300 && (kind === "bulk" || kind === "batch" || kind === "single")) this.#writesOk++;
  };

  /** Starts counting every HTTP(S) server in this process; call stop() when the scenario ends. */
  start(): this {
    subscribe("http.server.request.start", this.#onStart);
    subscribe("http.server.response.finish", this.#onFinish);
    return this;
  }

  stop(): HttpCounts {
    unsubscribe("http.server.request.start", this.#onStart);
    unsubscribe("http.server.response.finish", this.#onFinish);
    return this.counts();
  }

  counts(): HttpCounts {
    return {
      total: this.#total,
      token: this.#token,
      reads: this.#reads,
      writes: this.#bulk + this.#batch + this.#single,
      bulkWrites: this.#bulk,
      batchWrites: this.#batch,
      singleWrites: this.#single,
      byStatus: Object.fromEntries([...this.#byStatus].map(([k, v]) => [String(k), v])),
      writesOk: this.#writesOk,
      answered429: this.#byStatus.get(429) ?? 0,
      answered429At: [...this.#answered429At],
    };
  }
}
