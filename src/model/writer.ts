// The seam between pipeline/ and dataverse/: hand over operations, get one outcome per operation.
import type { Operation } from "./operation.js";

export type WriteOutcome =
  | {
      readonly ok: true;
      readonly created?: boolean;
      /**
       * Nothing changed: a create-with-id met the row already there (412), or a delete found the
       * row already gone (404). Counted as unchanged, not as created or deleted.
       */
      readonly unchanged?: boolean;
    }
  | {
      readonly ok: false;
      /** HTTP status of the failing operation. */
      readonly status: number;
      /** Dataverse error code, e.g. "0x80044331"; "" when Dataverse gave none. */
      readonly code: string;
      /** Dataverse's message (it never contains our record values verbatim? it may: callers must not log it with values). */
      readonly message: string;
    };

export interface WriteOptions {
  /** Extra request headers (bypass logic, suppress duplicate detection, impersonation). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Writer {
  /**
   * Writes the operations (any tables, any kinds) and resolves with one outcome per operation,
   * in the same order. Operations are independent: a failure rejects only its own operation.
   * Retries transient failures (429, 5xx, resets, timeouts) within the retry budget.
   * Rejects (throws) only on failures that are not about one record: auth, privilege on the whole
   * table, retry budget spent, unreachable host. Such errors are DataverseError/TransportError.
   * May be called concurrently; it bounds its own in-flight requests.
   */
  write(operations: readonly Operation[], options?: WriteOptions): Promise<readonly WriteOutcome[]>;
  /** Waits for in-flight requests and releases connections. */
  close(): Promise<void>;
}
