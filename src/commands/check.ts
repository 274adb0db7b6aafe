import type { CommandIO } from "./io.js";
import type { Output, LineSink } from "../protocol/emit.js";
export async function runCheck(_c: { config: string }, _io: CommandIO, output: Output, _sink: LineSink): Promise<number> {
  await output.connectionStatus("FAILED", "check is not available yet");
  return 1;
}
