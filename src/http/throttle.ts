// Adaptive concurrency for one sender (slow start, then AIMD): a permit per request in flight, a
// limit that grows on healthy answers and shrinks on overload, and a pause every send waits out after a 429. A pool
// hands work to whichever sender has room, so a 429 for one pauses only that one.
import type { Clock } from "./clock.js";

export interface ThrottleOptions {
  readonly clock: Clock;
  /** Starting limit, e.g. x-ms-dop-hint. */
  readonly initial: number;
  /** Upper bound. */
  readonly max: number;
  readonly min?: number;
  /**
   * Latency (per unit of work) above this multiple of the best recent latency counts as
   * "rising" and shrinks the limit.
   */
  readonly latencyTolerance?: number;
  readonly label?: string;
}

export type PermitOutcome =
  /**
   * A healthy answer. `units` normalises latency for requests of different sizes (rows); without
   * `latencyMs` the answer counts toward growth but says nothing about latency (e.g. metadata reads,
   * whose cost is unlike a write's).
   */
  | { readonly kind: "ok"; readonly latencyMs?: number; readonly units?: number }
  /** 429: halve and pause every send of this user for the server's Retry-After. */
  | { readonly kind: "throttled"; readonly retryAfterMs: number }
  /** 5xx, timeouts, resets: shrink, no pause (the retry layer backs off). */
  | { readonly kind: "overloaded" }
  /** Anything else (4xx on the record, cancelled): no signal about capacity. */
  | { readonly kind: "neutral" };

/** Leave to send one request; released with what its answer says about capacity. */
export interface Permit {
  release(outcome: PermitOutcome): void;
}

export interface ThrottleStats {
  readonly label: string;
  readonly limit: number;
  readonly inFlight: number;
  readonly throttled429: number;
  readonly pausedMs: number;
  readonly paused: boolean;
}

export class Throttle {
  readonly label: string;
  readonly #clock: Clock;
  readonly #max: number;
  readonly #min: number;
  readonly #tolerance: number;
  #limit: number;
  #inFlight = 0;
  #pausedUntil = 0;
  #pausedMs = 0;
  #throttled = 0;
  /** Successes counted toward the next +1; one full window of `limit` successes grows by one. */
  #credit = 0;
  /**
   * Bumped on each decrease: answers to requests sent in an earlier epoch carry no new information.
   * Epoch 0, before the first sign of overload (a 429, a 5xx, latency rising), is slow start: every
   * healthy answer grows the limit by one, so it doubles with each round of answers (as TCP ramps
   * up) and a sync starting at the server's dop hint reaches `max` within a few round trips instead
   * of one full window per step. After the first decrease, growth is additive.
   */
  #epoch = 0;
  /** Answers since the last decrease: latency may shrink the limit at most once per window. */
  #sinceDecrease = 0;
  #ewma: number | undefined;
  #best: number | undefined;
  #waiters: (() => void)[] = [];
  #wakeScheduled = false;

  constructor(options: ThrottleOptions) {
    this.#clock = options.clock;
    this.#max = Math.max(1, options.max);
    this.#min = Math.max(1, Math.min(options.min ?? 1, this.#max));
    this.#tolerance = options.latencyTolerance ?? 2;
    this.#limit = clamp(Math.floor(options.initial), this.#min, this.#max);
    this.label = options.label ?? "user";
  }

