// Command dispatch: builds the output for the protocol in use, runs the command, and turns
// any failure into one TRACE ERROR and a non-zero exit code.
import { parseCommand, UsageError, USAGE } from "./cli.js";
import type { Command } from "./cli.js";
import { AirbyteOutput, LineSink, SingerOutput } from "../protocol/emit.js";
import type { Output } from "../protocol/emit.js";
import { aboutText } from "./about.js";
import { errorTrace } from "./errors.js";
import type { CommandIO } from "./io.js";
import { runSpec } from "./spec.js";
import { runCheck } from "./check.js";
import { runDiscover } from "./discover.js";
import { runWrite } from "./write.js";
import { TerminalStatus } from "../pipeline/report.js";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export async function run(io: CommandIO): Promise<number> {
  const terminal = new TerminalStatus(io.stderr, io.stderrIsTTY === true);
  const stdout = new LineSink(io.stdoutIsTTY === true ? terminal.wrap(io.stdout) : io.stdout);
  const stderr = new LineSink(terminal.wrap(io.stderr));
  let command: Command;
  try {
    command = parseCommand(io.argv);
  } catch (err) {
    if (err instanceof UsageError) {
      await stderr.writeLine(`${err.message}\n${USAGE}`);
      return EXIT_USAGE;
    }
    throw err;
  }
  switch (command.name) {
    case "help":
      await stderr.writeLine(USAGE);
      return EXIT_OK;
    case "version":
      await stdout.writeLine(io.version);
      return EXIT_OK;
    case "about":
      await stdout.writeLine(aboutText(io.version, command.format));
      return EXIT_OK;
    default:
      break;
  }
  const clock = { now: io.now };
  const singer = command.name === "write" && command.catalog === undefined;
  const output: Output = singer ? new SingerOutput(stdout, stderr) : new AirbyteOutput(stdout, clock);
  try {
    switch (command.name) {
      case "spec":
        return await runSpec(output);
      case "check":
        return await runCheck(command, io, output, [stdout, stderr]);
      case "discover":
        return await runDiscover(command, io, output, [stdout, stderr]);
      case "write":
        return await runWrite(command, io, output, [stdout, stderr], terminal);
    }
  } catch (err) {
    await output.error(errorTrace(err));
    return EXIT_FAILED;
  }
}
