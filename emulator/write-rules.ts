// Platform rules a write passes before its row is stored, each producing the error code Learn's
// web-service-error-codes list gives for it. Kept in one file, called once from RowEngine.write,
// the one write path, so every kind of write meets the same rules.
//
//   0x80040333 DuplicateRecordsFound "A record was not created or updated because a duplicate of
//     the current record already exists." (412): duplicate detection, which is off for Web API
//     writes unless the request sends `MSCRM.SuppressDuplicateDetection: false`
//     (LEARN/webapi/manage-duplicate-detection-create-update). The rules are the ones a new
//     environment publishes: accounts with the same account name, contacts and leads with the
//     same email address.
//   0x80040231 PrincipalPrivilegeDenied "Target user or team does not hold required privileges."
//     (403): a row assigned (ownerid) to a user who may not read the table.
//   0x80040265 (400): a synchronous plug-in threw InvalidPluginExecutionException; its message is
//     the error's message (LEARN/plug-ins/handle-exceptions). Plug-ins come from the environment's
//     `plugins` steps, since the emulator runs no code of its own.
import { DataverseError } from "./errors.js";
import type { Environment, PluginStep } from "./types.js";

export type { PluginStep };
import type { TableModel } from "./model.js";
import { isLookup, type Row, type Value } from "./store.js";


/** Table logical name → the column its published duplicate-detection rule compares (exact match). */
const DUPLICATE_RULES: Readonly<Record<string, string>> = { account: "name", contact: "emailaddress1", lead: "emailaddress1" };

export interface WriteCheck {
  readonly env: Pick<Environment, "apps" | "plugins">;
  readonly model: TableModel;
  /** The row's values as they would be stored. */
  readonly values: Readonly<Record<string, Value>>;
  readonly id: string;
  readonly creating: boolean;
  /** Rows already in the table. */
  readonly rows: Iterable<Row>;
  /** Request headers, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
}

/** The first rule the write breaks, or undefined. Order: plug-ins (pre-operation), owner, duplicates. */
export function writeRuleRefusal(w: WriteCheck): DataverseError | undefined {
  return pluginRefusal(w) ?? ownerRefusal(w) ?? duplicateRefusal(w);
}

function pluginRefusal(w: WriteCheck): DataverseError | undefined {
  const message = w.creating ? "Create" : "Update";
  for (const step of w.env.plugins ?? []) {
    if (step.table !== w.model.logicalName || step.message !== message || step.column === undefined) continue;
    if ((w.values[step.column] ?? null) === (step.equals ?? null)) return new DataverseError(400, "0x80040265", step.error ?? "");
  }
  return undefined;
}

function ownerRefusal(w: WriteCheck): DataverseError | undefined {
  const owner = w.values["ownerid"];
  if (!isLookup(owner) || owner.table !== "systemuser") return undefined;
  const user = w.env.apps.find((a) => a.applicationUser?.systemUserId.toLowerCase() === owner.id.toLowerCase())?.applicationUser;
  // A user the environment gives no privileges for (a plain systemuser row) is not checked.
  if (user === undefined) return undefined;
  const may = (user.privileges[w.model.logicalName] ?? []).includes("read") || (user.privileges["*"] ?? []).includes("read");
  return may ? undefined : new DataverseError(403, "0x80040231", "Target user or team does not hold required privileges.");
}

function duplicateRefusal(w: WriteCheck): DataverseError | undefined {
  if (w.headers["mscrm.suppressduplicatedetection"]?.toLowerCase() !== "false") return undefined;
  const column = DUPLICATE_RULES[w.model.logicalName];
  if (column === undefined) return undefined;
  const value = comparable(w.values[column]);
  if (value === undefined) return undefined;
  for (const row of w.rows) {
    if (row.id !== w.id && comparable(row.values[column]) === value) {
      return new DataverseError(412, "0x80040333", "A record was not created or updated because a duplicate of the current record already exists.");
    }
  }
  return undefined;
}

/** Text as a duplicate-detection rule compares it: case-insensitive, blanks ignored; no value never matches. */
function comparable(v: Value | undefined): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = v.trim().toLowerCase();
  return t === "" ? undefined : t;
}