  get limit(): number {
    return this.#limit;
  }
  get inFlight(): number {
    return this.#inFlight;
  }
  get paused(): boolean {
    return this.#clock.now() < this.#pausedUntil;
  }
  /** Milliseconds until sends may resume (0 when not paused). */
  get pauseRemainingMs(): number {
    return Math.max(0, this.#pausedUntil - this.#clock.now());
  }

  stats(): ThrottleStats {
    return {
      label: this.label,
      limit: this.#limit,
      inFlight: this.#inFlight,
      throttled429: this.#throttled,
      pausedMs: this.#pausedMs,
      paused: this.paused,
    };
  }

  /** A permit now, or undefined when full or paused. */
  tryAcquire(): Permit | undefined {
    if (this.paused || this.#inFlight >= this.#limit) return undefined;
    this.#inFlight++;
    const epoch = this.#epoch;
    let released = false;
    return {
      release: (outcome) => {
        if (released) return;
        released = true;
        this.#inFlight--;
        this.#onOutcome(outcome, epoch);
        this.#notify();
      },
    };
  }

  /** Waits for a free permit (backpressure for the caller). */
  async acquire(signal?: AbortSignal): Promise<Permit> {
    for (;;) {
      const permit = this.tryAcquire();
      if (permit !== undefined) return permit;
      await this.changed(signal);
    }
  }

  /** Resolves on the next release, limit change or end of pause; a hint to try again. */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const waiter = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#scheduleWake();
    });
  }

  /**
   * Starts the limit at n (within min/max): the server's x-ms-dop-hint once it is known, lower or
   * higher than the default the throttle was made with. Growth and back-off then go on from there.
   */
  startAt(n: number): void {
    const target = clamp(Math.floor(n), this.#min, this.#max);
    if (target === this.#limit) return;
    this.#limit = target;
    this.#credit = 0;
    this.#notify();
  }

  /** Pause every send of this user for at least ms (the pause only ever extends). */
  pause(ms: number): void {
    const now = this.#clock.now();
    const until = now + Math.max(0, ms);
    if (until > this.#pausedUntil) {
      // Add ms itself when not paused yet: (now + ms) - now loses a bit in floating point.
      this.#pausedMs += this.#pausedUntil <= now ? Math.max(0, ms) : until - this.#pausedUntil;
      this.#pausedUntil = until;
    }
    this.#scheduleWake();
  }

  #onOutcome(outcome: PermitOutcome, epoch: number): void {
    const stale = epoch < this.#epoch;
    switch (outcome.kind) {
      case "ok": {
        this.#sinceDecrease++;
        if (outcome.latencyMs === undefined) {
          this.#grow();
          return;
        }
        const per = outcome.latencyMs / Math.max(1, outcome.units ?? 1);
        this.#ewma = this.#ewma === undefined ? per : this.#ewma * 0.8 + per * 0.2;
        // The baseline follows the best latency seen but drifts up slowly, so a permanent change
        // in the server's speed (a bigger table, plug-ins) is eventually accepted as normal.
        this.#best = this.#best === undefined ? per : Math.min(per, this.#best * 1.01);
        if (this.#ewma > this.#best * this.#tolerance && this.#ewma - this.#best > 5) {
          if (!stale && this.#sinceDecrease >= this.#limit) this.#decrease(0.75);
          return;
        }
        this.#grow();
        return;
      }
      case "throttled":
        this.#throttled++;
        this.pause(outcome.retryAfterMs);
        if (!stale) this.#decrease(0.5);
        return;
      case "overloaded":
        if (!stale) this.#decrease(0.75);
        return;
      case "neutral":
        return;
    }
  }

  #grow(): void {
    if (this.#epoch === 0) {
      if (this.#limit < this.#max) this.#limit++;
      return;
    }
    this.#credit++;
    if (this.#credit >= this.#limit) {
      this.#credit = 0;
      if (this.#limit < this.#max) this.#limit++;
    }
  }

  #decrease(factor: number): void {
    this.#limit = Math.max(this.#min, Math.floor(this.#limit * factor));
    this.#credit = 0;
    this.#epoch++;
    this.#sinceDecrease = 0;
    // After a decrease the old latency average describes the overloaded state; start afresh.
    this.#ewma = undefined;
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #scheduleWake(): void {
    if (this.#wakeScheduled || this.#waiters.length === 0) return;
    // The caller decided it was paused on an earlier clock read; the pause may have ended since.
    // One read here, and when it has ended, wake the waiters if there is room (a full throttle is
    // woken by the next release instead; waking it now would only spin).
    const remaining = this.#pausedUntil - this.#clock.now();
    if (remaining <= 0) {
      if (this.#inFlight < this.#limit) this.#notify();
      return;
    }
    this.#wakeScheduled = true;
    void this.#clock.sleep(remaining).then(() => {
      this.#wakeScheduled = false;
      if (this.paused) this.#scheduleWake();
      else this.#notify();
    });
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Number.isFinite(n) ? n : lo));
}

/**
 * Several users' throttles: `acquire` returns a permit from a user that has room and is not paused,
 * the least loaded one (in flight relative to its limit), ties taken in turn.
 *
 * Taking turns matters when the producer, not the users, is the bottleneck (one request in flight
 * at a time, e.g. while the first records are read): every user is then idle at each pick, and a
 * fixed tie-break sent every request to the first user, which spent its service-protection budget
 * (and met its 429s) while the others had sent nothing. Limits are per user, so an even split is
 * what lets each user's budget carry its share.
 */
export class ThrottlePool {
  #next = 0;

  constructor(readonly throttles: readonly Throttle[]) {
    if (throttles.length === 0) throw new Error("ThrottlePool needs at least one throttle");
  }

  tryAcquire(): { index: number; permit: Permit } | undefined {
    const n = this.throttles.length;
    let bestIndex = -1;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      const i = (this.#next + k) % n;
      const t = this.throttles[i] as Throttle;
      if (t.paused || t.inFlight >= t.limit) continue;
      const load = t.inFlight / t.limit;
      if (load < bestLoad) {
        bestLoad = load;
        bestIndex = i;
      }
    }
    if (bestIndex < 0) return undefined;
    const permit = this.throttles[bestIndex]?.tryAcquire();
    if (permit === undefined) return undefined;
    this.#next = (bestIndex + 1) % n;
    return { index: bestIndex, permit };
  }

  async acquire(signal?: AbortSignal): Promise<{ index: number; permit: Permit }> {
    for (;;) {
      const got = this.tryAcquire();
      if (got !== undefined) return got;
      const ac = new AbortController();
      const onAbort = (): void => ac.abort(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        await Promise.race(this.throttles.map((t) => t.changed(ac.signal)));
      } finally {
        signal?.removeEventListener("abort", onAbort);
        ac.abort();
      }
      if (signal?.aborted) throw signal.reason;
    }
  }
}
