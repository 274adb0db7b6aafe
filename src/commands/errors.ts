// Error → TRACE ERROR. Messages are built from our own typed errors only; the message of an
// unknown error may quote input (JSON.parse does), so it is never copied into the output.
import { ConnectorError, describeContext } from "../protocol/errors.js";
import type { ErrorTrace } from "../protocol/airbyte.js";

export function errorTrace(err: unknown): ErrorTrace {
  if (err instanceof ConnectorError) {
    const where = describeContext(err.context);
    const hasLine = err.context.line !== undefined && err.message.startsWith(`line ${err.context.line}`);
    return {
      message: where === "" || hasLine ? err.message : `${where}: ${err.message}`,
      internal_message: err.code,
      failure_type: err.failureType,
      ...(err.context.stream !== undefined
        ? { stream_descriptor: { name: err.context.stream, ...(err.context.namespace !== undefined ? { namespace: err.context.namespace } : {}) } }
        : {}),
    };
  }
  const name = err instanceof Error ? err.name : typeof err;
  const code = typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string" ? (err as { code: string }).code : undefined;
  const stack = err instanceof Error && err.stack !== undefined ? err.stack.split("\n").slice(1).join("\n") : undefined;
  return {
    message: `Internal error (${name}${code !== undefined ? ` ${code}` : ""}); please report it`,
    ...(code !== undefined ? { internal_message: code } : {}),
    ...(stack !== undefined ? { stack_trace: stack } : {}),
    failure_type: "system_error",
  };
}

const READ_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  ENOTDIR: "a part of the path is not a folder",
  EISDIR: "it is a folder; give the path of a file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ELOOP: "too many symbolic links",
};

/** Where a JSON.parse failure happened, as line and column (1-based), and what is there when it is telling. */
export function jsonErrorLocation(text: string, cause: unknown): string {
  // Only the position is taken from JSON.parse's message: the rest can quote the file, secrets included.
  const m = cause instanceof Error ? /at position (\d+)/.exec(cause.message) : null;
  const position = m !== null ? Math.min(Number(m[1]), text.length) : text.length;
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - (before.lastIndexOf("\n") + 1) + 1;
  const at = text[position];
  const previous = before.trimEnd().at(-1);
  const hint =
    position >= text.length
      ? " (the text ends early: a closing } or ] or a quote is missing)"
      : (at === "}" || at === "]" || /\s/.test(at ?? "")) && previous === ","
        ? " (a trailing comma: JSON allows no comma before } or ])"
        : "";
  return `line ${line}, column ${column}${hint}`;
}

/** Reads and parses a JSON file named on the command line. */
export async function readJsonFile(readFile: (p: string) => Promise<string>, path: string, what: "config" | "catalog"): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path);
  } catch (cause) {
    const code = typeof cause === "object" && cause !== null && typeof (cause as { code?: unknown }).code === "string" ? (cause as { code: string }).code : undefined;
    const reason = code !== undefined ? (READ_REASONS[code] ?? code) : cause instanceof Error ? cause.message.replace(/[^\w -]/g, "").slice(0, 40) : "unknown error";
    throw new ConnectorError(`${what}_unreadable`, `The ${what} file ${JSON.stringify(path)} cannot be read: ${reason}`, "config_error", {}, { cause });
  }
  // Windows editors (Notepad) save UTF-8 with a byte order mark; RFC 8259 §8.1 lets a parser
  // ignore it, and JSON.parse does not.
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch (cause) {
    throw new ConnectorError(`${what}_malformed`, `The ${what} file ${JSON.stringify(path)} is not valid JSON at ${jsonErrorLocation(body, cause)}`, "config_error", {}, { cause });
  }
}
