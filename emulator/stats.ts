// What the emulator counts for tests and benchmarks: requests by client and status, throttling by
// kind, records by the way they came in, execution time charged, tokens and faults.
import type { LimitKind, LimitsConfig } from "./limits.js";

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

export class StatsCounter {
  #total = 0;
  readonly #byClient = new Map<string, number>();
  readonly #byStatus = new Map<number, number>();
  readonly #throttledByKind: Record<LimitKind, number> = { requests: 0, execution: 0, concurrency: 0 };
  #injected429 = 0;
  readonly #records = { bulk: 0, batch: 0, single: 0 };
  #executionMs = 0;
  readonly #executionByClient = new Map<string, number>();
  #tokensIssued = 0;
  #faultsFired = 0;

  /** One answer sent (status 0: none, the request hangs). */
  request(clientId: string | undefined, status: number): void {
    this.#total++;
    const key = clientId ?? "anonymous";
    this.#byClient.set(key, (this.#byClient.get(key) ?? 0) + 1);
    if (status > 0) this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1);
  }

  throttled(kind: LimitKind): void {
    this.#throttledByKind[kind]++;
  }

  injected429(): void {
    this.#injected429++;
  }

  records(way: "bulk" | "batch" | "single", count: number): void {
    this.#records[way] += count;
  }

  execution(clientId: string, ms: number): void {
    this.#executionMs += ms;
    this.#executionByClient.set(clientId, (this.#executionByClient.get(clientId) ?? 0) + ms);
  }

  tokenIssued(): void {
    this.#tokensIssued++;
  }

  faultFired(): void {
    this.#faultsFired++;
  }

  snapshot(model: LimitsConfig & { readonly latency: boolean }): EmulatorStats {
    const byKind = this.#throttledByKind;
    return {
      requests: {
        total: this.#total,
        byClient: Object.fromEntries(this.#byClient),
        byStatus: Object.fromEntries([...this.#byStatus].map(([k, v]) => [String(k), v])),
      },
      throttled: {
        total: byKind.requests + byKind.execution + byKind.concurrency + this.#injected429,
        byKind: { ...byKind },
        injected: this.#injected429,
      },
      records: { ...this.#records },
      executionMs: { total: this.#executionMs, byClient: Object.fromEntries(this.#executionByClient) },
      tokensIssued: this.#tokensIssued,
      faultsFired: this.#faultsFired,
      model,
    };
  }
}
