// What one request asks for: system query options, Prefer preferences, conditional headers and
// the JSON body.
import { errors } from "./errors.js";
import { parseJsonWithInt64 } from "./int64.js";
import { type FilterNode, FilterSyntaxError, parseFilter } from "./odata/filter.js";

export interface OrderBy {
  readonly property: string;
  readonly descending: boolean;
}

export interface QueryOptions {
  readonly select?: readonly string[];
  readonly filter?: FilterNode;
  readonly filterText?: string;
  readonly orderBy: readonly OrderBy[];
  readonly top?: number;
  readonly count: boolean;
  readonly skipToken?: string;
  /** Everything else, raw (e.g. $expand), for callers that accept more. */
  readonly other: ReadonlyMap<string, string>;
}

export interface Preferences {
  readonly returnRepresentation: boolean;
  readonly maxPageSize?: number;
  readonly includeAnnotations?: string;
}

function decodeQueryPart(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    throw errors.invalidUrl();
  }
}

export function parseQuery(raw: string): QueryOptions {
  const params = new Map<string, string>();
  if (raw !== "") {
    for (const pair of raw.split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      const name = decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq));
      const value = eq < 0 ? "" : decodeQueryPart(pair.slice(eq + 1));
      if (params.has(name)) {
        throw errors.badRequest(`Query option '${name}' was specified more than once, but it must be specified at most once.`);
      }
      params.set(name, value);
    }
  }
  const other = new Map(params);
  const take = (name: string): string | undefined => {
    const v = params.get(name);
    other.delete(name);
    return v;
  };
  const select = take("$select");
  const filterText = take("$filter");
  const orderByText = take("$orderby");
  const top = take("$top");
  const count = take("$count");
  const skipToken = take("$skiptoken");
  // Parameter aliases (`$filter=name eq @p&@p='x'`, `$orderby=@p1 asc&@p1=jobtitle`), as in Learn's
  // sdkmessagefilters probe and its query-data sample (webapi/query-data-web-api, "Use parameter aliases").
  const aliases = new Map<string, string>();
  for (const [name, value] of params) {
    if (name.startsWith("@")) {
      aliases.set(name, value);
      other.delete(name);
    }
  }
  const orderBy = orderByText?.includes("@") === true ? substituteAliases(orderByText, aliases) : orderByText;
  let filter: FilterNode | undefined;
  if (filterText !== undefined) {
    try {
      filter = parseFilter(aliases.size > 0 ? substituteAliases(filterText, aliases) : filterText);
    } catch (cause) {
      if (cause instanceof FilterSyntaxError) throw errors.badRequest(cause.message);
      throw cause;
    }
  }
  let topN: number | undefined;
  if (top !== undefined) {
    if (!/^\d+$/.test(top)) throw errors.badRequest(`Invalid value '${top}' for $top query option found. The $top query option requires a non-negative integer value.`);
    topN = Number(top);
  }
  if (count !== undefined && count !== "true" && count !== "false") {
    throw errors.badRequest(`'${count}' is not a valid count option.`);
  }
  return {
    ...(select !== undefined ? { select: select.split(",").map((s) => s.trim()).filter((s) => s !== "") } : {}),
    ...(filter !== undefined && filterText !== undefined ? { filter, filterText } : {}),
    orderBy: (orderBy ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s) => {
        const [property = "", dir = "asc"] = s.split(/\s+/);
        if (dir !== "asc" && dir !== "desc") throw errors.badRequest(`Syntax error in $orderby.`);
        return { property, descending: dir === "desc" };
      }),
    ...(topN !== undefined ? { top: topN } : {}),
    count: count === "true",
    ...(skipToken !== undefined ? { skipToken } : {}),
    other,
  };
}

function substituteAliases(text: string, aliases: ReadonlyMap<string, string>): string {
  let out = "";
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    if (ch === "'") inQuote = !inQuote;
    if (!inQuote && ch === "@") {
      const m = /^@[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
      if (m) {
        const value = aliases.get(m[0]);
        if (value === undefined) throw errors.badRequest(`The parameter alias '${m[0]}' is not defined in the query.`);
        out += value;
        i += m[0].length - 1;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

export function parsePrefer(header: string | undefined): Preferences {
  let returnRepresentation = false;
  let maxPageSize: number | undefined;
  let includeAnnotations: string | undefined;
  // Split on commas outside quotes: include-annotations may list several patterns in one quoted value.
  for (const part of (header ?? "").match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const p = part.trim();
    if (p === "return=representation") returnRepresentation = true;
    const m = /^odata\.maxpagesize=(\d+)$/.exec(p);
    if (m) maxPageSize = Number(m[1]);
    const a = /^odata\.include-annotations="?([^"]*)"?$/.exec(p);
    if (a) includeAnnotations = a[1] ?? "";
  }
  return {
    returnRepresentation,
    ...(maxPageSize !== undefined ? { maxPageSize } : {}),
    ...(includeAnnotations !== undefined ? { includeAnnotations } : {}),
  };
}

/** Body JSON parsed once; anything but an object is a payload error naming `entitySet`. */
export function parseBody(text: string, entitySet: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseJsonWithInt64(text === "" ? "{}" : text);
  } catch {
    throw errors.payload(entitySet, "Invalid JSON. The payload could not be parsed.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw errors.payload(entitySet, "The payload must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

/** `If-Match`/`If-None-Match` value; "null" (sent to defeat caching) counts as absent. */
export function conditional(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === "" || t === "null" ? undefined : t;
}
