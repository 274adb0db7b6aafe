// What mapping hands to the writer: one Dataverse row operation, in our vocabulary.
// The writer (dataverse/) turns it into a URL, a $batch part or a bulk-action target.

/**
 * A scalar value ready for the JSON body (already coerced to the column's type). A bigint is a
 * BigInt column's value beyond ±2^53, which a JSON number of JavaScript's cannot carry: the writer
 * writes its digits as the number literal.
 */
export type ColumnValue = string | number | bigint | boolean | null;

/** How a row is addressed. */
export type RowRef =
  | { readonly kind: "id"; readonly id: string }
  /** Alternate key: column → raw value (not yet an OData literal; dataverse/ formats it). */
  | { readonly kind: "key"; readonly values: ReadonlyArray<readonly [column: string, value: string | number]> }
  /** Plain create with a server-assigned id. */
  | { readonly kind: "none" };

export interface LookupBinding {
  /** Case-sensitive navigation property, e.g. "parentcustomerid_account". */
  readonly navigationProperty: string;
  /** Lookup column logical name, e.g. "parentcustomerid" (read side: `_parentcustomerid_value`). Set by mapping. */
  readonly column?: string;
  /** null clears the lookup. */
  readonly target: { readonly entitySet: string; readonly table: string; readonly ref: RowRef } | null;
}

export type OperationKind = "create" | "upsert" | "update" | "delete" | "deactivate";

export interface Operation {
  readonly kind: OperationKind;
  /** Logical name, e.g. "contact". */
  readonly table: string;
  /** Entity set, e.g. "contacts". */
  readonly entitySet: string;
  readonly ref: RowRef;
  /** Column logical name → value. Never contains the key columns of an alternate-key ref. */
  readonly columns: Readonly<Record<string, ColumnValue>>;
  readonly bindings: readonly LookupBinding[];
}

/** A problem with one record, found by mapping. Never carries the value itself. */
export interface RecordIssue {
  /** JSON path inside the record, e.g. "/birthdate" or "/address/city". */
  readonly field: string;
  /** Stable machine code, e.g. "too_long", "not_a_number", "unknown_choice". */
  readonly code: string;
  /** Human sentence naming column and rule, never the value. */
  readonly message: string;
}

export type MapResult =
  | { readonly ok: true; readonly operation: Operation; readonly truncated: readonly string[] }
  | {
      readonly ok: false;
      readonly issues: readonly RecordIssue[];
      /**
       * The record's key, when its key fields were present and valid, so a rejection names the
       * record: the GUID (id_field), the alternate-key column → value object (as the writer
       * addresses the row), or the source key field → value object of a deterministic id.
       */
      readonly key?: RecordKey;
    };

export type RecordKey = string | Readonly<Record<string, string | number | boolean>>;
