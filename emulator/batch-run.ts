// Running a `$batch` request (execute-batch-operations-using-web-api): batch.ts parses and frames it,
// this file runs each part as one Web API operation of the caller, changesets in one transaction,
// and adds up what the parts cost (one requestMs for the batch, each part as the single operation
// it is: Learn, optimize-performance-create-update, "no improved efficiency per operation").
import type { Caller, DataService, ServiceRequest, ServiceResponse } from "./types.js";
import type { Work } from "./limits.js";
import { workOf, type PluginTimes } from "./cost.js";
import { errors } from "./errors.js";
import { errorResponse } from "./responses.js";
import { executeBatch, formatBatchResponse, parseBatch, type BatchPart } from "./batch.js";
import { apiRootOf } from "./api-root.js";
import { type AdmissionControl, withCost } from "./admission.js";
import { errorCause } from "./emulator-error.js";
import { type Answer, toAnswer } from "./sockets.js";

export interface BatchOutcome {
  readonly answer: Answer;
  readonly executionMs: number;
  /** Records written by parts that were not rolled back. */
  readonly records: number;
}

export interface BatchContext {
  readonly service: DataService;
  readonly admission: AdmissionControl;
  readonly log: (line: string) => void;
  readonly plugins?: PluginTimes;
}

export function runBatch(ctx: BatchContext, headers: Readonly<Record<string, string>>, body: string, caller: Caller, serviceRoot: string): BatchOutcome {
  const parsed = parseBatch(headers["content-type"], body);
  if (!parsed.ok) return { answer: toAnswer(errorResponse(errors.batchRefused(parsed))), executionMs: ctx.admission.charge([]), records: 0 };
  // The batch request's bypass header covers its parts (the privilege was checked on it).
  const bypass = headers["mscrm.bypassbusinesslogicexecution"];
  const works: Work[] = [];
  const continueOnError = /(^|[,;\s])odata\.continue-on-error(\s*=\s*true)?\s*($|[,;])/i.test(headers["prefer"] ?? "");
  const outcome = executeBatch(
    parsed.items,
    {
      run: (part, refs) => {
        const { response, path } = runPart(ctx, part, refs, caller, serviceRoot);
        // A part's own bypass header counts only for a caller holding the privilege (the server
        // checked it on the batch request alone); otherwise the batch request's applies.
        const own = part.headers["mscrm.bypassbusinesslogicexecution"];
        const effective = own !== undefined && caller.hasSpecial("prvBypassCustomBusinessLogic") ? own : bypass;
        const partHeaders = { ...part.headers, "mscrm.bypassbusinesslogicexecution": effective ?? "" };
        works.push(workOf({ method: part.method, path, headers: partHeaders, response }, ctx.plugins));
        return response;
      },
      transaction: (fn) => ctx.service.transaction(fn),
    },
    continueOnError,
  );
  // Parts of a rolled-back changeset ran, so they are charged too.
  const executionMs = ctx.admission.charge(works);
  // Rows of a rolled-back changeset are not written; count only the parts that survived.
  let records = 0;
  for (const item of outcome.items) {
    const parts = item.kind === "response" ? [item.part] : item.parts;
    for (const p of parts) {
      const c = p.response.cost;
      if (c !== undefined && p.response.status < 300) records += c.records;
    }
  }
  const formatted = formatBatchResponse(outcome.items);
  const preferenceApplied = continueOnError ? { "preference-applied": "odata.continue-on-error" } : {};
  return {
    answer: {
      status: outcome.status,
      headers: { "content-type": formatted.contentType, "odata-version": "4.0", ...preferenceApplied },
      body: formatted.body,
    },
    executionMs,
    records,
  };
}

/** Runs one part; `path` is its target relative to the service root ("" when it points elsewhere). */
function runPart(
  ctx: BatchContext,
  part: BatchPart,
  refs: ReadonlyMap<string, string> | undefined,
  caller: Caller,
  serviceRoot: string,
): { response: ServiceResponse; path: string } {
  let url = part.url;
  const ref = /^\$[A-Za-z0-9_.-]+/.exec(url)?.[0];
  if (ref !== undefined) {
    const resolved = refs?.get(ref);
    if (resolved !== undefined) url = resolved + url.slice(ref.length);
  }
  const relative = relativeToRoot(url, serviceRoot);
  if (relative === undefined) return { response: errorResponse(errors.invalidBatchUri(part.url)), path: "" };
  const queryAt = relative.indexOf("?");
  const request: ServiceRequest = {
    method: part.method,
    path: queryAt < 0 ? relative : relative.slice(0, queryAt),
    query: queryAt < 0 ? "" : relative.slice(queryAt + 1),
    headers: part.headers,
    body: part.body,
    caller,
    serviceRoot,
    ...(refs === undefined ? {} : { contentIdRefs: refs }),
  };
  try {
    return { response: withCost(part.method, ctx.service.handle(request)), path: request.path };
  } catch (error) {
    ctx.log(`emulator: service failed on a $batch part: ${errorCause(error)}`);
    return { response: errorResponse(errors.internal()), path: request.path };
  }
}

/** The part's URL relative to the service root, or undefined if it points elsewhere. */
function relativeToRoot(url: string, serviceRoot: string): string | undefined {
  if (url.startsWith(serviceRoot)) return url.slice(serviceRoot.length);
  if (/^https?:\/\//i.test(url)) {
    // Absolute URL of another host spelling (localhost vs 127.0.0.1): compare by path.
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    if (pathStart < 0) return undefined;
    url = url.slice(pathStart);
  }
  const root = apiRootOf(url);
  if (root !== undefined) return url.slice(root.length);
  if (url.startsWith("/")) return undefined;
  return url;
}
