// Where the Web API starts in a URL path.

/**
 * Web API versions served. Learn's pages use v9.2 today and v9.0/v9.1 in older samples (the $batch
 * page's examples still say v9.1); Dataverse serves all of them with the same behaviour, and echoes
 * the version a request used in the URLs it returns.
 */
const API_ROOT_PATTERN = /^\/api\/data\/v9\.[012]\//;

/** `/api/data/v9.x/` when the path is under one of the served versions, else undefined. */
export function apiRootOf(path: string): string | undefined {
  return API_ROOT_PATTERN.exec(path)?.[0] ?? (/^\/api\/data\/v9\.[012]$/.test(path) ? `${path}/` : undefined);
}
