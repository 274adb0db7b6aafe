// Rejected records as JSONL, one line each, awaited (with drain) before the state that covers
// them may go out: "rejected and reported" means on disk, not in a buffer.
import { constants } from "node:fs";
import type { WriteStream } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { once } from "node:events";
import type { JsonObject } from "../protocol/airbyte.js";
import { ConnectorError } from "../protocol/errors.js";

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

const REASONS: Record<string, string> = {
  ENOENT: "its folder does not exist",
  ENOTDIR: "a part of the path is not a folder",
  EISDIR: "it is a folder; give the path of a file",
  ELOOP: "it is a symbolic link, which the connector does not follow for this file (it holds whole records); give the real path",
  EACCES: "permission denied; the connector's user must be allowed to create and write it",
  EPERM: "permission denied; the connector's user must be allowed to create and write it",
  EROFS: "the file system is read-only",
  ENXIO: "it is not a regular file",
};

/** dead_letter_path names a file the connector cannot (or must not) write: a config error, found at the start. */
export class DeadLetterPathError extends ConnectorError {
  constructor(path: string, reason: string, cause?: unknown) {
    super("dead_letter_path", `dead_letter_path ${JSON.stringify(path)} cannot be used: ${reason}`, "config_error", {}, cause !== undefined ? { cause } : undefined);
  }
}

function deadLetterError(path: string, reason: string, cause?: unknown): DeadLetterPathError {
  return new DeadLetterPathError(path, reason, cause);
}

/**
 * Opens (or creates) the dead-letter file before anything is written, so a wrong path is a config
 * error at the start and not at the first rejection. The file holds whole records: it is created
 * 0600 (an existing one is narrowed to that), a symbolic link is never followed (O_NOFOLLOW), and
 * only a regular file is taken.
 */
export async function openDeadLetterFile(path: string): Promise<DeadLetterSink> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    throw deadLetterError(path, REASONS[code] ?? `cannot be opened for writing (${code || "unknown error"})`, err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw deadLetterError(path, "it is not a regular file");
    if ((st.mode & 0o077) !== 0) await handle.chmod(0o600);
  } catch (err) {
    await handle.close();
    if (err instanceof DeadLetterPathError) throw err;
    throw deadLetterError(path, `cannot be checked (${(err as NodeJS.ErrnoException).code ?? "unknown error"})`, err);
  }
  const out: WriteStream = handle.createWriteStream({ encoding: "utf8" });
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
