// The HTTPS front of the emulator: TLS and keep-alive, Entra ID, then for the Web API, in order:
// fault injection (faults.ts), the bearer gate (bearer.ts), admission under the service protection
// limits (admission.ts, the only door to limits.ts), the operation or the $batch (batch-run.ts), and
// the answer with the headers Dataverse adds to every one. Counters live in stats.ts, socket-level
// reading and writing in sockets.ts. Every Web API operation (each $batch part included) goes to
// DataService.handle.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { randomBytes, randomUUID } from "node:crypto";
import type { AppRegistration, Caller, DataService, ServiceRequest } from "./types.js";
import { type DataverseError, errors } from "./errors.js";
import { errorResponse, JSON_CONTENT_TYPE } from "./responses.js";
import { TokenService } from "./tokens.js";
import { basicClientId, handleEntra, type EntraContext } from "./entra.js";
import type { LimitsConfig, Ticket } from "./limits.js";
import type { FederationIssuer } from "./federation.js";
import { FaultInjector, faultBody, type FaultController, type FaultRule } from "./faults.js";
import { apiRootOf } from "./api-root.js";
import { AdmissionControl, isWrite, sleep, withCost } from "./admission.js";
import { BearerGate } from "./bearer.js";
import { runBatch } from "./batch-run.js";
import { workOf, type PluginTimes } from "./cost.js";
import { type EmulatorStats, StatsCounter } from "./stats.js";
import { EmulatorError, errorCause } from "./emulator-error.js";
import { type Answer, MAX_BODY_BYTES, answerMalformed, keepParserOnStream, lowerHeaders, readBody, toAnswer, writeAnswer } from "./sockets.js";

export interface TlsMaterial {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
}

export interface EmulatorServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly tenantId: string;
  readonly organizationId: string;
  readonly businessUnitId: string;
  readonly apps: readonly AppRegistration[];
  /** Issuers trusted for workload identity federation (entra.ts). */
  readonly issuers?: readonly FederationIssuer[];
  readonly service: DataService;
  readonly limits: LimitsConfig;
  readonly faults: readonly FaultRule[];
  readonly tokenLifetimeSeconds: number;
  readonly latency: boolean;
  /** Stderr logger; the server never writes stdout. */
  readonly log: (line: string) => void;
  readonly now?: () => number;
  /** Synchronous plug-in time the environment declares, for the cost model. */
  readonly plugins?: PluginTimes;
}

function errorAnswer(e: DataverseError, extra: Record<string, string> = {}): Answer {
  return toAnswer(errorResponse(e, undefined, extra));
}

export class EmulatorServer {
  readonly faults: FaultController;
  readonly #faults: FaultInjector;
  readonly #admission: AdmissionControl;
  readonly #gate: BearerGate;
  readonly #stats = new StatsCounter();
  readonly #options: EmulatorServerOptions;
  readonly #now: () => number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #affinity = randomBytes(32).toString("hex");
  #origin = "";
  #port = 0;
  #tokens: TokenService;
  #entra: EntraContext | undefined;

