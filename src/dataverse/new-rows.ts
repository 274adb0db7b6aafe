// When to skip the change filter's read (changes.ts). Its read of a batch's rows is what lets an
// upsert of a new row go as a create, and a row already as sent not be written at all. On an initial
// load every read comes back empty: it proves, one request per batch, what the create itself would
// prove. Once reads of a table (entity set and key shape) have found none of the rows they looked
// for, over NEW_ROWS_EVIDENCE rows in a row, the upserts of its next batches go as creates unread:
// the writer marks them `unread` (write-item.ts), and a create of a row that exists after all is
// refused (duplicate key; on a standard table a bulk create is all-or-nothing, so nothing of that
// request was written). Those rows are then read and narrowed as they would have been, so each is
// created, updated with what changed, or left alone, and never written twice.
//
// A guess that met a row costs a refused request, so after each miss the evidence needed before the
// next guess is four times larger: a table whose rows are mostly there soon stops guessing.

/** Rows that reads must have found absent, with none found in between, before the first guess. */
export const NEW_ROWS_EVIDENCE = 2000;

/** The most evidence a table is asked for after misses (each miss multiplies it by 4). */
const MAX_EVIDENCE = 2_000_000;

interface Tally {
  /** Rows read since the last row found (or the last miss), all absent. */
  absent: number;
  /** What `absent` must reach before this table's upserts go unread. */
  needed: number;
}

export class NewRowGuess {
  readonly #tables = new Map<string, Tally>();

  #tally(group: string): Tally {
    let t = this.#tables.get(group);
    if (t === undefined) {
      t = { absent: 0, needed: NEW_ROWS_EVIDENCE };
      this.#tables.set(group, t);
    }
    return t;
  }

  /** Whether the upserts of this group (`entitySet|keyShape`) should go as creates without a read. */
  unread(group: string): boolean {
    const t = this.#tables.get(group);
    return t !== undefined && t.absent >= t.needed;
  }

  /** A read of `rows` rows of the group found `found` of them (only reads that proved every row count). */
  read(group: string, rows: number, found: number): void {
    const t = this.#tally(group);
    if (found > 0) t.absent = 0;
    else t.absent += rows;
  }

  /** An unread create of the group met a row that was there. */
  missed(group: string): void {
    const t = this.#tally(group);
    t.absent = 0;
    t.needed = Math.min(t.needed * 4, MAX_EVIDENCE);
  }
}
