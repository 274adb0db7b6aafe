// The row diff moved to model/row-diff.ts (dataverse/changes.ts uses it too); mapping keeps its name.
export { diffRow, type DiffAction, type RowDiff } from "../model/row-diff.js";
