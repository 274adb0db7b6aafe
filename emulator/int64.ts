// Edm.Int64 beyond what a double holds. A BigInt column takes -2^63 .. 2^63-1 and the Web API
// reads and writes its values as JSON numbers (ODataLib refuses a string for Edm.Int64 unless the
// request says IEEE754Compatible=true); JSON.parse would round 9007199254740993 to ...992, so
// request bodies are read here with every integer literal beyond ±2^53 as a bigint, and answers
// write a bigint back as its digits.

/** A run of 16 digits: no integer literal beyond ±2^53 without one. */
const LONG_DIGITS = /[0-9]{16}/;
const INTEGER_LITERAL = /-?[0-9]+(?![0-9.eE])/y;
const MARK = "\u0000int64:";

/** Integer literals beyond ±2^53 as marked JSON strings; other text as it is. */
function markLargeIntegers(text: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (c === '"') {
      for (i += 1; i < text.length && text[i] !== '"'; i += text[i] === "\\" ? 2 : 1);
      i += 1;
      continue;
    }
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      INTEGER_LITERAL.lastIndex = i;
      const m = INTEGER_LITERAL.exec(text);
      const literal = m?.[0];
      if (literal !== undefined && !Number.isSafeInteger(Number(literal))) {
        out += `${text.slice(from, i)}"\\u0000int64:${literal}"`;
        from = i + literal.length;
      }
      // A literal with a fraction or an exponent is skipped whole: its digits are never an integer's.
      while (i < text.length && /[-+0-9.eE]/.test(text[i] ?? "")) i += 1;
      continue;
    }
    i += 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** JSON.parse, with integers beyond ±2^53 as bigint (the rest as JSON.parse reads it). */
export function parseJsonWithInt64(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const marked = markLargeIntegers(text);
  if (marked === text) return JSON.parse(text);
  // A string holding U+0000 cannot be stored (columns refuse it), so the mark names only ours.
  return JSON.parse(marked, (_key, value: unknown) => (typeof value === "string" && value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value));
}

/** JSON.stringify, writing a bigint as its digits. */
export function stringifyWithInt64(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
  }
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? `${MARK}${v.toString()}` : v));
  return text.replace(/"\\u0000int64:(-?[0-9]+)"/g, "$1");
}
