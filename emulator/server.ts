// The HTTPS front of the emulator: TLS, routing, Entra ID, bearer check, impersonation and bypass
// headers, service protection limits, fault injection and $batch framing. Every Web API operation
// (each $batch part included) goes to DataService.handle.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { randomBytes, randomUUID } from "node:crypto";
import type { AppRegistration, Caller, DataService, Privilege, ServiceRequest, ServiceResponse } from "./types.js";
import { TokenService } from "./tokens.js";
import { basicClientId, handleEntra, type EntraContext } from "./entra.js";
import type { FederationIssuer } from "./federation.js";
import { costOf, ServiceProtection, type LimitKind, type LimitsConfig, type Ticket } from "./limits.js";
import { FaultInjector, faultBody, type FaultController, type FaultRule } from "./faults.js";
import { executeBatch, formatBatchResponse, parseBatch, reasonPhrase, type BatchPart } from "./batch.js";

export const API_ROOT = "/api/data/v9.2/";

/**
 * Web API versions served. Learn's pages use v9.2 today and v9.0/v9.1 in older samples (the $batch
 * page's examples still say v9.1); Dataverse serves all of them with the same behaviour, and echoes
 * the version a request used in the URLs it returns.
 */
const API_ROOT_PATTERN = /^\/api\/data\/v9\.[012]\//;

function apiRootOf(path: string): string | undefined {
  return API_ROOT_PATTERN.exec(path)?.[0] ?? (/^\/api\/data\/v9\.[012]$/.test(path) ? `${path}/` : undefined);
}

export type EmulatorErrorCode = "EMULATOR_START" | "EMULATOR_CERTS" | "EMULATOR_UNKNOWN_CLIENT" | "EMULATOR_CLIENT_GONE";

/** Failures of the emulator itself (never of a request, which always gets an HTTP answer). */
export class EmulatorError extends Error {
  constructor(
    readonly code: EmulatorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "EmulatorError";
  }
}

/** Bodies above this get 413, as Dataverse answers oversized requests. */
export const MAX_BODY_BYTES = 128 * 1024 * 1024;

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
}

export interface EmulatorStats {
  readonly requests: {
    readonly total: number;
    readonly byClient: Readonly<Record<string, number>>;
    readonly byStatus: Readonly<Record<string, number>>;
  };
  readonly throttled: {
    readonly total: number;
    readonly byKind: Readonly<Record<LimitKind, number>>;
    /** 429s injected by fault rules (not counted in byKind). */
    readonly injected: number;
  };
  /** Records written successfully, by the way they came in. */
  readonly records: { readonly bulk: number; readonly batch: number; readonly single: number };
  /** Execution time the cost model charged, in ms (model time, not wall time). */
  readonly executionMs: { readonly total: number; readonly byClient: Readonly<Record<string, number>> };
  readonly tokensIssued: number;
  readonly faultsFired: number;
  /** What a benchmark needs to compute the theoretical maximum. */
  readonly model: LimitsConfig & { readonly latency: boolean };
}

