// The bulk path: operations of one kind on one table as the targets of one bulk action. A bulk
// request is all-or-nothing on standard tables: when one is refused for its content, its operations
// are split in halves and resent as bulk, down to `isolateBelow` operations, which go through $batch,
// where each part answers for itself. One bad row then costs its own rejection plus about
// 2·log2(n) small bulk requests, not the other 999 rows.
import type { TableMeta } from "../model/table-meta.js";
import { Answer } from "./answer.js";
import { bulkAssemblerFor, bulkRequest, type BulkAssembler } from "./assemble.js";
import { sendBatch } from "./batch-path.js";
import { isDuplicateRefusal, reject, restoreFallback, type Item, type WriteCall, type WriteContext } from "./write-item.js";

export async function sendBulk(ctx: WriteContext, call: WriteCall, items: Item[], meta: TableMeta, assembler: BulkAssembler): Promise<void> {
  const { path, body } = bulkRequest(items, meta, assembler);
  ctx.counts.sent("bulk", items.length);
  const { res } = await ctx.pool.send(items, items[0]?.op.table, {
    method: "POST",
    path,
    headers: { ...call.headers },
    body,
    units: items.length,
  });
  const answer = new Answer(res);
  if (answer.ok) {
    for (const i of items) call.results[i.index] = { ...assembler.done };
    return;
  }
  if (answer.runLevel) throw answer.toError("POST", `${ctx.pool.rootPath}${path}`, false);
  if (assembler.kind === "create" && isDuplicateRefusal(res.status, answer.error.code) && items.every((i) => i.fallback !== undefined)) {
    // Creates narrowed from upserts (changes.ts) met a row that is there. Those sent unread
    // (new-rows.ts) keep the refusal: the writer reads and narrows them as it would have. The others
    // met a row created since it was read: send them as the upserts they were, so the record is
    // neither lost nor written twice.
    const raced: Item[] = [];
    for (const i of items) {
      if (i.unread) call.results[i.index] = reject(res.status, answer.error.code, answer.error.message);
      else raced.push(i);
    }
    if (raced.length === 0) return;
    for (const i of raced) restoreFallback(i);
    const upsert = bulkAssemblerFor((raced[0] as Item).op, meta, true);
    await (upsert === undefined ? sendBatch(ctx, call, raced) : sendBulk(ctx, call, raced, meta, upsert));
    return;
  }
  ctx.counts.split();
  if (items.length <= ctx.isolateBelow && res.status !== 413) {
    await sendBatch(ctx, call, items);
    return;
  }
  if (items.length === 1) {
    const only = items[0] as Item;
    call.results[only.index] = reject(res.status, answer.error.code, answer.error.message);
    return;
  }
  const mid = Math.ceil(items.length / 2);
  await Promise.all([sendBulk(ctx, call, items.slice(0, mid), meta, assembler), sendBulk(ctx, call, items.slice(mid), meta, assembler)]);
}
