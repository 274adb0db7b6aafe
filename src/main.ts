#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 node --max-old-space-size=512 --max-semi-space-size=8
// The only file that touches process.*: it wires the real streams, environment and clock
// into the commands and maps the outcome to an exit code.
//
// Why the heap flag: V8 sizes its heap from the machine's memory (about 4 GB here), so garbage
// from a long stream piles up to 200+ MB before the first full collection although the live set
// stays near 30 MB (batches, in-flight requests and lines are all capped). A 512 MB heap makes it
// collect at ~150 MB and stay flat from 100k to 1M records, for ~10% more CPU; 512 MB still leaves
// room for the largest line the reader accepts. Run as `node main.js`, pass the flag yourself.
//
// Why GLIBC_TUNABLES: each request body is one buffer of a few hundred kB. glibc's malloc serves
// those from mmap at first, but raises its mmap threshold each time one is freed, so later bodies
// come from its heap, whose freed pages stay resident: with 48 batches in flight, 10-15 MB of RSS
// that held nothing. A fixed threshold of 128 kB (glibc's own default, without the raising) hands
// every body's pages back when it is freed. musl and other libcs ignore the variable.
import { readFileSync, writeSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { parseCommand } from "./commands/cli.js";
import { openInputFile } from "./commands/input.js";
import { run } from "./commands/run.js";

function packageVersion(): string {
  for (const rel of ["../package.json", "../../package.json"]) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(fileURLToPath(new URL(rel, import.meta.url)), "utf8"));
      if (typeof pkg === "object" && pkg !== null && typeof (pkg as { version?: unknown }).version === "string") {
        return (pkg as { version: string }).version;
      }
    } catch {
      // try the next layout
    }
  }
  return "0.0.0";
}

// Why --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly. Once its parser runs
// hot, V8 recompiles it with its optimising compiler on a background thread, and that one compile
// holds ~30 MB of native memory for a few hundred milliseconds and ~150 ms of CPU, right when the
// metadata answers arrive: it was the highest RSS of every run, short or long. The baseline
// compiler's code parses the few small answers a sync reads fast enough. Set before the first
// connection (the parser is compiled on first use), so it holds for the whole run; it touches
// WebAssembly only, not JavaScript. V8 lists the flag among its testing flags; a Node whose V8
// lacked it would only print a warning on stderr, never on the protocol's stdout.
setFlagsFromString("--liftoff-only");

// A closed stdout (e.g. `| head`) must end the process quietly, not crash it with EPIPE.
process.stdout.on("error", () => {
  process.exitCode = 1;
});

// When the command's promise is still pending and nothing is left to run (a promise nobody will
// ever settle), Node would exit with 13 and no word on the protocol: a stalled sync must not look
// like a quiet end. 'beforeExit' fires only when the event loop is empty, so this never cuts a
// working run short; `settled` tells a normal end (which also empties the loop) apart.
let settled = false;
process.once("beforeExit", () => {
  if (settled) return;
  const message = "Internal error: the pipeline stalled with work pending; please report it";
  let singer = false;
  try {
    const command = parseCommand(process.argv.slice(2));
    singer = command.name === "write" && command.catalog === undefined;
  } catch {
    // the command parsed once already; if it does not now, Airbyte's TRACE is the safer guess
  }
  // Synchronous writes: the process exits right after, and pending async writes would be lost.
  const write = (fd: number, line: string): void => {
    try {
      writeSync(fd, `${line}\n`);
    } catch {
      // a closed or full pipe: the exit code still tells
    }
  };
  if (!singer) {
    const trace = { type: "TRACE", trace: { type: "ERROR", emitted_at: Date.now(), error: { message, internal_message: "stalled", failure_type: "system_error" } } };
    write(1, JSON.stringify(trace));
  }
  write(2, message);
  process.exit(1);
});

const code = await run({
  argv: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  now: () => Date.now(),
  version: packageVersion(),
  readFile: (p) => readFile(p, "utf8"),
  openInput: openInputFile,
  stderrIsTTY: process.stderr.isTTY === true,
  stdoutIsTTY: process.stdout.isTTY === true,
});
settled = true;
process.exitCode = code;
