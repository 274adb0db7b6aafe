// Numbers in a record that a double cannot hold. JSON.parse reads 12345678901234567890 and
// 12345678901234567891 as one double, 12345678901234567000, and a key, a text column or a
// deterministic id made from either would name the other's row. Node 20 has no way to see a
// literal's source text from JSON.parse, so a line that may hold such a literal is read once more
// here, with every literal a double would change replaced by its exact decimal text (a JSON
// string). Text and numeric columns take that text as they take a number; nothing is rounded.
//
// Only lines that may hold one pay: a literal a double changes has more than 15 significant
// digits (IEEE 754 doubles keep every decimal of 15), so a line without 16 digits or dots in a row
// never needs it.
import { decimalText } from "../model/key-identity.js";

/**
 * False when no number literal of the line can have more than 15 significant digits: no run of 16
 * digits or dots. A loop over char codes, which every RECORD line pays for, costs a fraction of the
 * equivalent regular expression /[0-9.]{16}/.
 */
export function mayHoldInexactNumber(text: string): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || c === 46) {
      if (++run >= 16) return true;
    } else run = 0;
  }
  return false;
}

const NUMBER_LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The literal's exact decimal text when a double would hold another value; undefined when it holds it. */
function inexact(literal: string): string | undefined {
  const mantissa = literal.replace(/^-/, "").replace(/[eE].*$/, "").replace(".", "");
  if (mantissa.replace(/^0+/, "").length <= 15) return undefined;
  const exact = decimalText(literal);
  if (exact === undefined) return literal;
  return decimalText(Number(literal)) === exact ? undefined : exact;
}

/**
 * The JSON text with each number literal a double would change written as a string of its exact
 * decimal text; the same text when there is none. Strings are skipped whole (escapes included);
 * invalid JSON is left for JSON.parse to refuse.
 */
export function exactNumbersAsText(text: string): string {
  let out = "";
  let from = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote.
      i += 1;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i += 1;
      }
      i += 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER_LITERAL.lastIndex = i;
      const m = NUMBER_LITERAL.exec(text);
      if (m === null) {
        i += 1;
        continue;
      }
      const literal = m[0];
      const exact = inexact(literal);
      if (exact !== undefined) {
        out += `${text.slice(from, i)}"${exact}"`;
        from = i + literal.length;
      }
      i += literal.length;
    } else {
      i += 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}