interface MutableStats {
  total: number;
  byClient: Map<string, number>;
  byStatus: Map<number, number>;
  throttledByKind: Record<LimitKind, number>;
  injected429: number;
  bulk: number;
  batch: number;
  single: number;
  executionMs: number;
  executionByClient: Map<string, number>;
  tokensIssued: number;
  faultsFired: number;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = "application/json; odata.metadata=minimal";

function dataverseError(status: number, code: string, message: string, extra: Record<string, string> = {}): Answer {
  return {
    status,
    headers: { "content-type": JSON_TYPE, "odata-version": "4.0", ...extra },
    body: JSON.stringify({ error: { code, message } }),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isWrite(method: string): boolean {
  return method !== "GET" && method !== "HEAD";
}

function lowerHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

class EmulatorCaller implements Caller {
  constructor(
    readonly clientId: string,
    readonly systemUserId: string,
    readonly businessUnitId: string,
    readonly organizationId: string,
    private readonly privileges: Readonly<Record<string, readonly Privilege[]>>,
    private readonly special: readonly string[],
    /** Impersonation: effective rights are the intersection with the impersonated user's. */
    private readonly also?: Caller,
  ) {}

  can(table: string, privilege: Privilege): boolean {
    const own = (this.privileges[table]?.includes(privilege) ?? false) || (this.privileges["*"]?.includes(privilege) ?? false);
    return own && (this.also === undefined || this.also.can(table, privilege));
  }

  hasSpecial(privilege: string): boolean {
    return this.special.includes(privilege);
  }
}

export class EmulatorServer {
  readonly faults: FaultController;
  readonly #faults: FaultInjector;
  readonly #protection: ServiceProtection;
  readonly #options: EmulatorServerOptions;
  readonly #now: () => number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #apps = new Map<string, AppRegistration>();
  readonly #callers = new Map<string, EmulatorCaller>();
  readonly #affinity = randomBytes(32).toString("hex");
  #origin = "";
  #port = 0;
  #tokens: TokenService;
  #entra: EntraContext | undefined;
  readonly #stats: MutableStats = {
    total: 0,
    byClient: new Map(),
    byStatus: new Map(),
    throttledByKind: { requests: 0, execution: 0, concurrency: 0 },
    injected429: 0,
    bulk: 0,
    batch: 0,
    single: 0,
    executionMs: 0,
    executionByClient: new Map(),
    tokensIssued: 0,
    faultsFired: 0,
  };

  constructor(options: EmulatorServerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    for (const app of options.apps) this.#apps.set(app.clientId.toLowerCase(), app);
    // The token service needs the origin, known only once listening; created with a placeholder
    // and replaced in listen().
    this.#tokens = this.#makeTokens("https://0.0.0.0:0");
    this.#protection = new ServiceProtection(options.limits, this.#now);
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
    const s = this.#stats;
    return {
      requests: {
        total: s.total,
        byClient: Object.fromEntries(s.byClient),
        byStatus: Object.fromEntries([...s.byStatus].map(([k, v]) => [String(k), v])),
      },
      throttled: {
        total: s.throttledByKind.requests + s.throttledByKind.execution + s.throttledByKind.concurrency + s.injected429,
        byKind: { ...s.throttledByKind },
        injected: s.injected429,
      },
      records: { bulk: s.bulk, batch: s.batch, single: s.single },
      executionMs: { total: s.executionMs, byClient: Object.fromEntries(s.executionByClient) },
      tokensIssued: s.tokensIssued,
      faultsFired: s.faultsFired,
      model: { ...this.#options.limits, latency: this.#options.latency },
    };
  }

  // ---------------------------------------------------------------------------------------------

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    const method = (req.method ?? "GET").toUpperCase();
    const declared = Number(req.headers["content-length"] ?? "0");
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      // Do not read a body we will refuse; close so the client stops sending.
      res.shouldKeepAlive = false;
      this.#send(res, undefined, tooLarge(), undefined);
      return;
    }
    const body = await readBody(req);
    if (body === undefined) {
      res.shouldKeepAlive = false;
      this.#send(res, undefined, tooLarge(), undefined);
      return;
    }
    const queryAt = target.indexOf("?");
    const rawPath = queryAt < 0 ? target : target.slice(0, queryAt);
    const rawQuery = queryAt < 0 ? "" : target.slice(queryAt + 1);

    const apiRoot = apiRootOf(rawPath);
    if (apiRoot !== undefined) {
      await this.#webApi(req, res, method, target, rawPath.slice(apiRoot.length), rawQuery, body, apiRoot);
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
      this.#send(res, formClient, dataverseError(404, "0x8006088a", `Resource not found for the segment '${pathname.split("/").filter((s) => s !== "").pop() ?? ""}'.`), undefined, handled === "reset" ? fault : undefined);
      return;
    }
    if (answer.status === 200 && pathname.endsWith("/token")) this.#stats.tokensIssued++;
    this.#send(res, answer.clientId, { status: answer.status, headers: { ...answer.headers }, body: answer.body }, undefined, handled === "reset" ? fault : undefined, true);
  }

  /** Applies a picked fault; "answered" when the fault produced the whole answer (or none, for hang). */
  async #applyFault(res: ServerResponse, fault: FaultRule | undefined, clientId: string | undefined): Promise<"answered" | "reset" | "continue"> {
    if (fault === undefined) return "continue";
    this.#stats.faultsFired++;
    switch (fault.fault) {
      case "status": {
        const status = fault.status ?? 503;
        const retryAfter = fault.retryAfterSeconds === undefined ? {} : { "retry-after": String(fault.retryAfterSeconds) };
        const answer: Answer = { status, headers: { "content-type": JSON_TYPE, "odata-version": "4.0", ...retryAfter }, body: faultBody(fault, status) };
        this.#send(res, clientId, answer, undefined);
        return "answered";
      }
      case "throttle": {
        this.#stats.injected429++;
        const retryAfter = fault.retryAfterSeconds ?? 1;
        const answer = dataverseError(
          429,
          fault.code ?? "0x80072322",
          fault.message ?? `Number of requests exceeded the limit of ${this.#options.limits.maxRequests} over time window of ${this.#options.limits.windowSeconds} seconds.`,
          { "retry-after": String(retryAfter) },
        );
        this.#send(res, clientId, answer, undefined);
        return "answered";
      }
      case "too-large":
        this.#send(res, clientId, tooLarge(), undefined);
        return "answered";
      case "hang":
        // The request is never answered; close() destroys the socket.
        this.#count(clientId, 0);
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
    body: string,
    apiRoot: string,
  ): Promise<void> {
    const headers = lowerHeaders(req);
    const authorization = headers["authorization"];
    const bearer = authorization !== undefined && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : undefined;
    const check = bearer === undefined ? undefined : this.#tokens.verify(bearer);
    const clientId = check?.ok === true ? check.claims.appid : undefined;

    const fault = this.#faults.pick({ method, target, clientId });
    const applied = await this.#applyFault(res, fault, clientId);
    if (applied === "answered") return;
    const resetRule = applied === "reset" ? fault : undefined;

    // revoke-tokens may have just invalidated this very token.
    const verified = bearer === undefined ? undefined : this.#tokens.verify(bearer);
    if (verified === undefined || !verified.ok) {
      this.#send(res, clientId, this.#unauthorized(), undefined, resetRule);
      return;
    }
    const app = this.#apps.get(verified.claims.appid.toLowerCase());
    if (app?.applicationUser === undefined) {
      this.#send(res, clientId, dataverseError(403, "0x80072560", "The user is not a member of the organization."), undefined, resetRule);
      return;
    }
    let caller: Caller = this.#callerFor(app);

    const impersonation = this.#impersonate(caller, headers);
    if ("answer" in impersonation) {
      this.#send(res, clientId, impersonation.answer, undefined, resetRule);
      return;
    }
    caller = impersonation.caller;
    const bypass = headers["mscrm.bypassbusinesslogicexecution"];
    if (bypass !== undefined && !caller.hasSpecial("prvBypassCustomBusinessLogic")) {
      // The docs require prvBypassCustomBusinessLogic but do not quote the error; PrivilegeDenied is
      // what Dataverse uses for a missing privilege.
      this.#send(res, clientId, dataverseError(403, "0x80040220", "The user does not hold the necessary privileges. Missing privilege: prvBypassCustomBusinessLogic."), undefined, resetRule);
      return;
    }

    const admission = this.#protection.admit(app.clientId);
    if (!admission.ok) {
      this.#stats.throttledByKind[admission.kind]++;
      this.#send(res, clientId, dataverseError(429, admission.code, admission.message, { "retry-after": String(admission.retryAfterSeconds) }), undefined, resetRule);
      return;
    }
    const ticket = admission.ticket;
    let answer: Answer;
    let executionMs: number;
    try {
      const serviceRoot = `${this.#origin}${apiRoot}`;
      if (method === "POST" && (path === "$batch" || path === "%24batch")) {
        const outcome = this.#batch(headers, body, caller, serviceRoot);
        answer = outcome.answer;
        executionMs = outcome.executionMs;
      } else {
        const request: ServiceRequest = { method, path, query, headers, body, caller, serviceRoot };
        const response = withCost(method, this.#options.service.handle(request));
        answer = toAnswer(response);
        executionMs = costOf(this.#options.limits.cost, response.cost);
        if (response.status < 300 && isWrite(method) && response.cost !== undefined) {
          if (response.cost.bulk) this.#stats.bulk += response.cost.records;
          else this.#stats.single += response.cost.records;
        }
      }
    } catch (error) {
      this.#options.log(`emulator: service failed on ${method} ${path.split("(")[0] ?? ""}: ${errorCause(error)}`);
      answer = dataverseError(500, "0x80040216", "An unexpected error occurred.");
      executionMs = this.#options.limits.cost.requestMs;
    }
    if (this.#options.latency && executionMs > 0) await sleep(executionMs);
    ticket.finish(executionMs);
    this.#stats.executionMs += executionMs;
    this.#stats.executionByClient.set(app.clientId, (this.#stats.executionByClient.get(app.clientId) ?? 0) + executionMs);
    this.#send(res, clientId, answer, ticket, resetRule);
  }

  #callerFor(app: AppRegistration): EmulatorCaller {
    let caller = this.#callers.get(app.clientId);
    if (caller === undefined) {
      const user = app.applicationUser;
      caller = new EmulatorCaller(
        app.clientId,
        user?.systemUserId ?? "",
        this.#options.businessUnitId,
        this.#options.organizationId,
        user?.privileges ?? {},
        user?.specialPrivileges ?? [],
      );
      this.#callers.set(app.clientId, caller);
    }
    return caller;
  }

  /** CallerObjectId (Entra object id) and MSCRMCallerID (systemuserid), LEARN/impersonate-another-user-web-api. */
  #impersonate(caller: Caller, headers: Readonly<Record<string, string>>): { caller: Caller } | { answer: Answer } {
    const objectId = headers["callerobjectid"];
    const systemUserId = headers["mscrmcallerid"];
    if (objectId === undefined && systemUserId === undefined) return { caller };
    if (!caller.hasSpecial("prvActOnBehalfOfAnotherUser")) {
      // Documented requirement; the exact error text is not published.
      return {
        answer: dataverseError(403, "0x80040220", "The user does not hold the necessary privileges. Missing privilege: prvActOnBehalfOfAnotherUser."),
      };
    }
    const wanted = (objectId ?? systemUserId ?? "").toLowerCase();
    const target = [...this.#apps.values()].find((a) =>
      objectId !== undefined ? a.objectId.toLowerCase() === wanted : a.applicationUser?.systemUserId.toLowerCase() === wanted,
    );
    const user = target?.applicationUser;
    if (target === undefined || user === undefined) {
      // The docs are silent on an unknown impersonated user; a missing systemuser row is the plausible answer.
      return { answer: dataverseError(404, "0x80040217", `systemuser With Id = ${wanted} Does Not Exist`) };
    }
    const impersonated = this.#callerFor(target);
    return {
      caller: new EmulatorCaller(
        impersonated.clientId,
        user.systemUserId,
        this.#options.businessUnitId,
        this.#options.organizationId,
        user.privileges,
        user.specialPrivileges ?? [],
        caller,
      ),
    };
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

  #batch(headers: Readonly<Record<string, string>>, body: string, caller: Caller, serviceRoot: string): { answer: Answer; executionMs: number } {
    const cost = this.#options.limits.cost;
    const parsed = parseBatch(headers["content-type"], body);
    if (!parsed.ok) return { answer: dataverseError(parsed.status, parsed.code, parsed.message), executionMs: cost.requestMs };
    const continueOnError = /(^|[,;\s])odata\.continue-on-error(\s*=\s*true)?\s*($|[,;])/i.test(headers["prefer"] ?? "");
    const service = this.#options.service;
    const outcome = executeBatch(
      parsed.items,
      {
        run: (part, refs) => this.#runPart(part, refs, caller, serviceRoot),
        transaction: (fn) => service.transaction(fn),
      },
      continueOnError,
    );
    let executionMs = cost.requestMs;
    for (const response of outcome.responses) {
      if (response.cost !== undefined) {
        executionMs += costOf(cost, response.cost) - cost.requestMs;
      }
    }
    // Rows of a rolled-back changeset are not written; count only the parts that survived.
    for (const item of outcome.items) {
      const parts = item.kind === "response" ? [item.part] : item.parts;
      for (const p of parts) {
        const c = p.response.cost;
        if (c !== undefined && p.response.status < 300) this.#stats.batch += c.records;
      }
    }
    const formatted = formatBatchResponse(outcome.items);
    const preferenceApplied = continueOnError ? { "preference-applied": "odata.continue-on-error" } : {};
    return {
      answer: {
        status: outcome.status,
        headers: { "content-type": formatted.contentType, "odata-version": "4.0", ...preferenceApplied },
        body: formatted.body,
      },
      executionMs,
    };
  }

  #runPart(part: BatchPart, refs: ReadonlyMap<string, string> | undefined, caller: Caller, serviceRoot: string): ServiceResponse {
    let url = part.url;
    const ref = /^\$[A-Za-z0-9_.-]+/.exec(url)?.[0];
    if (ref !== undefined) {
      const resolved = refs?.get(ref);
      if (resolved !== undefined) url = resolved + url.slice(ref.length);
    }
    const relative = relativeToRoot(url, serviceRoot);
    if (relative === undefined) {
      return {
        status: 400,
        headers: { "content-type": JSON_TYPE, "odata-version": "4.0" },
        body: JSON.stringify({ error: { code: "0x0", message: `The request URI '${part.url}' is not valid for this service.` } }),
      };
    }
    const queryAt = relative.indexOf("?");
    const request: ServiceRequest = {
      method: part.method,
      path: queryAt < 0 ? relative : relative.slice(0, queryAt),
      query: queryAt < 0 ? "" : relative.slice(queryAt + 1),
      headers: part.headers,
      body: part.body,
      caller,
      serviceRoot,
      ...(refs === undefined ? {} : { contentIdRefs: refs }),
    };
    try {
      return withCost(part.method, this.#options.service.handle(request));
    } catch (error) {
      this.#options.log(`emulator: service failed on a $batch part: ${errorCause(error)}`);
      return {
        status: 500,
        headers: { "content-type": JSON_TYPE, "odata-version": "4.0" },
        body: JSON.stringify({ error: { code: "0x80040216", message: "An unexpected error occurred." } }),
      };
    }
  }

  #count(clientId: string | undefined, status: number): void {
    const s = this.#stats;
    s.total++;
    const key = clientId ?? "anonymous";
    s.byClient.set(key, (s.byClient.get(key) ?? 0) + 1);
    if (status > 0) s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
  }

  #send(res: ServerResponse, clientId: string | undefined, answer: Answer, ticket: Ticket | undefined, reset?: FaultRule, entra = false): void {
    this.#count(clientId, answer.status);
    if (entra) {
      this.#write(res, answer.status, { ...answer.headers }, answer.body, reset);
      return;
    }
    const requestId = randomUUID();
    const headers: Record<string, string | string[]> = {
      ...answer.headers,
      req_id: requestId,
      "x-ms-service-request-id": requestId,
      "x-ms-dop-hint": String(this.#options.limits.dopHint),
      // Clients aiming for throughput should ignore it (LEARN/api-limits "Remove the affinity cookie").
      "set-cookie": [
        `ARRAffinity=${this.#affinity}; path=/; secure; HttpOnly`,
        `ReqClientId=${requestId}; expires=Fri, 01-Jan-2100 00:00:00 GMT; path=/; secure; HttpOnly`,
      ],
    };
    if (headers["odata-version"] === undefined && answer.headers["content-type"]?.startsWith("application/json; odata") === true) {
      headers["odata-version"] = "4.0";
    }
    if (ticket !== undefined) Object.assign(headers, ticket.headers());
    this.#write(res, answer.status, headers, answer.body, reset);
  }

  #write(res: ServerResponse, status: number, headers: Record<string, string | string[]>, text: string, reset: FaultRule | undefined): void {
    const body = Buffer.from(text, "utf8");
    if (reset !== undefined) {
      resetMidResponse(res, status, headers, body, reset.resetAfterBytes);
      return;
    }
    if (status !== 204 && status !== 304) headers["content-length"] = String(body.length);
    res.writeHead(status, reasonPhrase(status), headers);
    res.end(status === 204 || status === 304 ? undefined : body);
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
      this.#send(res, undefined, dataverseError(500, "0x80040216", "An unexpected error occurred."), undefined);
    } catch {
      res.destroy();
    }
  }
}

