// Secrets (issue 6 item 5): the client secret and access tokens never appear in stdout, stderr, the
// dead-letter file or any error message, across runs with auth errors, rejections and faults;
// https only; the token scope always comes from the configured endpoint's host.
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertNoSecrets, findTokenShapes, type LabelledSecret } from "../helpers/no-secrets.js";
import { runConnector, workdir, type RunResult } from "./connector.js";
import { startTestEmulator, type TestEmulator } from "./emulator.js";
import { recordLine, statesIn, streamStateLine, traceErrorsIn } from "./protocol.js";
import { contactUpsert } from "./scenarios.js";

const WRONG_SECRET = "wrong-secret-Zq8~vN3.kT5_rW1-pL7xQ0";

describe("secrets stay secret", () => {
  let emu: TestEmulator;
  let files: ReturnType<typeof workdir>;
  /** Every text a run produced, by name, for the final sweep. */
  const outputs: Record<string, string> = {};
  let secrets: LabelledSecret[] = [];

  beforeAll(async () => {
    emu = await startTestEmulator();
    files = workdir("secrets");
    secrets = [
      { label: "main client secret", value: emu.connection.client_secret },
      { label: "wrong client secret", value: WRONG_SECRET },
      ...emu.emulator.apps.map((a) => ({ label: `secret of ${a.displayName}`, value: a.clientSecret })),
      // Tokens the emulator issues to the same apps: same shape, same signing key; the connector's own
      // tokens cannot be captured, so the sweep also looks for any JWT shape (findTokenShapes).
      { label: "an access token of the main app", value: emu.emulator.issueToken(emu.connection.client_id) },
    ];
  });
  afterAll(async () => {
    await emu?.close();
    files?.remove();
  });

  function collect(name: string, result: RunResult, deadLetterPath?: string): void {
    outputs[`${name}: stdout`] = result.stdout.join("\n");
    outputs[`${name}: stderr`] = result.stderr;
    if (deadLetterPath !== undefined && existsSync(deadLetterPath)) outputs[`${name}: dead letters`] = readFileSync(deadLetterPath, "utf8");
  }

  function input(stream: string, records: number, record: (i: number) => Record<string, unknown>): string[] {
    const lines: string[] = [];
    for (let i = 0; i < records; i += 1) {
      lines.push(recordLine(stream, record(i)));
      if ((i + 1) % 20 === 0) lines.push(streamStateLine(stream, (i + 1) / 20, i + 1));
    }
    return lines;
  }

  function catalog(stream: string): string {
    return files.json(`catalog-${stream}.json`, {
      streams: [
        {
          stream: { name: stream, json_schema: { type: "object", properties: {} }, supported_sync_modes: ["incremental"] },
          sync_mode: "incremental",
          destination_sync_mode: "append_dedup",
          primary_key: [["emailaddress1"]],
        },
      ],
    });
  }

  it("the detector recognises the emulator's tokens (so a leak could not pass unseen)", () => {
    const token = emu.emulator.issueToken(emu.connection.client_id);
    expect(findTokenShapes({ probe: `x ${token} y` })).toHaveLength(1);
  });

  it("a run with rejections, a revoked token, 429s and 503s", async () => {
    const scenario = contactUpsert("sec");
    const deadLetterPath = join(files.dir, "dead.jsonl");
    const config = files.json("config-faults.json", {
      ...emu.connection,
      streams: [scenario.streamConfig],
      batch_size: 20,
      max_concurrency: 2,
      retry_budget_seconds: 20,
      flush_interval_seconds: 1,
      max_rejected_share: 0.5,
      dead_letter_path: deadLetterPath,
    });
    const writes = { method: "POST", path: "/api/data/" } as const;
    emu.emulator.faults.add(
      { fault: "status", status: 503, after: 1, count: 2, ...writes },
      { fault: "throttle", retryAfterSeconds: 1, after: 3, count: 1, ...writes },
      { fault: "revoke-tokens", after: 5, count: 1, ...writes },
    );
    try {
      const result = await runConnector({
        args: ["write", "--config", config, "--catalog", catalog(scenario.stream)],
        // Every fifth record is refused for its content, so the dead-letter file has lines.
        input: input(scenario.stream, 200, (i) => ({ ...scenario.record(i), ...(i % 5 === 0 ? { firstname: "z".repeat(60) } : {}) })),
        timeoutMs: 60_000,
      });
      collect("faults", result, deadLetterPath);
      expect(result.code, result.stderr.slice(-1000)).toBe(0);
      expect(readFileSync(deadLetterPath, "utf8").split("\n").filter(Boolean)).toHaveLength(40);
    } finally {
      emu.emulator.faults.clear();
    }
    assertNoSecrets(outputs, secrets);
    expect(findTokenShapes(outputs)).toEqual([]);
  });

  it("a wrong client secret: a config_error that names the field, not the value", async () => {
    const scenario = contactUpsert("secwrong");
    const config = files.json("config-wrong.json", { ...emu.connection, client_secret: WRONG_SECRET, streams: [scenario.streamConfig] });
    const write = await runConnector({ args: ["write", "--config", config, "--catalog", catalog(scenario.stream)], input: input(scenario.stream, 20, scenario.record), timeoutMs: 30_000 });
    collect("wrong secret write", write);
    expect(write.code).not.toBe(0);
    const errors = traceErrorsIn(write.stdout);
    expect(errors.map((e) => e.failureType), `stderr ${write.stderr.slice(-1500)}`).toEqual(["config_error"]);
    expect(errors[0]?.message).toMatch(/client_secret|client secret/i);
    const check = await runConnector({ args: ["check", "--config", config], input: [], timeoutMs: 30_000 });
    collect("wrong secret check", check);
    expect(check.stdout.join("\n")).toMatch(/"status":"FAILED"/);
    assertNoSecrets(outputs, secrets);
    expect(findTokenShapes(outputs)).toEqual([]);
  });

  it("a token that keeps being revoked, and an app without privileges: errors without tokens", async () => {
    const scenario = contactUpsert("secrevoke");
    const config = files.json("config-revoke.json", { ...emu.connection, streams: [scenario.streamConfig], retry_budget_seconds: 5, batch_size: 10 });
    emu.emulator.faults.add({ fault: "revoke-tokens", after: 1, method: "POST", path: "/api/data/" });
    try {
      const result = await runConnector({ args: ["write", "--config", config, "--catalog", catalog(scenario.stream)], input: input(scenario.stream, 60, scenario.record), timeoutMs: 30_000 });
      collect("revoked", result);
      expect(traceErrorsIn(result.stdout).map((e) => e.failureType), `exit ${String(result.code)}; stderr ${result.stderr.slice(-1500)}`).toEqual(["config_error"]);
    } finally {
      emu.emulator.faults.clear();
    }
    const readOnly = emu.emulator.apps.find((a) => a.displayName.startsWith("read-only"));
    expect(readOnly).toBeDefined();
    const cfg = files.json("config-readonly.json", { ...emu.connection, client_id: readOnly?.clientId, client_secret: readOnly?.clientSecret, streams: [scenario.streamConfig] });
    const denied = await runConnector({ args: ["write", "--config", cfg, "--catalog", catalog(scenario.stream)], input: input(scenario.stream, 20, scenario.record), timeoutMs: 30_000 });
    collect("read-only", denied);
    expect(denied.code).not.toBe(0);
    assertNoSecrets(outputs, secrets);
    expect(findTokenShapes(outputs)).toEqual([]);
  });

  it("https only: an http endpoint or authority is a config error, and nothing is sent", async () => {
    const scenario = contactUpsert("sechttp");
    const before = emu.emulator.stats().requests.total;
    for (const [name, override] of [
      ["http endpoint", { web_api_endpoint: emu.connection.web_api_endpoint.replace("https://", "http://") }],
      ["http authority", { authority_host: emu.connection.authority_host.replace("https://", "http://") }],
    ] as const) {
      const config = files.json(`config-${name.replace(" ", "-")}.json`, { ...emu.connection, ...override, streams: [scenario.streamConfig] });
      const result = await runConnector({ args: ["write", "--config", config, "--catalog", catalog(scenario.stream)], input: input(scenario.stream, 5, scenario.record), timeoutMs: 30_000 });
      collect(name, result);
      expect(result.code, name).not.toBe(0);
      const errors = traceErrorsIn(result.stdout);
      expect(errors.map((e) => e.failureType), name).toEqual(["config_error"]);
      expect(errors[0]?.message, name).toMatch(/https/i);
      expect(statesIn(result.stdout)).toEqual([]);
    }
    expect(emu.emulator.stats().requests.total, "requests sent despite a non-https config").toBe(before);
    assertNoSecrets(outputs, secrets);
  });

  it("the token scope comes from web_api_endpoint's host, not from the authority", async () => {
    // A second emulator is another Dataverse host. Asking the first one's Entra for a token while the
    // endpoint is the second must fail as an unknown resource (AADSTS500011): proof that the scope
    // named the endpoint, not the authority host.
    const other = await startTestEmulator();
    try {
      const scenario = contactUpsert("secscope");
      const config = files.json("config-scope.json", { ...emu.connection, web_api_endpoint: other.connection.web_api_endpoint, streams: [scenario.streamConfig] });
      const result = await runConnector({ args: ["write", "--config", config, "--catalog", catalog(scenario.stream)], input: input(scenario.stream, 5, scenario.record), timeoutMs: 30_000 });
      collect("scope", result);
      expect(result.code).not.toBe(0);
      const errors = traceErrorsIn(result.stdout);
      expect(errors.map((e) => e.failureType)).toEqual(["config_error"]);
      expect(errors[0]?.message).toMatch(/web_api_endpoint/);
      expect(other.emulator.stats().requests.total, "the other host got requests without a token for it").toBe(0);
    } finally {
      await other.close();
    }
    assertNoSecrets(outputs, secrets);
  });
});
