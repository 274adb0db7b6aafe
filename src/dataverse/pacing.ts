// Pacing on the rate-limit headers: one application user's sends spread its execution budget over
// the window instead of spending it until a 429 says stop.
//
// Dataverse answers every request with `x-ms-ratelimit-time-remaining-xrm-requests` (the user's
// remaining combined execution time in the window, in seconds, "1,200.00") and
// `x-ms-ratelimit-burst-remaining-xrm-requests` (requests left). The window slides: execution time
// booked W ago comes back now. The headers do not give W, but Microsoft's limit is E = 1,200 s of
// execution per W = 300 s, so W = E / 4, and E is at least what a header says is left plus what the
// user's own sends hold in the window (every request of a user goes through its one client); a
// time-scaled environment keeps that ratio. What a send held is bounded by its latency, and more
// tightly by the least latency per row its kind of write has shown (a busy server answers late).
// The pacer keeps the user's own sends of the last window, and lets a send go at once while the
// last header's remaining budget, plus what its own sends give back as they leave the window (a
// window after their answers), covers the sends since that header and this one; otherwise the send
// waits until they do. It never waits longer than a window.
import type { Clock } from "../http/clock.js";
import type { Interceptor } from "../http/dispatch.js";
import { headerValue } from "../http/retry.js";
import type { WebApiRequest } from "./request-path.js";

/** Execution time per wall time that Dataverse's execution limit allows: 1,200,000 ms per 300,000 ms (api-limits). */
export const EXECUTION_PER_WALL = 1_200_000 / 300_000;

/** Microsoft's window, the longest a pacer will hold a send. */
const MAX_WAIT_MS = 300_000;

/** A number in the headers' format: "1,200.00" (thousands separators, two decimals). */
export function headerNumber(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/,/g, "").trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

interface Sent {
  readonly startedAt: number;
  /** Rows of a write (undefined: a read), and what kind of write it is (method and path). */
  readonly units: number | undefined;
  readonly kind: string | undefined;
  /**
   * When its answer came. Its execution was booked somewhere between the send and the answer (the
   * emulator books at admission; Dataverse can only know a request's execution time once it ran),
   * so it is taken to leave the window a window after its answer, never sooner.
   */
  doneAt?: number;
  /** Expected execution (ms) until answered, then the answer's latency (an upper bound). */
  costMs: number;
}

export class ExecutionPacer {
  readonly #clock: Clock;
  /**
   * Remaining execution time (ms) the last header said; when its request was sent (every later
   * send counts against it) and when its answer came (no send older than a window before then is in it).
   */
  #remainingMs: number | undefined;
  #seenAt = 0;
  #answeredAt = 0;
  /** The most the header has said: the window's whole budget E. */
  #budgetMs = 0;
  /** The most any one answer proves E to be on its own: what was left plus that send's cost. */
  #floorMs = 0;
  /** Remaining requests the last header said. */
  #burst: number | undefined;
  /** This user's sends of the last window (and any still unanswered), oldest first. */
  #sent: Sent[] = [];
  /** Execution (ms) per unit (row) of a write, and per read request, as answers' latencies show them (upper bounds). */
  #perUnitMs: number | undefined;
  /**
   * The least latency per row any answer of each kind of write showed. Each latency bounds its own
   * request's execution time from above, and a request held up behind others (a busy server)
   * shows more than it ran; the least per row of its kind bounds every request of that kind more
   * tightly. It is what the budget's estimate counts a held write as (see finish).
   */
  readonly #leastPerUnitMs = new Map<string, number>();
  #perReadMs: number | undefined;
  /** Sends held by the pacer, and the total time held. */
  held = 0;
  heldMs = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The window's length: E at Microsoft's E / W. */
  get windowMs(): number {
    return this.#budgetMs / EXECUTION_PER_WALL;
  }

  /** What a request is expected to cost: the latency of its kind so far (an answer's latency bounds its execution time). */
  #costOf(units: number | undefined): number {
    if (units === undefined) return this.#perReadMs ?? 0;
    return (this.#perUnitMs ?? 0) * units;
  }

