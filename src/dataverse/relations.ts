// Requests for relationship streams: marketing lists (list table reference, AddListMembersList,
// RemoveMemberList) and many-to-many relationships (associate-disassociate-entities-using-web-api:
// `POST <set>(<row>)/<nav>/$ref` with `@odata.id`, `DELETE <set>(<row>)/<nav>(<id>)/$ref`), and the
// reads they need (ManyToManyRelationships metadata, a row's related rows, rows found by key).
// Many small operations go out as parts of one `$batch` (one request against the request limit);
// a part answered 429 or 5xx is sent again on its own after the server's wait.
import { nextDelay, type BackoffOptions } from "../http/retry.js";
import type { Clock } from "../http/clock.js";
import type { RowRef } from "../model/operation.js";
import { Answer } from "./answer.js";
import { buildBatch, matchResponses, parseBatchResponse, type BatchRequestPart } from "./batch.js";
import { bodyText, type DataverseClient } from "./client.js";
import { DataverseError, isObject } from "./errors.js";
import { encodeQueryValue, entityPath, filterLiteral, keyFilter } from "./keys.js";

/** A marketing list as the list table describes it. */
export interface ListInfo {
  readonly id: string;
  readonly name: string;
  /** Type: true for a dynamic list (members from its query). */
  readonly dynamic: boolean;
  readonly locked: boolean;
  /** CreatedFromCode: 1 account, 2 contact, 4 lead. */
  readonly memberTypeCode: number;
  readonly active: boolean;
  readonly memberCount?: number;
}

/** ManyToManyRelationshipMetadata, the fields a relationship stream uses. */
export interface ManyToManyMeta {
  readonly schemaName: string;
  readonly entity1: string;
  readonly entity2: string;
  readonly entity1Nav: string;
  readonly entity2Nav: string;
}

/** How one operation of a `$batch` ended. */
export type PartOutcome = { readonly ok: true } | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

/** CreatedFromCode of each member table (list table reference). */
export const LIST_MEMBER_TYPES: Readonly<Record<string, number>> = { account: 1, contact: 2, lead: 4 };

const LIST_SELECT = "listid,listname,type,lockstatus,createdfromcode,statecode,membercount";
/** Filtered GETs per `$batch` when finding rows by key, and keys per GET's `$filter`. */
const RESOLVE_PARTS = 20;
const RESOLVE_KEYS = 50;
/** Rows whose related rows one `$batch` reads (remove_missing on a many-to-many relationship). */
const RELATED_PARTS = 500;
/** Attempts of one part answered 429 or 5xx before the run fails. */
const MAX_PART_ATTEMPTS = 8;

export interface RelationsApiOptions {
  readonly client: DataverseClient;
  readonly clock: Clock;
  /** Added to every write (bypass flags, impersonation). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly backoff?: BackoffOptions;
}

function listInfo(row: Record<string, unknown>): ListInfo {
  return {
    id: String(row["listid"] ?? "").toLowerCase(),
    name: String(row["listname"] ?? ""),
    dynamic: row["type"] === true,
    locked: row["lockstatus"] === true,
    memberTypeCode: typeof row["createdfromcode"] === "number" ? row["createdfromcode"] : 0,
    active: row["statecode"] === 0 || row["statecode"] === undefined,
    ...(typeof row["membercount"] === "number" ? { memberCount: row["membercount"] } : {}),
  };
}

export class RelationsApi {
  readonly #client: DataverseClient;
  readonly #clock: Clock;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #backoff: BackoffOptions | undefined;

  constructor(options: RelationsApiOptions) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#headers = options.headers ?? {};
    this.#backoff = options.backoff;
  }

  /** Lists with this name (listname is not unique in Dataverse). */
  async listsNamed(name: string): Promise<ListInfo[]> {
    const out: ListInfo[] = [];
    for await (const page of this.#client.query("lists", { select: LIST_SELECT.split(","), filter: `listname eq ${filterLiteral("listname", name)}` })) {
      out.push(...page.map(listInfo));
    }
    return out;
  }