function keepParserOnStream(): void {
  // The bytes are the HTTP server's; this listener only exists for its side effect (see secureConnection).
}

/**
 * What failed, for the log: the error's class, its code and, for Node's parser errors, llhttp's fixed
 * reason ("Paused"). Never `message` itself: JSON.parse and friends quote the input they choked on,
 * which is a request body; our own EmulatorError messages carry no request data and are kept.
 */
export function errorCause(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const parts = [error.name];
  const e = error as Error & { code?: unknown; reason?: unknown; syscall?: unknown };
  if (typeof e.code === "string" && /^[A-Z0-9_]{1,40}$/.test(e.code)) parts.push(e.code);
  if (typeof e.syscall === "string" && /^[a-z]{1,20}$/.test(e.syscall)) parts.push(`(${e.syscall})`);
  if (typeof e.reason === "string" && /^[A-Za-z ]{1,60}$/.test(e.reason)) parts.push(`"${e.reason}"`);
  if (error instanceof EmulatorError) parts.push(`: ${error.message}`);
  else if (e.code === "ECONNRESET" || e.code === "ECONNABORTED") parts.push("(the client closed the connection)");
  return parts.join(" ");
}

/**
 * Requests Node's HTTP parser refuses (an unknown verb, raw non-ASCII bytes in the target, headers
 * over 16 KiB, broken chunking) never reach the Web API. Dataverse sits behind IIS, whose HTTP.sys
 * refuses such requests itself with a small HTML page ("Bad Request - Invalid Verb", "HTTP Error
 * 400. The request verb is invalid."); Learn documents none of this, so the emulator answers in
 * HTTP.sys's well-known shape and closes the connection.
 */