  /** The budget (ms) the server would have for a send at `at`, on what the last header said. */
  #available(at: number): number {
    if (this.#remainingMs === undefined) return Infinity;
    const w = this.windowMs;
    let available = this.#remainingMs;
    for (const s of this.#sent) {
      // Sent after the header's request: not in it.
      if (s.startedAt > this.#seenAt) available -= s.costMs;
      // Still in the window when the header was written, out of it by `at`: given back. The header
      // may have been written as late as its answer came, so only sends started after that time
      // less a window count; one that had already left was not in the header and gives nothing back.
      // It has left for sure a window after its own answer. What it gives back is what it booked,
      // which its latency only bounds from above: a busy server answers later than it ran, and
      // giving back the latency would spend budget the server does not have. The least latency per
      // row of its kind bounds it more tightly (#settledCost).
      else if (s.startedAt > this.#answeredAt - w && s.doneAt !== undefined && s.doneAt <= at - w) available += this.#settledCost(s);
    }
    return available;
  }

  /** How long a send of `units` rows (undefined: a read) must wait (0: go now). */
  delayFor(units: number | undefined): number {
    let wait = this.executionDelay(units);
    if (this.#burst !== undefined) {
      const since = this.#sent.filter((s) => s.startedAt > this.#seenAt).length;
      // Out of requests too: wait for one to leave the window (at the request cap's own pace, 6000 per 300 s).
      if (this.#burst - since <= 1) wait = Math.max(wait, 300_000 / 6000);
    }
    return wait;
  }

  /** The execution budget's part of delayFor: how long until it covers a send of `units` rows. */
  executionDelay(units: number | undefined): number {
    const now = this.#clock.now();
    this.#prune(now);
    const cost = this.#costOf(units);
    let wait = 0;
    if (this.#available(now) < cost) {
      // The first moment one of our own sends leaves the window and gives enough back.
      wait = MAX_WAIT_MS;
      const leaving: number[] = [];
      for (const s of this.#sent) if (s.doneAt !== undefined && s.doneAt + this.windowMs > now) leaving.push(s.doneAt + this.windowMs);
      leaving.sort((a, b) => a - b);
      for (const at of leaving) {
        if (this.#available(at) >= cost) {
          wait = at - now;
          break;
        }
      }
    }
    return Math.min(wait, MAX_WAIT_MS);
  }

  #prune(now: number): void {
    const horizon = now - 2 * this.windowMs;
    let k = 0;
    while (k < this.#sent.length && (this.#sent[k] as Sent).startedAt < horizon && (this.#sent[k] as Sent).startedAt < this.#seenAt - this.windowMs) k++;
    if (k > 0) this.#sent.splice(0, k);
  }

  start(units: number | undefined, kind?: string): Sent {
    const s: Sent = { startedAt: this.#clock.now(), units, kind, costMs: this.#costOf(units) };
    this.#sent.push(s);
    return s;
  }

  /**
   * An answer came: learn its cost and read its headers. `refused` (a 4xx or 5xx answer): it is
   * charged what it took, but says nothing of what a write of its kind costs per row (a bulk request
   * refused for one row, or for a duplicate key, answers before doing the work), so the per-row
   * figures do not learn from it.
   */
  finish(s: Sent, units: number | undefined, headers: Readonly<Record<string, string>> | undefined, refused = false): void {
    const now = this.#clock.now();
    s.doneAt = now;
    const time = headers === undefined ? undefined : headerNumber(headerValue(headers, "x-ms-ratelimit-time-remaining-xrm-requests"));
    if (headers === undefined || time === undefined) {
      // Not admitted (a 429, a reset): it booked nothing.
      s.costMs = 0;
      return;
    }
    const latency = now - s.startedAt;
    s.costMs = latency;
    if (!refused) this.#learn(s, units, latency);
    // E is at least what is left plus what this user's own sends still hold in the window. Which
    // sends are still in it is judged on a window known not to be too long: the one of the floor,
    // what is left plus this send alone. A window taken from the estimate itself would feed back
    // (a longer window holds more sends, which make E and so the window longer still), and the
    // pacer would come to believe in a budget the server does not have. Each answered write counts
    // as the least latency per row of its kind shows (#leastPerUnitMs), not as its own latency: with
    // many requests in flight the server answers each later than it ran, and E, and so the window,
    // would come out longer than it is, and execution would be given back later than it comes back.
    this.#floorMs = Math.max(this.#floorMs, time * 1000 + s.costMs);
    const floorWindow = this.#floorMs / EXECUTION_PER_WALL;
    let held = 0;
    for (const o of this.#sent) if (o !== s && o.startedAt <= s.startedAt && o.startedAt > s.startedAt - floorWindow) held += this.#settledCost(o);
    this.#budgetMs = Math.max(this.#budgetMs, time * 1000 + held + this.#settledCost(s));
    // The server may have written the header as early as it admitted the request, so it is taken to
    // describe the window when the request was sent: every later send counts against it. An answer
    // to an older send than the last header's says less, and is not read.
    if (this.#remainingMs !== undefined && s.startedAt < this.#seenAt) return;
    this.#remainingMs = time * 1000;
    this.#burst = headerNumber(headerValue(headers, "x-ms-ratelimit-burst-remaining-xrm-requests"));
    this.#seenAt = s.startedAt;
    this.#answeredAt = now;
  }

  /** What an answer that did its work says of its kind's cost: per row for a write, per read for a read. */
  #learn(s: Sent, units: number | undefined, latency: number): void {
    if (units === undefined) {
      this.#perReadMs = ewma(this.#perReadMs, latency);
      return;
    }
    if (units <= 0) return;
    this.#perUnitMs = ewma(this.#perUnitMs, latency / units);
    if (s.kind === undefined) return;
    const least = this.#leastPerUnitMs.get(s.kind);
    if (least === undefined || latency / units < least) this.#leastPerUnitMs.set(s.kind, latency / units);
  }

  /** An answered write's execution as the least latency per row of its kind bounds it; otherwise its cost. */
  #settledCost(o: Sent): number {
    if (o.doneAt === undefined || o.units === undefined || o.kind === undefined) return o.costMs;
    const least = this.#leastPerUnitMs.get(o.kind);
    return least === undefined ? o.costMs : Math.min(o.costMs, least * o.units);
  }
}

function ewma(previous: number | undefined, sample: number): number {
  return previous === undefined ? sample : previous * 0.7 + sample * 0.3;
}

/**
 * A write's kind for the least-latency bound: its method and path (one bulk action on one table, whose
 * rows all cost alike). None for a read, and none for `$batch`, whose parts may be of any kind and
 * table: a cheap batch's latency per row would say nothing of a dear one's.
 */
function writeKind(req: WebApiRequest): string | undefined {
  if (req.units === undefined) return undefined;
  const path = req.url.split("?", 1)[0] ?? "";
  return path.endsWith("/$batch") ? undefined : `${req.method} ${path}`;
}

/** Holds each send until the user's execution budget covers it (see ExecutionPacer). */
export function paced(pacer: ExecutionPacer, clock: Clock): Interceptor<WebApiRequest> {
  return (next) => async (req) => {
    // The execution budget is asked again after each hold: sends held to the same moment (when one
    // of our own leaves the window) would otherwise all go then, on a budget freed for one of them.
    // The request count is not (no header comes while every send is held, so it could not change),
    // and no send is held longer than a window in all.
    let wait = pacer.delayFor(req.units);
    let heldFor = 0;
    if (wait > 0) pacer.held++;
    while (wait > 0 && heldFor < MAX_WAIT_MS) {
      pacer.heldMs += wait;
      heldFor += wait;
      await clock.sleep(wait);
      wait = pacer.executionDelay(req.units);
    }
    const f = pacer.start(req.units, writeKind(req));
    let headers: Readonly<Record<string, string>> | undefined;
    let refused = false;
    try {
      const res = await next(req);
      headers = res.headers;
      refused = res.status >= 400;
      return res;
    } finally {
      pacer.finish(f, req.units, headers, refused);
    }
  };
}
