// Numeric text handling on decimal strings, so rounding follows the digits the source wrote and
// not their binary approximation (1.005 rounds to 1.01, which Math.round(100 * 1.005) gets wrong).

const NUMERIC_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER_RE = /^[+-]?\d+$/;

/** A number or numeric string → its plain decimal text, or undefined when it is not numeric. */
export function toDecimalText(value: unknown): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? expandExponent(String(value)) : undefined;
  if (typeof value !== "string") return undefined;
  const s = value.trim();
  if (!NUMERIC_RE.test(s)) return undefined;
  return expandExponent(s);
}

export function isIntegerText(text: string): boolean {
  return INTEGER_RE.test(text) || /^[+-]?\d+\.0*$/.test(text);
}

/** "1.5e3" → "1500", "-2e-3" → "-0.002"; already-plain text is returned normalised. */
export function expandExponent(text: string): string {
  let s = text.trim();
  let sign = "";
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s.startsWith("-")) sign = "-";
    s = s.slice(1);
  }
  let exp = 0;
  const e = s.search(/[eE]/);
  if (e >= 0) {
    exp = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf(".");
  let digits = dot >= 0 ? s.slice(0, dot) + s.slice(dot + 1) : s;
  let point = (dot >= 0 ? dot : s.length) + exp;
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits = digits + "0".repeat(point - digits.length);
  let intPart = digits.slice(0, point).replace(/^0+(?=\d)/, "");
  if (intPart === "") intPart = "0";
  const frac = digits.slice(point).replace(/0+$/, "");
  const body = frac === "" ? intPart : `${intPart}.${frac}`;
  return body === "0" ? "0" : sign + body;
}

/** Rounds plain decimal text to `places` decimals, half away from zero. */
export function roundHalfAwayFromZero(text: string, places: number): string {
  const neg = text.startsWith("-");
  const abs = neg ? text.slice(1) : text;
  const [intPart = "0", frac = ""] = abs.split(".");
  if (frac.length <= places) return text;
  const keep = intPart + frac.slice(0, places);
  const roundUp = (frac.charCodeAt(places) - 48) >= 5;
  let digits = keep;
  if (roundUp) {
    const arr = digits.split("").map(Number);
    let i = arr.length - 1;
    while (i >= 0) {
      const d = (arr[i] ?? 0) + 1;
      if (d < 10) {
        arr[i] = d;
        break;
      }
      arr[i] = 0;
      i--;
    }
    digits = (i < 0 ? "1" : "") + arr.join("");
  }
  const cut = digits.length - places;
  const out = expandExponent(places === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`);
  return out === "0" ? "0" : (neg ? "-" : "") + out;
}

/** Counts decimals in plain decimal text. */
export function decimalPlaces(text: string): number {
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}
