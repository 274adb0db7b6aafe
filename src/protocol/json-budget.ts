// How much heap a JSON text becomes when parsed, bounded before JSON.parse runs. A line's bytes are
// capped by the line reader, but not what they expand to: 30 MB of `{},{},…` parse into ten million
// objects, past the process's heap cap, and V8 aborts with no word on the protocol. Each value
// costs tens of bytes however short its text, so the values are counted (an opening bracket or a
// comma outside strings starts one) and a line holding more than a message can reasonably carry is
// refused with its line number instead.

/** The most JSON values one message may hold (objects, arrays and the elements and members in them). */
export const MAX_VALUES_PER_LINE = 1_000_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const COMMA = 0x2c;

/**
 * Counts the values that start in `text` outside strings, stopping once past `limit`. Linear in
 * the text and allocation-free; a text shorter than `limit` characters cannot hold more values than
 * that, so it is not scanned.
 */
export function countJsonValues(text: string, limit: number = MAX_VALUES_PER_LINE): number {
  if (text.length <= limit) return 0;
  let count = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY || c === COMMA) {
      count += 1;
      if (count > limit) return count;
    }
  }
  return count;
}
