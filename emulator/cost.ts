// What the execution-time model charges an operation: its kind (create, update, upsert, delete,
// one of the bulk actions, a read, a metadata read) and the rows it wrote or returned, read off the
// request and the data service's answer. Pure; the server adds each request's fixed requestMs.
import type { ServiceResponse } from "./types.js";
import type { OperationKind, Work } from "./limits.js";

export interface OperationSeen {
  readonly method: string;
  /** Path after the service root, still percent-encoded. */
  readonly path: string;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly response: ServiceResponse;
}

const BULK: Readonly<Record<string, OperationKind>> = {
  CreateMultiple: "createMultiple",
  UpdateMultiple: "updateMultiple",
  UpsertMultiple: "upsertMultiple",
};

/** Metadata Dataverse serves from its metadata cache rather than from rows. */
const METADATA_ROOTS = new Set(["$metadata", "EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions"]);

function firstSegment(path: string): string {
  const end = path.search(/[(/?]/);
  const raw = end < 0 ? path : path.slice(0, end);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function lastSegment(path: string): string {
  const parts = path.split("/");
  const last = parts[parts.length - 1] ?? "";
  return last.replace(/^Microsoft\.Dynamics\.CRM\./, "");
}

/** Rows a successful read returned: the `value` array's length, else one (a row, a property, a count). */
function rowsReturned(response: ServiceResponse): number {
  const body = response.body ?? "";
  if (!body.includes('"value":[')) return 1;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && Array.isArray((parsed as { value?: unknown }).value)) {
      return (parsed as { value: unknown[] }).value.length;
    }
  } catch {
    // Not JSON: a single value.
  }
  return 1;
}

/** The operation a request (or one $batch part) ran, for the cost model. */
export function workOf(op: OperationSeen): Work {
  const { method, path, headers, response } = op;
  // A refused or failed operation is charged its request only: the docs give no figure for the
  // work done before a failure.
  if (response.status >= 400) return { kind: "other", rows: 0 };
  const root = firstSegment(path);
  if (method === "GET" || method === "HEAD") {
    if (root === "" || root === "WhoAmI") return { kind: "other", rows: 0 };
    if (METADATA_ROOTS.has(root)) return { kind: "metadata", rows: 1 };
    return { kind: "read", rows: rowsReturned(response) };
  }
  const written = response.cost?.records ?? 1;
  const bulk = BULK[lastSegment(path)];
  if (method === "POST" && bulk !== undefined) return { kind: bulk, rows: response.cost?.records ?? 0 };
  // Associating or disassociating rows changes the referencing row's lookup: an update.
  if (/\/\$ref$/.test(path.split("?")[0] ?? "")) return { kind: "update", rows: 1 };
  switch (method) {
    case "POST":
      return { kind: "create", rows: written };
    case "PATCH": {
      if (headers["if-match"] !== undefined) return { kind: "update", rows: written };
      if (headers["if-none-match"]?.trim() === "*") return { kind: "create", rows: written };
      return { kind: "upsert", rows: written };
    }
    case "PUT":
      return { kind: "update", rows: 1 };
    case "DELETE":
      return { kind: path.includes("/") ? "update" : "delete", rows: 1 };
    default:
      return { kind: "other", rows: 0 };
  }
}
