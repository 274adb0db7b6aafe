// Date and time text → the form Dataverse takes for each DateTimeBehavior. Works on the digits as
// written: a DateOnly value never goes through a JS Date, so no time zone can move its day.
import type { DateTimeBehavior } from "../model/table-meta.js";

export interface ParsedDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly hasTime: boolean;
  /** Minutes east of UTC; undefined when the text carries no offset. */
  readonly offsetMinutes?: number;
}

// ISO 8601 / RFC 3339 subset: date, optional time (T or space), optional fraction, optional Z or ±hh[:]mm.
const DATE_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function parseDateTime(text: string): ParsedDateTime | undefined {
  const m = DATE_TIME_RE.exec(text.trim());
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hasTime = m[4] !== undefined;
  const hour = hasTime ? Number(m[4]) : 0;
  const minute = hasTime ? Number(m[5]) : 0;
  const second = m[6] !== undefined ? Number(m[6]) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // 24:00 and leap seconds are valid ISO but Dataverse has no representation for them.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const tz = m[8];
  let offsetMinutes: number | undefined;
  if (tz !== undefined) {
    if (tz === "Z" || tz === "z") offsetMinutes = 0;
    else {
      const sign = tz.startsWith("-") ? -1 : 1;
      const digits = tz.slice(1).replace(":", "");
      const oh = Number(digits.slice(0, 2));
      const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
      if (oh > 23 || om > 59) return undefined;
      offsetMinutes = sign * (oh * 60 + om);
    }
  }
  const base = { year, month, day, hour, minute, second, hasTime };
  return offsetMinutes === undefined ? base : { ...base, offsetMinutes };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

function formatInstant(p: Omit<ParsedDateTime, "hasTime" | "offsetMinutes">): string {
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}Z`;
}

/** Shifts wall-clock fields by -offset to reach UTC; pure integer calendar arithmetic. */
function toUtc(p: ParsedDateTime): Omit<ParsedDateTime, "hasTime" | "offsetMinutes"> {
  const offset = p.offsetMinutes ?? 0;
  if (offset === 0) return p;
  // Date.UTC on numbers is exact integer arithmetic over the proleptic Gregorian calendar; years
  // below 100 are impossible here because of the 1753 floor checked before conversion.
  const ms = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute - offset, p.second);
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

export type DateResult = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly code: "invalid_date" | "date_out_of_range" };

/** Dataverse's DateTime range (SQL datetime lower bound). */
const MIN_YEAR = 1753;

/**
 * - DateOnly: "YYYY-MM-DD" from the date part exactly as written; time and offset are ignored.
 * - UserLocal: the instant in UTC ("…Z"), offset applied; text without an offset is taken as UTC,
 *   as the Web API itself does for API writes (behavior-format-date-time-attribute).
 * - TimeZoneIndependent: the wall clock as written with "Z" appended and the offset dropped;
 *   Dataverse stores TZI values without conversion, so the written clock time is what users see.
 * Fractions of a second are dropped: Dataverse date-times hold whole seconds.
 */
export function convertDateTime(text: string, behavior: DateTimeBehavior | undefined, dateOnlyFormat: boolean): DateResult {
  const p = parseDateTime(text);
  if (p === undefined) return { ok: false, code: "invalid_date" };
  if (p.year < MIN_YEAR) return { ok: false, code: "date_out_of_range" };
  if (behavior === "DateOnly") return { ok: true, value: `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}` };
  if (behavior === "TimeZoneIndependent") {
    // A TZI column with DateOnly format shows only the date; keep midnight so the day never moves.
    const wall = dateOnlyFormat ? { ...p, hour: 0, minute: 0, second: 0 } : p;
    return { ok: true, value: formatInstant(wall) };
  }
  const utc = toUtc(p);
  if (utc.year < MIN_YEAR || utc.year > 9999) return { ok: false, code: "date_out_of_range" };
  return { ok: true, value: formatInstant(utc) };
}
