// Source streams the reliability suites replay. Each scenario owns a name prefix, so several can
// share one emulator without seeing each other's rows.
import { startsWith, type Scenario } from "./crash-resume.js";

/** Upsert into contact by its alternate key emailaddress1 (the default environment defines it). */
export function contactUpsert(prefix: string, overrides: Partial<Scenario> = {}): Scenario {
  const stream = `${prefix}_contacts`;
  return {
    label: `${prefix}-upsert`,
    stream,
    entitySet: "contacts",
    streamConfig: { name: stream, table: "contact", mode: "upsert", key: { columns: ["emailaddress1"] } },
    catalogMode: "append_dedup",
    primaryKey: ["emailaddress1"],
    record: (i) => ({ emailaddress1: `${prefix}-${i}@example.com`, firstname: `First ${i}`, lastname: `Last ${i % 97}` }),
    identityColumn: "emailaddress1",
    identity: (i) => `${prefix}-${i}@example.com`,
    compareColumns: ["firstname", "lastname"],
    tableFilter: startsWith("emailaddress1", `${prefix}-`),
    ...overrides,
  };
}

/** A fixed UUIDv5 namespace for the suites' deterministic GUIDs (RFC 4122's URL namespace). */
export const TEST_NAMESPACE = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

/**
 * Create into opportunity, made idempotent by a deterministic GUID: a replayed record addresses the
 * same row. opportunity has no alternate key in the default environment, so only the GUID can stop
 * a duplicate.
 */
export function opportunityCreateDeterministic(prefix: string, overrides: Partial<Scenario> = {}): Scenario {
  const stream = `${prefix}_opportunities`;
  return {
    label: `${prefix}-create-deterministic`,
    stream,
    entitySet: "opportunities",
    streamConfig: { name: stream, table: "opportunity", mode: "create", key: { deterministic: { namespace: TEST_NAMESPACE, fields: ["name"] } } },
    catalogMode: "append",
    record: (i) => ({ name: `${prefix}-opp-${i}`, description: `replayable ${i}` }),
    identityColumn: "name",
    identity: (i) => `${prefix}-opp-${i}`,
    compareColumns: ["description"],
    tableFilter: startsWith("name", `${prefix}-opp-`),
    ...overrides,
  };
}

/** Plain create with no key: at-least-once, the documented behaviour (docs/reliability.md). */
export function opportunityCreateNoKey(prefix: string, overrides: Partial<Scenario> = {}): Scenario {
  const stream = `${prefix}_plain_opportunities`;
  return {
    ...opportunityCreateDeterministic(prefix),
    label: `${prefix}-create-no-key`,
    stream,
    streamConfig: { name: stream, table: "opportunity", mode: "create" },
    record: (i) => ({ name: `${prefix}-plain-${i}`, description: `plain ${i}` }),
    identity: (i) => `${prefix}-plain-${i}`,
    compareColumns: ["description"],
    tableFilter: startsWith("name", `${prefix}-plain-`),
    atLeastOnce: true,
    ...overrides,
  };
}

/**
 * Upsert where every key comes `versions` times (a source that emits every change): record i is
 * version floor(i / keys) of key i % keys, so versions of one key are `keys` records apart. The row
 * must end with the last version.
 */
export function contactVersions(prefix: string, keys: number, versions: number): Scenario {
  const base = contactUpsert(prefix);
  return {
    ...base,
    label: `${prefix}-versions`,
    record: (i) => ({ emailaddress1: `${prefix}-${i % keys}@example.com`, firstname: `v${Math.floor(i / keys)}`, lastname: `Last ${i % keys}` }),
    identity: (i) => `${prefix}-${i % keys}@example.com`,
    finalValues: (i) => ({ firstname: `v${versions - 1}`, lastname: `Last ${i % keys}` }),
    distinctRows: keys,
  };
}
