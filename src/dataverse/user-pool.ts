// Dispatch over the application users: each request goes to the least loaded user that is not
// paused. Service protection limits are per user, so a 429 speaks for one user only.
import { RetryBudget } from "../http/retry.js";
import { ThrottlePool } from "../http/throttle.js";
import type { HttpResponse } from "../http/transport.js";
import { Answer } from "./answer.js";
import type { ClientRequest, DataverseClient } from "./client.js";
import type { WriteCounters } from "./write-stats.js";

/** A request answered 429 by every user in turn this many times is given up as transient. */
const MAX_REROUTES = 50;

/** What a request is sent for: operations, each with its own retry budget. */
export interface BudgetHolder {
  readonly budget: RetryBudget;
}

export class UserPool {
  readonly clients: readonly DataverseClient[];
  readonly #throttles: ThrottlePool;
  readonly #counts: WriteCounters;

  constructor(clients: readonly DataverseClient[], counts: WriteCounters) {
    if (clients.length === 0) throw new Error("createWriter needs at least one client");
    this.clients = clients;
    this.#throttles = new ThrottlePool(clients.map((c) => c.throttle));
    this.#counts = counts;
    // The main user signed in for WhoAmI; the others would otherwise sign in on their first request,
    // a second or more after the main user started (msal's discovery and token round trips).
    if (this.pooled) for (const c of clients.slice(1)) c.prefetchToken();
  }

  get pooled(): boolean {
    return this.clients.length > 1;
  }

  /** The service root's path, e.g. "/api/data/v9.2/", for $batch part URLs. */
  get rootPath(): string {
    return (this.clients[0] as DataverseClient).rootPath;
  }

  /** Reads as the least loaded user; a read gives no capacity signal, so its permit goes back at once. */
  async read<T>(fn: (client: DataverseClient) => Promise<T>): Promise<T> {
    const { index, permit } = await this.#throttles.acquire();
    permit.release({ kind: "neutral" });
    return fn(this.clients[index] as DataverseClient);
  }

  /**
   * Sends for `holders` with a budget they share: the least remaining one bounds the request, and
   * what it spent is charged to each. `tag` names the table for the counts.
   *
   * With one user the client retries a 429 itself, after its Retry-After. In a pool the client
   * pauses that user and hands the answer back, and the request goes at once to another user that
   * is not paused. Only when every user is paused does it wait, for the first pause to end, and that
   * wait is charged to the budget like a Retry-After. Without this, a request could sit out a 3 s
   * Retry-After while the other users idle with budget to spare (the tail of a pooled run).
   */
  async send(holders: readonly BudgetHolder[], tag: string | undefined, req: Omit<ClientRequest, "budget" | "permit" | "tag">): Promise<{ res: HttpResponse; client: DataverseClient }> {
    const budget = new RetryBudget(Math.min(...holders.map((h) => h.budget.remainingMs)));
    const pooled = this.pooled;
    const send: Omit<ClientRequest, "permit"> = {
      ...req,
      budget,
      ...(tag !== undefined ? { tag } : {}),
      ...(pooled ? { handBack: [...(req.handBack ?? []), 429] } : {}),
    };
    try {
      for (let rerouted = 0; ; rerouted++) {
        const { index, permit } = await this.#throttles.acquire();
        const client = this.clients[index] as DataverseClient;
        const res = await client.send({ ...send, permit });
        if (!pooled || res.status !== 429 || req.handBack?.includes(429) === true) return { res, client };
        const waitMs = Math.min(...this.#throttles.throttles.map((t) => t.pauseRemainingMs));
        if (rerouted >= MAX_REROUTES || !budget.tryCharge(waitMs)) throw new Answer(res).toError(req.method, client.resolve(req.path), true);
        this.#counts.resent(tag);
      }
    } finally {
      for (const h of holders) h.budget.charge(budget.spentMs);
    }
  }
}
