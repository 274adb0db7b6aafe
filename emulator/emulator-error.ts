// Failures of the emulator itself (never of a request, which always gets an HTTP answer), and how
// any error is named in a log line.

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