  constructor(options: EmulatorServerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#gate = new BearerGate(options.apps, options.businessUnitId, options.organizationId);
    // The token service needs the origin, known only once listening; created with a placeholder
    // and replaced in listen().
    this.#tokens = this.#makeTokens("https://0.0.0.0:0");
    this.#admission = new AdmissionControl(options.limits, options.latency, this.#now);
    this.#faults = new FaultInjector(options.faults, (clientId) => this.#tokens.revoke(clientId));
    this.faults = this.#faults;
    this.#server = createServer(
      { key: options.tls.key, cert: options.tls.cert, keepAlive: true, noDelay: true },
      (req, res) => {
        this.#onRequest(req, res).catch((error: unknown) => this.#crash(res, error));
      },
    );
    // Keep-alive long enough that clients reuse connections between batches.
    this.#server.keepAliveTimeout = 65_000;
    this.#server.headersTimeout = 66_000;
    this.#server.requestTimeout = 0;
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    this.#server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
      // A client hanging up is routine; anything else is a request Node's parser refused, worth a line.
      if (error.code !== "ECONNRESET") this.#options.log(`emulator: malformed request refused: ${errorCause(error)}`);
      answerMalformed(error, socket);
    });
    // Node's HTTP server treats a request that arrives while the previous answer is still above the
    // socket's high-water mark as a pipelining flood: it pauses the socket and the parser until the
    // answer drains. Keep-alive clients hit this by race after a large answer (a $batch of 1000
    // parts answers ~400 KB): the client has read every byte and sent its next request before this
    // process ran the write callback that clears the mark. Over TLS, when the parser consumes the
    // socket's handle directly (Node's fast path), pausing does not stop the TLS records already
    // decrypted from reaching the paused parser, which fails with HPE_PAUSED ("Parse Error: Paused")
    // mid-body; the connection is then closed and the client sees a reset. A `data` listener makes
    // Node unconsume the handle (its http server does so for any `data`/`readable` listener), so
    // bytes go through the socket's stream, which buffers them while paused as intended.
    this.#server.on("secureConnection", (socket: Socket) => {
      socket.on("data", keepParserOnStream);
    });
    this.#server.on("tlsClientError", () => {
      // A client that does not trust our CA hangs up during the handshake; nothing to answer.
    });
  }

  #makeTokens(origin: string): TokenService {
    return new TokenService({
      tenantId: this.#options.tenantId,
      audience: origin,
      issuer: `${origin}/${this.#options.tenantId}/`,
      lifetimeSeconds: this.#options.tokenLifetimeSeconds,
      now: this.#now,
    });
  }

  get origin(): string {
    return this.#origin;
  }

  get port(): number {
    return this.#port;
  }

  get tokenService(): TokenService {
    return this.#tokens;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new EmulatorError("EMULATOR_START", "emulator: server has no TCP address");
    this.#port = address.port;
    const host = this.#options.host.includes(":") ? `[${this.#options.host}]` : this.#options.host;
    this.#origin = `https://${host}:${this.#port}`;
    this.#tokens = this.#makeTokens(this.#origin);
    this.#entra = {
      tenantId: this.#options.tenantId,
      apps: this.#options.apps,
      origin: this.#origin,
      port: this.#port,
      tokens: this.#tokens,
      now: this.#now,
      issuers: this.#options.issuers ?? [],
    };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  stats(): EmulatorStats {
    return this.#stats.snapshot({ ...this.#options.limits, latency: this.#options.latency });
  }

  // ---------------------------------------------------------------------------------------------

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    const method = (req.method ?? "GET").toUpperCase();
    const declared = Number(req.headers["content-length"] ?? "0");
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      // Do not read a body we will refuse; close so the client stops sending.
      res.shouldKeepAlive = false;
      this.#send(res, undefined, errorAnswer(errors.tooLarge()), undefined);
      return;
    }
    const queryAt = target.indexOf("?");
    const rawPath = queryAt < 0 ? target : target.slice(0, queryAt);
    const rawQuery = queryAt < 0 ? "" : target.slice(queryAt + 1);

    const apiRoot = apiRootOf(rawPath);
    if (apiRoot !== undefined) {
      // Admitted on its headers, before its body is read: an upload in progress holds its slot.
      await this.#webApi(req, res, method, target, rawPath.slice(apiRoot.length), rawQuery, apiRoot);
      return;
    }
    const body = await readBody(req);
    if (body === undefined) {
      res.shouldKeepAlive = false;
      this.#send(res, undefined, errorAnswer(errors.tooLarge()), undefined);
      return;
    }
    await this.#entraRequest(req, res, method, target, rawPath, rawQuery, body);
  }

  async #entraRequest(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    target: string,
    rawPath: string,
    rawQuery: string,
    body: string,
  ): Promise<void> {
    let pathname: string;
    try {
      pathname = decodeURIComponent(rawPath);
    } catch {
      pathname = rawPath;
    }
    const contentType = req.headers["content-type"];
    const form = contentType !== undefined && /x-www-form-urlencoded/i.test(contentType) ? new URLSearchParams(body) : undefined;
    const authorization = req.headers.authorization;
    const formClient = form?.get("client_id") || basicClientId(authorization);
    const fault = this.#faults.pick({ method, target, clientId: formClient });
    const handled = await this.#applyFault(res, fault, formClient);
    if (handled === "answered") return;
    const entra = this.#entra;
    const answer = entra === undefined ? undefined : handleEntra(entra, method, pathname, new URLSearchParams(rawQuery), contentType, body, authorization);
    if (answer === undefined) {
      const segment = pathname.split("/").filter((s) => s !== "").pop() ?? "";
      this.#send(res, formClient, errorAnswer(errors.resourceNotFound(segment)), undefined, handled === "reset" ? fault : undefined);
      return;
    }
    if (answer.status === 200 && pathname.endsWith("/token")) this.#stats.tokenIssued();
    this.#send(res, answer.clientId, { status: answer.status, headers: { ...answer.headers }, body: answer.body }, undefined, handled === "reset" ? fault : undefined, true);
  }

  /** Applies a picked fault; "answered" when the fault produced the whole answer (or none, for hang). */
  async #applyFault(res: ServerResponse, fault: FaultRule | undefined, clientId: string | undefined): Promise<"answered" | "reset" | "continue"> {
    if (fault === undefined) return "continue";
    this.#stats.faultFired();
    switch (fault.fault) {
      case "status": {
        const status = fault.status ?? 503;
        const retryAfter = fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) };
        const answer: Answer = { status, headers: { "content-type": JSON_CONTENT_TYPE, "odata-version": "4.0", ...retryAfter }, body: faultBody(fault, status) };
        this.#send(res, clientId, answer, undefined);
        return "answered";
      }
      case "throttle": {
        this.#stats.injected429();
        const retryAfter = fault.retryAfterSeconds ?? 1;
        const error = errors.throttled(fault.code ?? "0x80072322", fault.message ?? this.#admission.requestLimitMessage());
        this.#send(res, clientId, errorAnswer(error, { "retry-after": String(retryAfter) }), undefined);
        return "answered";
      }
      case "too-large":
        this.#send(res, clientId, errorAnswer(errors.tooLarge()), undefined);
        return "answered";
      case "hang":
        // The request is never answered; close() destroys the socket.
        this.#stats.request(clientId, 0);
        return "answered";
      case "delay":
        await sleep(fault.delayMs ?? 1000);
        return "continue";
      case "revoke-tokens":
        if (clientId !== undefined) this.#tokens.revoke(clientId);
        return "continue";
      case "reset":
        return "reset";
    }
  }

  async #webApi(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    target: string,
    path: string,
    query: string,
    apiRoot: string,
  ): Promise<void> {
    const headers = lowerHeaders(req);
    const bearer = BearerGate.bearerOf(headers["authorization"]);
    const check = bearer === undefined ? undefined : this.#tokens.verify(bearer);
    const clientId = check?.ok === true ? check.claims.appid : undefined;

    const fault = this.#faults.pick({ method, target, clientId });
    const applied = await this.#applyFault(res, fault, clientId);
    if (applied === "answered") return;
    const resetRule = applied === "reset" ? fault : undefined;

    // Checked again: revoke-tokens may have just invalidated this very token.
    const gate = this.#gate.pass(this.#tokens, bearer, headers);
    if (!gate.ok) {
      this.#send(res, clientId, gate.error === undefined ? this.#unauthorized() : errorAnswer(gate.error), undefined, resetRule);
      return;
    }

    const admitted = this.#admission.admit(gate.app.clientId);
    if (!admitted.ok) {
      this.#stats.throttled(admitted.kind);
      this.#send(res, clientId, errorAnswer(admitted.error, { "retry-after": String(admitted.retryAfterSeconds) }), undefined, resetRule);
      return;
    }
    const ticket = admitted.ticket;
    let outcome: { answer: Answer; executionMs: number };
    try {
      const body = await readBody(req);
      if (body === undefined) {
        res.shouldKeepAlive = false;
        outcome = { answer: errorAnswer(errors.tooLarge()), executionMs: 0 };
      } else {
        outcome = this.#execute(method, path, query, headers, body, gate.caller, `${this.#origin}${apiRoot}`);
      }
    } catch (error) {
      this.#admission.release(ticket);
      throw error;
    }
    // The data service has just run it: its execution time is booked as it starts, so it counts
    // against the window (and the headers) while --latency holds its answer.
    this.#admission.start(ticket, outcome.executionMs);
    this.#stats.execution(gate.app.clientId, outcome.executionMs);
    await this.#admission.finish(ticket, outcome.executionMs);
    this.#send(res, clientId, outcome.answer, ticket, resetRule);
  }

  /** Runs one admitted Web API request: a $batch or a single operation; a throw becomes a 500. */
  #execute(method: string, path: string, query: string, headers: Readonly<Record<string, string>>, body: string, caller: Caller, serviceRoot: string): { answer: Answer; executionMs: number } {
    try {
      if (method === "POST" && (path === "$batch" || path === "%24batch")) {
        const outcome = runBatch(
          { service: this.#options.service, admission: this.#admission, log: this.#options.log, ...(this.#options.plugins === undefined ? {} : { plugins: this.#options.plugins }) },
          headers,
          body,
          caller,
          serviceRoot,
        );
        this.#stats.records("batch", outcome.records);
        return outcome;
      }
      const request: ServiceRequest = { method, path, query, headers, body, caller, serviceRoot };
      const response = withCost(method, this.#options.service.handle(request));
      if (response.status < 300 && isWrite(method) && response.cost !== undefined) {
        this.#stats.records(response.cost.bulk ? "bulk" : "single", response.cost.records);
      }
      const work = workOf({ method, path, headers, response }, this.#options.plugins);
      return { answer: toAnswer(response), executionMs: this.#admission.charge([work]) };
    } catch (error) {
      this.#options.log(`emulator: service failed on ${method} ${path.split("(")[0] ?? ""}: ${errorCause(error)}`);
      return { answer: errorAnswer(errors.internal()), executionMs: this.#admission.charge([]) };
    }
  }

  #unauthorized(): Answer {
    const tenant = this.#options.tenantId;
    return {
      status: 401,
      headers: {
        "www-authenticate": `Bearer authorization_uri=${this.#origin}/${tenant}/oauth2/authorize, resource_id=${this.#origin}`,
      },
      body: "",
    };
  }

  #send(res: ServerResponse, clientId: string | undefined, answer: Answer, ticket: Ticket | undefined, reset?: FaultRule, entra = false): void {
    this.#stats.request(clientId, answer.status);
    if (entra) {
      writeAnswer(res, answer.status, { ...answer.headers }, answer.body, reset);
      return;
    }
    const requestId = randomUUID();
    const headers: Record<string, string | string[]> = {
      ...answer.headers,
      req_id: requestId,
      "x-ms-service-request-id": requestId,
      "x-ms-dop-hint": this.#admission.dopHint,
      // Clients aiming for throughput should ignore it (LEARN/api-limits "Remove the affinity cookie").
      "set-cookie": [
        `ARRAffinity=${this.#affinity}; path=/; secure; HttpOnly`,
        `ReqClientId=${requestId}; expires=Fri, 01-Jan-2100 00:00:00 GMT; path=/; secure; HttpOnly`,
      ],
    };
    if (headers["odata-version"] === undefined && answer.headers["content-type"]?.startsWith("application/json; odata") === true) {
      headers["odata-version"] = "4.0";
    }
    if (ticket !== undefined) Object.assign(headers, this.#admission.rateLimitHeaders(ticket));
    writeAnswer(res, answer.status, headers, answer.body, reset);
  }

  #crash(res: ServerResponse, error: unknown): void {
    if (error instanceof EmulatorError && error.code === "EMULATOR_CLIENT_GONE") {
      res.destroy();
      return;
    }
    this.#options.log(`emulator: request failed: ${errorCause(error)}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    try {
      this.#send(res, undefined, errorAnswer(errors.internal()), undefined);
    } catch {
      res.destroy();
    }
  }
}
