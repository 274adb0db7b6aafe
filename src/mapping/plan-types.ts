// The shape of a stream's plan: what planStream (plan.ts) makes of a mapping and its table, and
// what mapping a record (record.ts) reads.
import type { NullHandling, WriteMode } from "../config/types.js";
import type { ColumnMeta, TableMeta } from "../model/table-meta.js";
import type { StatePair } from "./choices.js";

export interface PlanIssue {
  readonly stream: string;
  readonly field?: string;
  readonly code: string;
  readonly message: string;
  readonly severity: "error" | "warning";
}

export interface KeyPart {
  /** Source field holding the value. */
  readonly field: string;
  readonly column: ColumnMeta;
}

export type KeyPlan =
  | { readonly kind: "none" }
  | { readonly kind: "id"; readonly field: string }
  | { readonly kind: "key"; readonly keyName: string; readonly parts: readonly KeyPart[] }
  | { readonly kind: "deterministic"; readonly namespace: string; readonly fields: readonly string[] };

export type TargetStrategy =
  | { readonly by: "id" }
  | { readonly by: "key"; readonly keyName: string; readonly columns: readonly ColumnMeta[] }
  | { readonly by: "deterministic"; readonly namespace: string };

export interface TargetResolver {
  readonly table: string;
  readonly entitySet: string;
  readonly navigationProperty: string;
  readonly strategy: TargetStrategy;
}

export interface LookupPlan {
  /** Source field holding the lookup value. */
  readonly field: string;
  /** Lookup column logical name on this table, e.g. "parentcustomerid". */
  readonly column: string;
  readonly nulls: NullHandling;
  /** SystemRequired: a null cannot clear it (the record is refused instead). */
  readonly required?: boolean;
  /** The target table chosen in the mapping; undefined when chosen per row. */
  readonly table?: string;
  /** Source field naming the target table per row (polymorphic lookups). */
  readonly tableField?: string;
  /** Target table logical name → how to reach it. */
  readonly targets: ReadonlyMap<string, TargetResolver>;
}

export interface ColumnPlan {
  readonly field: string;
  readonly column: ColumnMeta;
  readonly nulls: NullHandling;
  readonly delimiter?: string;
}

export interface StreamPlan {
  readonly stream: string;
  readonly table: TableMeta;
  readonly mode: WriteMode;
  readonly deleteAction: "delete" | "deactivate";
  readonly nulls: NullHandling;
  readonly truncateStrings: boolean;
  readonly key: KeyPlan;
  /** Mapped source fields written as plain column values. */
  readonly columns: readonly ColumnPlan[];
  /** Mapped source fields written as lookup bindings. */
  readonly lookups: readonly LookupPlan[];
  /** Column logical name → metadata, for unmapped fields that pass through under their own name. */
  readonly passthrough: ReadonlyMap<string, ColumnMeta>;
  /** Single-target lookup columns that pass through by name, bound by GUID. */
  readonly passthroughLookups: ReadonlyMap<string, LookupPlan>;
  /** Columns never written in the body: the key columns of an alternate key, the primary id of an id ref. */
  readonly excludedColumns: ReadonlySet<string>;
  /** Source fields the plan reads (mapped, key, per-row table fields) plus passthrough names. */
  readonly knownFields: ReadonlySet<string>;
  /** Statecode/statuscode for deactivation; undefined when the table has no usable inactive state. */
  readonly inactive?: StatePair;
  /** The table's State and Status columns, looked up once rather than per record. */
  readonly stateColumn?: ColumnMeta;
  readonly statusColumn?: ColumnMeta;
}
