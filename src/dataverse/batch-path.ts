// The $batch path: operations as parts of one $batch without changesets, with
// `Prefer: odata.continue-on-error`, so each part is its own transaction and answers for itself.
// Parts answered 429 or 5xx, or left unanswered, are resent on their own, never their committed
// neighbours; a $batch refused as a whole is halved until each part answers for itself.
import { nextDelay } from "../http/retry.js";
import { Answer } from "./answer.js";
import { batchPart } from "./assemble.js";
import { buildBatch, matchResponses, parseBatchResponse, type BatchPartResponse, type BatchRequestPart } from "./batch.js";
import { bodyText } from "./client.js";
import { DataverseError } from "./errors.js";
import { verdict } from "./outcome.js";
import { reject, type Item, type WriteCall, type WriteContext } from "./write-item.js";

/** A part left unanswered this many times fails the write. */
const MAX_UNANSWERED = 5;

export async function sendBatch(ctx: WriteContext, call: WriteCall, items: Item[]): Promise<void> {
  const root = ctx.pool.rootPath;
  let pending = items;
  while (pending.length > 0) {
    const parts = pending.map((i) => batchPart(i, root, call.headers));
    const built = buildBatch(parts);
    ctx.counts.sent("batch", pending.length);
    const { res, client } = await ctx.pool.send(pending, pending[0]?.op.table, {
      method: "POST",
      path: "$batch",
      headers: { ...call.headers, "Content-Type": built.contentType, Prefer: "odata.continue-on-error" },
      body: built.body,
      units: pending.length,
    });
    const whole = new Answer(res);
    if (whole.runLevel) throw whole.toError("POST", `${root}$batch`, false);
    if (res.status === 413 || (res.status >= 400 && pending.length > 1 && res.status !== 429)) {
      // Too large, or refused as a whole: halve until each part answers for itself.
      if (pending.length === 1) {
        const only = pending[0] as Item;
        call.results[only.index] = reject(res.status, whole.error.code, whole.error.message);
        return;
      }
      const mid = Math.ceil(pending.length / 2);
      await Promise.all([sendBatch(ctx, call, pending.slice(0, mid)), sendBatch(ctx, call, pending.slice(mid))]);
      return;
    }
    let answers: (BatchPartResponse | undefined)[];
    if (whole.ok && /multipart\/mixed/i.test(res.headers["content-type"] ?? "")) {
      answers = matchResponses(pending.length, parseBatchResponse(res.headers["content-type"] ?? "", bodyText(res.body)));
    } else {
      // A single-part batch refused as a whole: that answer belongs to the part.
      answers = pending.length === 1 ? [{ status: res.status, headers: res.headers, body: bodyText(res.body) }] : [];
    }
    const again: Item[] = [];
    let waitMs = 0;
    for (let k = 0; k < pending.length; k++) {
      const item = pending[k] as Item;
      const partAnswer = answers[k];
      const part = parts[k] as BatchRequestPart;
      if (partAnswer === undefined) {
        // Not attempted (the server stopped early): resending cannot duplicate anything.
        item.attempts++;
        if (item.attempts > MAX_UNANSWERED) {
          throw new DataverseError({
            kind: "unexpected",
            status: res.status,
            code: "",
            method: "POST",
            path: `${root}$batch`,
            retryable: false,
            serverMessage: "",
            summary: "the $batch answer repeatedly left operations unanswered",
          });
        }
        again.push(item);
        continue;
      }
      const answer = new Answer(partAnswer);
      const v = verdict(item.op, part.method, part.url, answer);
      if (v.kind === "fatal") throw v.error;
      if (v.kind === "done") {
        call.results[item.index] = v.result;
        continue;
      }
      item.attempts++;
      const delay = nextDelay(item.attempts, v.retryAfterMs === undefined ? { retryable: true } : { retryable: true, retryAfterMs: v.retryAfterMs }, ctx.backoff);
      if (!item.budget.tryCharge(delay)) {
        throw new DataverseError({
          kind: "transient",
          status: answer.status,
          code: answer.error.code,
          method: part.method,
          path: part.url.split("?")[0] ?? part.url,
          retryable: true,
          serverMessage: answer.error.message,
        });
      }
      waitMs = Math.max(waitMs, delay);
      // A 429 on a part is still this user's service protection speaking: pause all its sends.
      if (answer.status === 429) {
        client.throttle.pause(delay);
        ctx.counts.partThrottled(item.op.table);
      }
      again.push(item);
    }
    for (const item of again) ctx.counts.resent(item.op.table);
    if (again.length > 0 && waitMs > 0) await ctx.clock.sleep(waitMs);
    pending = again;
  }
}
