import { describe, expect, it } from "vitest";
import { parseCommand, UsageError } from "./cli.js";

describe("parseCommand", () => {
  it.each([
    [["spec"], { name: "spec" }],
    [["check", "--config", "c.json"], { name: "check", config: "c.json" }],
    [["discover", "--config", "c.json"], { name: "discover", config: "c.json" }],
    [["write", "--config", "c", "--catalog", "k"], { name: "write", config: "c", catalog: "k", dryRun: false }],
    [["write", "--config", "c", "--dry-run", "--input", "f"], { name: "write", config: "c", dryRun: true, input: "f" }],
    [["--config", "c"], { name: "write", config: "c", dryRun: false }],
    [["--about", "--format", "json"], { name: "about", format: "json" }],
    [["--version"], { name: "version" }],
    [["--help"], { name: "help" }],
  ])("%j", (argv, expected) => {
    expect(parseCommand(argv)).toEqual(expected);
  });
  it.each([[[]], [["--dry-run"]], [["check"]], [["bogus"]], [["spec", "--nope"]], [["--about", "--format", "xml"]]])("%j is a usage error", (argv) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
  });
});
