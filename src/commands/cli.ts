// argv → command. Pure: no I/O, so every spelling is unit-testable.
import { parseArgs } from "node:util";

export type Command =
  | { readonly name: "spec" }
  | { readonly name: "check"; readonly config: string }
  | { readonly name: "discover"; readonly config: string }
  | {
      readonly name: "write";
      readonly config: string;
      /** Absent: Singer mode. */
      readonly catalog?: string;
      readonly dryRun: boolean;
      /** Read messages from this file instead of stdin. */
      readonly input?: string;
    }
  | { readonly name: "about"; readonly format: "json" | "markdown" | "text" }
  | { readonly name: "version" }
  | { readonly name: "help" };

export class UsageError extends Error {
  readonly code = "usage";
}

export const USAGE = `Usage:
  destination-dynamics365 spec
  destination-dynamics365 check --config CONFIG
  destination-dynamics365 discover --config CONFIG
  destination-dynamics365 write --config CONFIG [--catalog CATALOG] [--dry-run] [--input FILE]
  destination-dynamics365 --config CONFIG [--input FILE]      (Singer target)
  destination-dynamics365 --about [--format json|markdown]
  destination-dynamics365 --version`;

const SUBCOMMANDS = new Set(["spec", "check", "discover", "write"]);

export function parseCommand(argv: readonly string[]): Command {
  let values: { [k: string]: string | boolean | undefined };
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: "string" },
        catalog: { type: "string" },
        input: { type: "string" },
        state: { type: "string" },
        "dry-run": { type: "boolean" },
        about: { type: "boolean" },
        format: { type: "string" },
        version: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (cause) {
    throw new UsageError(cause instanceof Error ? cause.message : "invalid arguments");
  }
  const str = (k: string): string | undefined => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  if (values["help"] === true) return { name: "help" };
  if (values["version"] === true) return { name: "version" };
  if (values["about"] === true) {
    const format = str("format") ?? "text";
    if (format !== "json" && format !== "markdown" && format !== "text") throw new UsageError("--format must be json or markdown");
    return { name: "about", format };
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument: ${positionals[1] ?? ""}`);
  const sub = positionals[0];
  const config = str("config");
  if (sub === undefined) {
    // Singer convention: `target --config c.json < tap-output`.
    if (config !== undefined) {
      const input = str("input");
      return { name: "write", config, dryRun: values["dry-run"] === true, ...(input !== undefined ? { input } : {}) };
    }
    // Nothing to run is a command line it cannot use: exit 2 with the usage, as the README says.
    throw new UsageError("no command given (and no --config for the Singer form)");
  }
  if (!SUBCOMMANDS.has(sub)) throw new UsageError(`unknown command: ${sub}`);
  if (sub === "spec") return { name: "spec" };
  if (config === undefined) throw new UsageError(`${sub} needs --config`);
  if (sub === "check") return { name: "check", config };
  if (sub === "discover") return { name: "discover", config };
  const catalog = str("catalog");
  const input = str("input");
  return {
    name: "write",
    config,
    dryRun: values["dry-run"] === true,
    ...(catalog !== undefined ? { catalog } : {}),
    ...(input !== undefined ? { input } : {}),
  };
}
