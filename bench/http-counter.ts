// Counts the HTTP requests the in-process emulator answers, by kind and status, through Node's
// built-in http.server diagnostics channel: the bench observes the wire from the server side
// without touching the emulator's code or trusting the client's own accounting.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface HttpCounts {
  readonly total: number;
  /** Entra ID token requests. */
  readonly token: number;
  /** Web API reads (GET/HEAD). */
  readonly reads: number;
  /** Web API requests that write rows: bulk actions, $batch, single writes. */
  readonly writes: number;
  readonly bulkWrites: number;
  readonly batchWrites: number;
  readonly singleWrites: number;
  /** Answers by status code, every request. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Write requests answered 2xx. */
  readonly writesOk: number;
  readonly answered429: number;
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
  readonly #byStatus = new Map<number, number>();
  readonly #onStart = (message: unknown): void => {
    const { request } = message as StartMessage;
    this.#total++;
    switch (kindOf(request.method ?? "", request.url ?? "")) {
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
  };
  readonly #onFinish = (message: unknown): void => {
    const { request, response } = message as FinishMessage;
    const status = response.statusCode;
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
    const kind = kindOf(request.method ?? "", request.url ?? "");
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
    };
  }
}
