// The end of a clean run, for the streams that enable mirror: remove the rows in scope that the
// sync did not send. Destructive, so it runs last, after every state went out, and only for a
// stream that reported COMPLETE.
import type { WriteOptions, Writer } from "../model/writer.js";
import type { Output } from "../protocol/emit.js";
import { toConnectorError } from "./failures.js";
import type { FailureHints } from "./failures.js";
import { runMirror } from "./mirror.js";
import type { MirrorReader } from "./mirror.js";
import type { Sink } from "./sink.js";

export interface MirrorRunDeps {
  readonly output: Output;
  readonly reader: MirrorReader | undefined;
  readonly writer: Writer;
  readonly batchSize: number;
  readonly writeOptions: WriteOptions | undefined;
  readonly hints: FailureHints;
}

export async function runMirrors(deps: MirrorRunDeps, sinks: Iterable<Sink>): Promise<void> {
  for (const sink of sinks) {
    const mirror = sink.mapping.mirror;
    if (sink.mirror === undefined || mirror === undefined || deps.reader === undefined) continue;
    const name = sink.name;
    if (sink.status !== "COMPLETE") {
      await deps.output.log("WARN", `mirror: stream "${name}" did not report COMPLETE, so no rows were removed`);
      continue;
    }
    const result = await runMirror(
      {
        reader: deps.reader,
        writer: deps.writer,
        batchSize: deps.batchSize,
        ...(deps.writeOptions !== undefined ? { writeOptions: deps.writeOptions } : {}),
      },
      sink.plan,
      sink.mirror,
      mirror,
    ).catch((err: unknown) => {
      throw toConnectorError(err, { stream: name }, deps.hints);
    });
    if (result.kind === "skipped") {
      await deps.output.log("WARN", `mirror: stream "${name}" skipped: ${result.reason}`);
      continue;
    }
    const failed = [...result.failed].map(([c, n]) => `${c} ×${n}`).join(", ");
    await deps.output.log(
      "INFO",
      `mirror: stream "${name}" → ${sink.mapping.table}: ${mirror.action === "delete" ? "deleted" : "deactivated"} ${result.removed} of ${result.inScope} rows in scope${failed !== "" ? `; refused: ${failed}` : ""}${result.unmatchable > 0 ? `; ${result.unmatchable} rows without key values kept` : ""}`,
    );
  }
}
