// Splits a byte stream into lines without ever holding more than one line (plus one chunk) in
// memory. Consumed with `for await`, so a slow consumer pauses the source: backpressure reaches stdin.
import { ProtocolError } from "./errors.js";

export interface Line {
  /** 1-based line number in the input, blank lines included. */
  readonly number: number;
  readonly text: string;
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * The lines of each input chunk, in order, as one array per chunk (never empty): a consumer pays
 * one await per chunk rather than per line. A line that fails (too long, invalid UTF-8) is thrown
 * only after the lines before it were yielded, so they can be processed first.
 */
export async function* readLineBatches(
  input: AsyncIterable<Uint8Array | string>,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<Line[], void, undefined> {
  // fatal: invalid UTF-8 is reported with its line number instead of being silently replaced,
  // which would write U+FFFD into the customer's rows.
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  let number = 0;

  const finish = (tail: Uint8Array): Line => {
    number += 1;
    let bytes: Uint8Array;
    if (parts.length === 0) bytes = tail;
    else {
      parts.push(tail);
      bytes = Buffer.concat(parts, partBytes + tail.length);
    }
    parts = [];
    partBytes = 0;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(0, end));
    } catch (cause) {
      throw new ProtocolError("invalid_utf8", "The line is not valid UTF-8", { line: number }, { cause });
    }
    return { number, text };
  };

  for await (const chunk of input) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    const batch: Line[] = [];
    let failure: unknown;
    let start = 0;
    try {
      for (;;) {
        const nl = buf.indexOf(NEWLINE, start);
        const end = nl === -1 ? buf.length : nl;
        if (partBytes + (end - start) > maxLineBytes) {
          throw new ProtocolError("line_too_long", `The line is longer than the limit of ${maxLineBytes} bytes`, {
            line: number + 1,
          });
        }
        if (nl === -1) {
          if (end > start) {
            // Copy: the producer may reuse its buffer once we return control.
            parts.push(Uint8Array.prototype.slice.call(buf, start, end));
            partBytes += end - start;
          }
          break;
        }
        batch.push(finish(buf.subarray(start, nl)));
        start = nl + 1;
      }
    } catch (err) {
      failure = err;
    }
    if (batch.length > 0) yield batch;
    if (failure !== undefined) throw failure;
  }
  if (partBytes > 0) yield [finish(new Uint8Array(0))];
}

/** One line at a time (see readLineBatches). */
export async function* readLines(
  input: AsyncIterable<Uint8Array | string>,
  maxLineBytes: number = DEFAULT_MAX_LINE_BYTES,
): AsyncGenerator<Line, void, undefined> {
  for await (const batch of readLineBatches(input, maxLineBytes)) yield* batch;
}