function answerMalformed(error: Error & { code?: string }, socket: Duplex): void {
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

/** A successful single-row write that reports no cost counts as one non-bulk record. */
function withCost(method: string, response: ServiceResponse): ServiceResponse {
  if (response.cost !== undefined || !isWrite(method) || response.status >= 300) return response;
  return { ...response, cost: { records: 1, bulk: false } };
}

function tooLarge(): Answer {
  // Dataverse refuses oversized requests with 413; the docs do not publish the body.
  return dataverseError(413, "0x80040216", "The request is too large.");
}

function toAnswer(response: ServiceResponse): Answer {
  return { status: response.status, headers: { ...response.headers }, body: response.body ?? "" };
}

/** Reads the body as UTF-8; undefined once it exceeds MAX_BODY_BYTES. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
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

/** The part's URL relative to the service root, or undefined if it points elsewhere. */
function relativeToRoot(url: string, serviceRoot: string): string | undefined {
  if (url.startsWith(serviceRoot)) return url.slice(serviceRoot.length);
  if (/^https?:\/\//i.test(url)) {
    // Absolute URL of another host spelling (localhost vs 127.0.0.1): compare by path.
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    if (pathStart < 0) return undefined;
    url = url.slice(pathStart);
  }
  const root = apiRootOf(url);
  if (root !== undefined) return url.slice(root.length);
  if (url.startsWith("/")) return undefined;
  return url;
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