  async list(id: string): Promise<ListInfo | undefined> {
    try {
      const { body } = await this.#client.get(`lists(${id})?$select=${LIST_SELECT}`);
      return isObject(body) ? listInfo(body) : undefined;
    } catch (err) {
      if (err instanceof DataverseError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Static, unlocked, active lists: those a segment can become the membership of. */
  async staticLists(): Promise<ListInfo[]> {
    const out: ListInfo[] = [];
    for await (const page of this.#client.query("lists", { select: LIST_SELECT.split(","), filter: "type eq false and statecode eq 0", maxPageSize: 5000 })) {
      out.push(...page.map(listInfo).filter((l) => !l.locked));
    }
    return out;
  }

  /** Creates a static list of the member table's type (POST lists, returning the row). */
  async createList(name: string, memberTypeCode: number): Promise<ListInfo> {
    const res = await this.#client.send({
      method: "POST",
      path: `lists?$select=${LIST_SELECT}`,
      headers: { ...this.#headers, "Content-Type": "application/json", Prefer: "return=representation" },
      body: JSON.stringify({ listname: name, createdfromcode: memberTypeCode, type: false }),
    });
    const answer = new Answer(res);
    if (!answer.ok) throw answer.toError("POST", this.#client.resolve("lists"), false);
    const body: unknown = JSON.parse(bodyText(res.body));
    if (!isObject(body)) throw new TypeError("the created list came back without a body");
    return listInfo(body);
  }

  /** The many-to-many relationships a table takes part in. */
  async manyToMany(table: string): Promise<ManyToManyMeta[]> {
    const select = "SchemaName,Entity1LogicalName,Entity2LogicalName,Entity1NavigationPropertyName,Entity2NavigationPropertyName";
    const { body } = await this.#client.get(`EntityDefinitions(LogicalName='${table}')/ManyToManyRelationships?$select=${select}`);
    const value = isObject(body) && Array.isArray(body["value"]) ? body["value"].filter(isObject) : [];
    return value.map((r) => ({
      schemaName: String(r["SchemaName"] ?? ""),
      entity1: String(r["Entity1LogicalName"] ?? ""),
      entity2: String(r["Entity2LogicalName"] ?? ""),
      entity1Nav: String(r["Entity1NavigationPropertyName"] ?? ""),
      entity2Nav: String(r["Entity2NavigationPropertyName"] ?? ""),
    }));
  }

  /** Pages of the rows related to one row through a collection-valued navigation property. */
  async *related(entitySet: string, ref: RowRef, nav: string, select: readonly string[]): AsyncGenerator<Record<string, unknown>[]> {
    let next: string | undefined = `${entityPath(entitySet, ref)}/${nav}?$select=${select.join(",")}`;
    while (next !== undefined) {
      const { body } = await this.#client.get(next, { Prefer: "odata.maxpagesize=5000" });
      if (!isObject(body) || !Array.isArray(body["value"])) return;
      yield body["value"].filter(isObject);
      const link = body["@odata.nextLink"];
      next = typeof link === "string" ? link : undefined;
    }
  }

  /**
   * The related rows of many rows (one GET each, as parts of `$batch`es of up to RELATED_PARTS), for
   * each in the order given; a part with more than one page follows its `@odata.nextLink` on its own.
   */
  async relatedMany(entitySet: string, refs: readonly RowRef[], nav: string, select: readonly string[]): Promise<Record<string, unknown>[][]> {
    const out: Record<string, unknown>[][] = refs.map(() => []);
    const root = this.#client.rootPath;
    for (let i = 0; i < refs.length; i += RELATED_PARTS) {
      const chunk = refs.slice(i, i + RELATED_PARTS);
      const parts = chunk.map((ref) => ({
        method: "GET",
        url: `${root}${entityPath(entitySet, ref)}/${nav}?$select=${select.join(",")}`,
        headers: { Accept: "application/json", Prefer: "odata.maxpagesize=5000" },
      }));
      const next: [number, string][] = [];
      await this.#batch(parts, (k, a) => {
        if (!a.ok) throw a.toError("GET", parts[k]?.url ?? `${root}${entitySet}`, false);
        const body: unknown = JSON.parse(bodyText(a.raw.body));
        if (!isObject(body)) return;
        const rows = Array.isArray(body["value"]) ? body["value"].filter(isObject) : [];
        out[i + k]?.push(...rows);
        const link = body["@odata.nextLink"];
        if (typeof link === "string") next.push([i + k, link]);
      });
      for (const [index, link] of next) {
        let url: string | undefined = link;
        while (url !== undefined) {
          const { body } = await this.#client.get(url, { Prefer: "odata.maxpagesize=5000" });
          if (!isObject(body)) break;
          out[index]?.push(...(Array.isArray(body["value"]) ? body["value"].filter(isObject) : []));
          const more = body["@odata.nextLink"];
          url = typeof more === "string" ? more : undefined;
        }
      }
    }
    return out;
  }

  /**
   * Finds rows by their refs: each ref's row (with the selected columns) or undefined when no row
   * has it. Keys go in `$filter`s of up to RESOLVE_KEYS keys, RESOLVE_PARTS of them per `$batch`.
   */
  async find(entitySet: string, primaryId: string, refs: readonly RowRef[], select: readonly string[], identityOf: (row: Record<string, unknown>) => readonly string[], refIdentity: (ref: RowRef) => string): Promise<Map<string, Record<string, unknown>>> {
    const found = new Map<string, Record<string, unknown>>();
    const clauses = refs.map((ref) => (ref.kind === "id" ? `${primaryId} eq ${ref.id.toLowerCase()}` : `(${keyFilter(ref)})`));
    const gets: string[] = [];
    for (let i = 0; i < clauses.length; i += RESOLVE_KEYS) {
      const filter = clauses.slice(i, i + RESOLVE_KEYS).join(" or ");
      gets.push(`${entitySet}?$select=${[primaryId, ...select.filter((c) => c !== primaryId)].join(",")}&$filter=${encodeQueryValue(filter)}`);
    }
    for (let i = 0; i < gets.length; i += RESOLVE_PARTS) {
      const parts = gets.slice(i, i + RESOLVE_PARTS).map((url) => ({ method: "GET", url: `${this.#client.rootPath}${url}`, headers: { Accept: "application/json" } }));
      await this.#batch(parts, (_i, a) => {
        if (!a.ok) throw a.toError("GET", `${this.#client.rootPath}${entitySet}`, false);
        const body: unknown = JSON.parse(bodyText(a.raw.body));
        const rows = isObject(body) && Array.isArray(body["value"]) ? body["value"].filter(isObject) : [];
        for (const row of rows) for (const id of identityOf(row)) found.set(id, row);
      });
    }
    // Keep only what was asked for (a filter by key may match by collation what the ref spells otherwise).
    const out = new Map<string, Record<string, unknown>>();
    for (const ref of refs) {
      const id = refIdentity(ref);
      const row = found.get(id);
      if (row !== undefined) out.set(id, row);
    }
    return out;
  }

  /** AddListMembersList: the members (GUIDs of the list's member table) join the list in one request. */
  async addListMembers(listId: string, memberTable: string, primaryId: string, ids: readonly string[]): Promise<PartOutcome> {
    const res = await this.#client.send({
      method: "POST",
      path: "AddListMembersList",
      headers: { ...this.#headers, "Content-Type": "application/json" },
      body: JSON.stringify({
        List: { "@odata.type": "Microsoft.Dynamics.CRM.list", listid: listId },
        Members: ids.map((id) => ({ "@odata.type": `Microsoft.Dynamics.CRM.${memberTable}`, [primaryId]: id })),
      }),
      units: ids.length,
    });
    const answer = new Answer(res);
    if (answer.ok) return { ok: true };
    if (answer.runLevel) throw answer.toError("POST", this.#client.resolve("AddListMembersList"), false);
    return { ok: false, status: answer.status, code: answer.error.code, message: answer.error.message };
  }

  /** RemoveMemberList for each member, as the parts of `$batch`es. */
  removeListMembers(listId: string, ids: readonly string[]): Promise<PartOutcome[]> {
    const root = this.#client.rootPath;
    return this.#parts(
      ids.map((id) => ({
        method: "POST",
        url: `${root}lists(${listId})/Microsoft.Dynamics.CRM.RemoveMemberList`,
        headers: this.#headers,
        body: JSON.stringify({ EntityId: id }),
      })),
    );
  }

  /** `POST <from>/<nav>/$ref {"@odata.id": <to's absolute URL, as Learn's example writes it>}` for each pair. */
  associate(pairs: readonly { readonly from: string; readonly nav: string; readonly to: string }[]): Promise<PartOutcome[]> {
    const root = this.#client.rootPath;
    return this.#parts(
      pairs.map((p) => ({ method: "POST", url: `${root}${p.from}/${p.nav}/$ref`, headers: this.#headers, body: JSON.stringify({ "@odata.id": this.#client.resolve(p.to) }) })),
    );
  }

  /** `DELETE <from>/<nav>(<to id>)/$ref` for each pair. */
  disassociate(pairs: readonly { readonly from: string; readonly nav: string; readonly toId: string }[]): Promise<PartOutcome[]> {
    const root = this.#client.rootPath;
    return this.#parts(pairs.map((p) => ({ method: "DELETE", url: `${root}${p.from}/${p.nav}(${p.toId})/$ref`, headers: this.#headers })));
  }

  /** Sends operations as `$batch`es of up to 1000 parts; each part's outcome, in order. */
  async #parts(parts: readonly BatchRequestPart[]): Promise<PartOutcome[]> {
    const out: PartOutcome[] = [];
    for (let i = 0; i < parts.length; i += 1000) {
      const chunk = parts.slice(i, i + 1000);
      const results: PartOutcome[] = new Array<PartOutcome>(chunk.length);
      await this.#batch(chunk, (k, a) => {
        results[k] = a.ok ? { ok: true } : { ok: false, status: a.status, code: a.error.code, message: a.error.message };
      });
      out.push(...results);
    }
    return out;
  }

  /**
   * One `$batch` without changesets (`odata.continue-on-error`: each part answers for itself); parts
   * answered 429 or 5xx, or left unanswered, go again after the server's wait. A refusal that
   * concerns the whole run (credentials, privilege) fails it.
   */
  async #batch(parts: readonly BatchRequestPart[], settle: (index: number, answer: Answer) => void): Promise<void> {
    let pending = parts.map((part, index) => ({ part, index, attempts: 0 }));
    const root = this.#client.rootPath;
    while (pending.length > 0) {
      const built = buildBatch(pending.map((p) => p.part));
      const res = await this.#client.send({
        method: "POST",
        path: "$batch",
        headers: { ...this.#headers, "Content-Type": built.contentType, Prefer: "odata.continue-on-error" },
        body: built.body,
        units: pending.length,
      });
      const whole = new Answer(res);
      if (!whole.ok) throw whole.toError("POST", `${root}$batch`, false);
      const answers = matchResponses(pending.length, parseBatchResponse(res.headers["content-type"] ?? "", bodyText(res.body)));
      const again: typeof pending = [];
      let waitMs = 0;
      pending.forEach((p, k) => {
        const raw = answers[k];
        const answer = raw === undefined ? undefined : new Answer(raw);
        if (answer !== undefined && answer.runLevel) throw answer.toError(p.part.method, p.part.url, false);
        if (answer !== undefined && !answer.retry.retryable) {
          settle(p.index, answer);
          return;
        }
        p.attempts++;
        if (p.attempts >= MAX_PART_ATTEMPTS) {
          throw new DataverseError({
            kind: "transient",
            status: answer?.status ?? res.status,
            code: answer?.error.code ?? "",
            method: p.part.method,
            path: p.part.url.split("?")[0] ?? p.part.url,
            retryable: true,
            serverMessage: answer?.error.message ?? "",
            summary: "an operation of a $batch kept being refused for now",
          });
        }
        const decision = answer === undefined ? { retryable: true } : answer.retry;
        waitMs = Math.max(waitMs, nextDelay(p.attempts, decision, this.#backoff));
        again.push(p);
      });
      if (again.length > 0) await this.#clock.sleep(waitMs);
      pending = again;
    }
  }
}
