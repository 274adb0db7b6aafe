// Everything a command may touch, injected by main.ts (the only file that sees `process`).
import type { Readable, Writable } from "node:stream";

export interface CommandIO {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: Readable;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly now: () => number;
  readonly version: string;
  readonly readFile: (path: string) => Promise<string>;
  /** Opens the file named by --input; rejects with an error naming the path (commands/input.ts). */
  readonly openInput: (path: string) => Promise<Readable>;
  /** stderr is a terminal: show a live progress line and a summary table there. */
  readonly stderrIsTTY?: boolean;
  /** stdout is the same kind of terminal: its lines are written above the progress line. */
  readonly stdoutIsTTY?: boolean;
}
