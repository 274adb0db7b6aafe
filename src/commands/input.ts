// `--input <file>`: the messages read from a file instead of stdin. Opened and checked before
// anything else runs, so a missing file or a folder is an error naming the path, never an 'error'
// event nobody listens to (a stream created early and read late would crash the process with it).
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { ConnectorError } from "../protocol/errors.js";

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  ENOTDIR: "a part of the path is not a folder",
  EISDIR: "it is a folder; give the path of a file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ELOOP: "too many symbolic links",
};

/** The file named by --input cannot be read. */
export class InputFileError extends ConnectorError {
  constructor(path: string, code: string, cause?: unknown) {
    super("input_unreadable", `--input ${JSON.stringify(path)} cannot be read: ${REASONS[code] ?? code}`, "config_error", {}, cause !== undefined ? { cause } : undefined);
  }
}

/** Opens the file (a regular file, a pipe or a device; not a folder) and streams it. */
export async function openInputFile(path: string): Promise<Readable> {
  try {
    const handle = await open(path, "r");
    const st = await handle.stat().catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    if (st.isDirectory()) {
      await handle.close();
      throw new InputFileError(path, "EISDIR");
    }
    return handle.createReadStream();
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    throw new InputFileError(path, (err as NodeJS.ErrnoException).code ?? "unknown error", err);
  }
}
