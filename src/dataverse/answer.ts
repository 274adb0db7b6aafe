// What one answer from Dataverse means, read once: a success, worth another attempt (and when, by
// DATAVERSE_RETRY_RULE, the rule the client's retry wrapper follows too), a failure of the whole
// run, or a refusal of what was sent. The error body is parsed at most once, on first use.
import { classifyStatus, type RetryDecision } from "../http/retry.js";
import { errorFromResponse, isRunLevel, parseErrorBody, type DataverseError, type ParsedError } from "./errors.js";
import { DATAVERSE_RETRY_RULE } from "./limits.js";

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

export class Answer {
  #error: ParsedError | undefined;
  #retry: RetryDecision | undefined;

  constructor(readonly raw: RawAnswer) {}

  get status(): number {
    return this.raw.status;
  }

  get ok(): boolean {
    return this.raw.status >= 200 && this.raw.status < 300;
  }

  /** Dataverse's error code and message ("" when it gave none). */
  get error(): ParsedError {
    this.#error ??= parseErrorBody(this.raw.body);
    return this.#error;
  }

  /** Whether the answer is worth another attempt, and the server's wait when it gave one. */
  get retry(): RetryDecision {
    this.#retry ??= classifyStatus(this.raw.status, this.raw.headers, DATAVERSE_RETRY_RULE);
    return this.#retry;
  }

  /** A refusal that concerns the whole run (credentials, membership, privilege), not what was sent. */
  get runLevel(): boolean {
    return !this.ok && isRunLevel(this.raw.status, this.error.code);
  }

  /** This answer as the error of the request that got it (URL without its query in the message). */
  toError(method: string, url: string, retryable: boolean): DataverseError {
    return errorFromResponse(method, url, this.raw, retryable, undefined, this.error);
  }
}

/** The server's wait on an answer, by Dataverse's rule (for the throttle's pause on a 429). */
export function retryAfterMs(res: RawAnswer): number | undefined {
  return classifyStatus(res.status, res.headers, DATAVERSE_RETRY_RULE).retryAfterMs;
}
