#!/usr/bin/env node
// `npm run demo`: a sync you can watch. Starts the local Dataverse emulator, pipes the bundled
// sample (accounts and their contacts as Airbyte messages with states) through the built
// connector, then prints the states that came out and the rows that landed, read back through
// the Web API. Runs after `npm run build`; everything stays on 127.0.0.1.
import { spawn } from "node:child_process";
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sample = join(root, "integration_tests", "fixtures", "demo", "sample.jsonl");
const { startEmulator } = await import(join(root, "dist", "emulator", "index.js"));

const emulator = await startEmulator({ quiet: true });
const work = mkdtempSync(join(tmpdir(), "d365-demo-"));
let exitCode = 0;
try {
  const config = {
    ...emulator.config,
    // The emulator's sign-in host is local: the connector takes it only when told so.
    allow_custom_authority_host: true,
    streams: [
      { name: "accounts", table: "account", key: { columns: ["accountnumber"] } },
      {
        name: "contacts",
        table: "contact",
        key: { columns: ["emailaddress1"] },
        fields: [
          { source: "account_number", column: "parentcustomerid", value: { value_type: "lookup", table: "account", by: "alternate_key", key_columns: ["accountnumber"] } },
        ],
      },
    ],
  };
  const catalog = {
    streams: ["accounts", "contacts"].map((name) => ({
      stream: { name, json_schema: { type: "object" }, supported_sync_modes: ["full_refresh", "incremental"] },
      sync_mode: "incremental",
      destination_sync_mode: "append_dedup",
    })),
  };
  const configPath = join(work, "config.json");
  const catalogPath = join(work, "catalog.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  writeFileSync(catalogPath, JSON.stringify(catalog, null, 2));

  const secret = emulator.config.client_secret;
  const show = (text) => text.split(secret).join("**********");
  process.stdout.write(`Emulator: ${emulator.config.web_api_endpoint}\n`);
  process.stdout.write(`Running: destination-dynamics365 write --config ${configPath} --catalog ${catalogPath} < ${sample}\n\n`);

  const started = Date.now();
  const child = spawn(process.execPath, [join(root, "dist", "src", "main.js"), "write", "--config", configPath, "--catalog", catalogPath], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  createReadStream(sample).pipe(child.stdin);
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk) => (out += chunk));
  const code = await new Promise((resolve) => child.on("close", resolve));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);

  process.stdout.write(`States emitted by the connector (exit code ${code}, ${seconds} s):\n`);
  for (const line of out.split("\n").filter(Boolean)) {
    const msg = JSON.parse(line);
    if (msg.type === "STATE") {
      const s = msg.state;
      const stats = s.destinationStats ?? {};
      process.stdout.write(
        `  id ${String(s.id).padStart(2)}  ${s.stream.stream_descriptor.name.padEnd(9)} cursor ${String(s.stream.stream_state.cursor).padStart(4)}  ` +
          `written ${stats.recordCount ?? 0}${stats.rejectedRecordCount ? `, rejected ${stats.rejectedRecordCount}` : ""}\n`,
      );
    } else if (msg.type === "LOG" && msg.log.message.startsWith("summary:")) {
      process.stdout.write(`  ${show(msg.log.message)}\n`);
    } else if (msg.type === "TRACE") {
      process.stdout.write(`  ERROR ${show(msg.trace.error?.message ?? "")}\n`);
    }
  }
  if (code !== 0) exitCode = 1;

  // Read the rows back through the Web API, as a user would check a sync.
  const agent = new Agent({ connect: { ca: readFileSync(emulator.config.ca_file, "utf8") } });
  const token = emulator.issueToken(emulator.config.client_id);
  const get = async (path) => {
    const rows = [];
    let next = new URL(path, emulator.config.web_api_endpoint).href;
    while (next) {
      const res = await request(next, { dispatcher: agent, headers: { authorization: `Bearer ${token}`, accept: "application/json", prefer: "odata.maxpagesize=5000" } });
      const body = await res.body.json();
      if (res.statusCode !== 200) throw new Error(`GET ${path} answered ${res.statusCode}`);
      rows.push(...body.value);
      next = body["@odata.nextLink"];
    }
    return rows;
  };
  const accounts = await get("accounts?$select=accountid,accountnumber,name,address1_city&$filter=startswith(accountnumber,'DEMO-')");
  const contacts = await get("contacts?$select=emailaddress1,firstname,lastname,_parentcustomerid_value&$filter=endswith(emailaddress1,'@demo.example.org')");
  const nameOf = new Map(accounts.map((a) => [a.accountid, a.name]));
  const linked = contacts.filter((c) => nameOf.has(c._parentcustomerid_value)).length;
  await agent.close();

  process.stdout.write(`\nRows in Dataverse: ${accounts.length} accounts, ${contacts.length} contacts (${linked} linked to their account)\n\n`);
  const sorted = [...contacts].sort((a, b) => a.emailaddress1.localeCompare(b.emailaddress1)).slice(0, 10);
  const table = sorted.map((c) => [c.emailaddress1, `${c.firstname} ${c.lastname}`, nameOf.get(c._parentcustomerid_value) ?? "(none)"]);
  const headers = ["emailaddress1", "name", "account"];
  const widths = headers.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const fmt = (cells) => `  ${cells.map((c, i) => c.padEnd(widths[i])).join("  ")}\n`;
  process.stdout.write(fmt(headers));
  process.stdout.write(fmt(widths.map((w) => "-".repeat(w))));
  for (const r of table) process.stdout.write(fmt(r));
  process.stdout.write(`  … and ${Math.max(0, contacts.length - table.length)} more\n`);
  if (contacts.length !== 2000 || accounts.length !== 400) exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
  await emulator.close();
}
process.exitCode = exitCode;
