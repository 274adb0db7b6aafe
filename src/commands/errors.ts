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

/** Reads and parses a JSON file named on the command line. */
export async function readJsonFile(readFile: (p: string) => Promise<string>, path: string, what: "config" | "catalog"): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path);
  } catch (cause) {
    throw new ConnectorError(`${what}_unreadable`, `The ${what} file cannot be read`, "config_error", {}, { cause });
  }
  try {
    // Windows editors (Notepad) save UTF-8 with a byte order mark; RFC 8259 §8.1 lets a parser
    // ignore it, and JSON.parse does not.
    return JSON.parse(text.startsWith("\uFEFF") ? text.slice(1) : text) as unknown;
  } catch (cause) {
    throw new ConnectorError(`${what}_malformed`, `The ${what} file is not valid JSON`, "config_error", {}, { cause });
  }
}
