// What the execution-time model charges an operation: its kind (create, update, upsert, delete,
// one of the bulk actions, a read, a metadata read) and the rows it wrote or returned, read off the
// request and the data service's answer. Pure; the server adds each request's fixed requestMs.
import type { PluginMessage, PluginStep, ServiceResponse } from "./types.js";
import type { OperationKind, Work } from "./limits.js";

const SINGLE_MESSAGE: Partial<Record<OperationKind, "Create" | "Update" | "Upsert" | "Delete">> = {
  create: "Create",
  update: "Update",
  upsert: "Upsert",
  delete: "Delete",
  createMultiple: "Create",
  updateMultiple: "Update",
  upsertMultiple: "Upsert",
};

/**
 * Synchronous plug-in time per table and operation. Learn (bulk-operations, "Message pipelines
 * merged"): a bulk message raises the single message's event once per record, and a single message
 * raises the bulk message's event once with one record; so a step on Create runs per record of a
 * CreateMultiple, a step on CreateMultiple once per request (and once per single Create).
 */
export class PluginTimes {
  readonly #byTable = new Map<string, Map<PluginMessage, number>>();

  constructor(tables: readonly { readonly logicalName: string; readonly entitySetName: string }[], steps: readonly PluginStep[]) {
    const setOf = new Map(tables.map((t) => [t.logicalName, t.entitySetName]));
    for (const step of steps) {
      const set = setOf.get(step.table);
      if (set === undefined) continue;
      let messages = this.#byTable.get(set);
      if (messages === undefined) {
        messages = new Map();
        this.#byTable.set(set, messages);
      }
      messages.set(step.message, (messages.get(step.message) ?? 0) + (step.milliseconds ?? 0));
    }
  }

  /** Plug-in time of an operation on the entity set that `path` starts with. */
  msFor(path: string, work: Work): number {
    const messages = this.#byTable.get(firstSegment(path));
    const single = SINGLE_MESSAGE[work.kind];
    if (messages === undefined || single === undefined) return 0;
    const perRecord = messages.get(single) ?? 0;
    const perRequest = messages.get(`${single}Multiple` as PluginMessage) ?? 0;
    const bulk = work.kind.endsWith("Multiple");
    return work.rows * perRecord + (bulk ? perRequest : work.rows * perRequest);
  }
}

/**
 * Whether the request asks to skip synchronous custom logic: `MSCRM.BypassBusinessLogicExecution`
 * naming CustomSync (bypass-custom-business-logic); the server has checked the privilege.
 */
export function bypassesSyncLogic(headers: Readonly<Record<string, string>>): boolean {
  const value = headers["mscrm.bypassbusinesslogicexecution"];
  return value !== undefined && value.split(",").some((v) => v.trim() === "CustomSync");
}

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

/**
 * The marketing list's actions (list-actions.ts), by what they do to rows: AddListMembersList creates
 * one listmember intersect row per member in one message, as CreateMultiple creates its targets;
 * AddMemberList creates one, RemoveMemberList deletes one. Learn gives no figure of their own.
 */
const LIST_ACTIONS: Readonly<Record<string, OperationKind>> = {
  AddListMembersList: "createMultiple",
  AddMemberList: "create",
  RemoveMemberList: "delete",
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

/**
 * The operation a request (or one $batch part) ran, for the cost model, with the synchronous
 * plug-in time the environment declares for it unless the request bypasses custom sync logic.
 */
export function workOf(op: OperationSeen, plugins?: PluginTimes): Work {
  const work = kindOf(op);
  if (plugins === undefined || work.rows === 0 || bypassesSyncLogic(op.headers)) return work;
  const pluginMs = plugins.msFor(op.path, work);
  return pluginMs > 0 ? { ...work, pluginMs } : work;
}

function kindOf(op: OperationSeen): Work {
  const { method, path, headers, response } = op;
  // The docs give no figure for the work done before a failure. A refused bulk action is charged the
  // rows it ran before the refused one (bulk.ts: they were written, then rolled back with the
  // request; a dearer guess than none, so a client refused often does not look cheap here); any
  // other refused or failed operation its request only.
  if (response.status >= 400) {
    const refusedBulk = method === "POST" ? BULK[lastSegment(path)] : undefined;
    const ran = response.cost?.records ?? 0;
    return refusedBulk !== undefined && ran > 0 ? { kind: refusedBulk, rows: ran } : { kind: "other", rows: 0 };
  }
  const root = firstSegment(path);
  if (method === "GET" || method === "HEAD") {
    if (root === "" || root === "WhoAmI") return { kind: "other", rows: 0 };
    if (METADATA_ROOTS.has(root)) return { kind: "metadata", rows: 1 };
    return { kind: "read", rows: rowsReturned(response) };
  }
  const written = response.cost?.records ?? 1;
  const bulk = BULK[lastSegment(path)];
  if (method === "POST" && bulk !== undefined) return { kind: bulk, rows: response.cost?.records ?? 0 };
  const listAction = LIST_ACTIONS[lastSegment(path)];
  if (method === "POST" && listAction !== undefined) return { kind: listAction, rows: listAction === "createMultiple" ? (response.cost?.records ?? 0) : 1 };
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
