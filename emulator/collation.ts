// How the environment compares text: its SQL collation, chosen by the base language when the
// environment was created (Learn, Power Platform admin, "Dataverse language collations"). Every
// language is case-insensitive (_CI); the languages below are accent-sensitive (_AS), the rest of
// the page's table accent-insensitive (_AI: "cafe" and "café" are one word). A collation without
// _KS/_WS is also kana- and width-insensitive. SQL Server's `=` pads the shorter text with spaces,
// so trailing spaces (U+0020 only; not a tab) do not count. Alternate-key uniqueness, addressing
// by key and `$filter` string comparisons all go through `collationKey`.

/** LCIDs whose collation is _CI_AS in Learn's table (it lists English (UK) under 3081). */
const ACCENT_SENSITIVE: readonly number[] = [
  1035, 1048, 1050, 1051, 1053, 1054, 1057, 1058, 1060, 1061, 1062, 1063, 1066, 1069, 1081, 1086, 1087, 1110, 2055, 2064, 2074, 3079, 3081,
];

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export interface Collation {
  /** `_CI_AI` or `_CI_AS`. */
  readonly name: string;
  /** The form under which two texts are equal exactly when the collation finds them equal. */
  key(text: string): string;
}

/** Fullwidth forms (U+FF01-FF5E) as their ASCII letters: width-insensitive. */
function narrow(text: string): string {
  return text.replace(/[\uff01-\uff5e]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));
}

/** Katakana as hiragana (U+30A1-30F6 → U+3041-3096): kana-insensitive. */
function hiragana(text: string): string {
  return text.replace(/[\u30a1-\u30f6]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x60));
}

function withoutTrailingSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end -= 1;
  return text.slice(0, end);
}

export function collationFor(baseLanguage: number): Collation {
  const accentSensitive = ACCENT_SENSITIVE.includes(baseLanguage);
  return {
    name: accentSensitive ? "_CI_AS" : "_CI_AI",
    key(text: string): string {
      // Printable ASCII has no accents, widths or compositions: only case and trailing spaces count.
      if (PRINTABLE_ASCII.test(text)) return withoutTrailingSpaces(text).toUpperCase();
      const canonical = hiragana(narrow(withoutTrailingSpaces(text)).normalize("NFD"));
      // Accents are combining marks once decomposed; case folds through upper case, so "ß" is "SS".
      const folded = (accentSensitive ? canonical : canonical.replace(/\p{Mn}/gu, "")).toUpperCase();
      return folded.normalize("NFC");
    },
  };
}
