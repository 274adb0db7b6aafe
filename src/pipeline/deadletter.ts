// Rejected records as JSONL, one line each, awaited (with drain) before the state that covers
// them may go out: "rejected and reported" means on disk, not in a buffer.
import { createWriteStream } from "node:fs";
import type { WriteStream } from "node:fs";
import { once } from "node:events";
import type { JsonObject } from "../protocol/airbyte.js";

export interface DeadLetter {
  readonly stream: string;
  readonly namespace?: string;
  readonly line: number;
  /** The row's key as sent (GUID or alternate-key values); absent when mapping failed before a key. */
  readonly key?: unknown;
  readonly field?: string;
  readonly code: string;
  readonly message: string;
  readonly status?: number;
  /** Every issue mapping found, when there were several. */
  readonly issues?: readonly { readonly field: string; readonly code: string; readonly message: string }[];
  readonly record?: JsonObject;
}

export interface DeadLetterSink {
  write(entry: DeadLetter): Promise<void>;
  close(): Promise<void>;
}

/**
 * One JSON line. A record nested deeper than JSON.stringify's recursion can go (it throws
 * RangeError at ~10,000 levels) is left out and marked, so the rejection is still reported and
 * the run goes on; the rest of the entry is ours and flat.
 */
export function serialize(entry: DeadLetter): string {
  try {
    return JSON.stringify(entry);
  } catch (err) {
    if (!(err instanceof RangeError) || entry.record === undefined) throw err;
    return JSON.stringify({ ...entry, record: null, record_omitted: "too_deep_to_serialize" });
  }
}

export function openDeadLetterFile(path: string): DeadLetterSink {
  const out: WriteStream = createWriteStream(path, { flags: "a" });
  let failed: unknown;
  out.on("error", (err: unknown) => {
    failed = err;
  });
  return {
    async write(entry) {
      if (failed !== undefined) throw failed;
      if (!out.write(serialize(entry) + "\n")) await Promise.race([once(out, "drain"), once(out, "error")]);
      if (failed !== undefined) throw failed;
    },
    async close() {
      if (failed !== undefined) return;
      await new Promise<void>((resolve) => out.end(resolve));
    },
  };
}
