// Spawns the built connector (dist/src/main.js) the way a platform does: JSON files as arguments,
// messages on stdin with backpressure, every stdout line collected. Can SIGKILL it after a given
// number of input lines, and hands each stdout line to an async observer, in order, so a suite can
// freeze the connector (SIGSTOP) and inspect the table the moment a state comes out.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The built connector; RELIABILITY_CONNECTOR_BIN swaps in another (e.g. a broken one, to prove the suites can fail). */
export const CONNECTOR_BIN = process.env["RELIABILITY_CONNECTOR_BIN"] ?? join(PROJECT_ROOT, "dist", "src", "main.js");

export interface KillPlan {
  /** SIGKILL once this many input lines have been written (then stop writing)... */
  readonly afterLines?: number;
  /** ...or once the connector has emitted this many STATE lines... */
  readonly afterStates?: number;
  /** ...and this many milliseconds have passed since. */
  readonly delayMs: number;
}

export interface RunOptions {
  readonly args: readonly string[];
  /** Input lines, without their newline. Strings are written as UTF-8; Buffers as given (invalid UTF-8 tests). */
  readonly input: Iterable<string | Buffer>;
  readonly kill?: KillPlan;
  /** Sleep `ms` after every `every` input lines, so the connector works while input still arrives. */
  readonly pace?: { readonly every: number; readonly ms: number };
  readonly timeoutMs: number;
  readonly env?: Readonly<Record<string, string>>;
  /** Called for each stdout line, strictly in order; the connector may be SIGSTOPped inside. */
  readonly onLine?: (line: string, child: ChildProcess) => void | Promise<void>;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: readonly string[];
  readonly stderr: string;
  readonly timedOut: boolean;
  /** True when the harness SIGKILLed it per the plan (not on timeout). */
  readonly killed: boolean;
  readonly linesWritten: number;
  readonly elapsedMs: number;
}

export async function runConnector(options: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const child = spawn(process.execPath, [CONNECTOR_BIN, ...options.args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env["PATH"] ?? "", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  let alive = true;
  void exited.then(() => {
    alive = false;
  });

  const stdout: string[] = [];
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  let observer: Promise<void> = Promise.resolve();
  let observerError: unknown;
  let killed = false;
  const killNow = (): void => {
    if (alive && !killed) {
      killed = true;
      child.kill("SIGKILL");
    }
  };
  let statesSeen = 0;
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  lines.on("line", (line) => {
    stdout.push(line);
    const afterStates = options.kill?.afterStates;
    if (afterStates !== undefined && line.startsWith('{"type":"STATE"')) {
      statesSeen += 1;
      if (statesSeen === afterStates) setTimeout(killNow, options.kill?.delayMs ?? 0);
    }
    const onLine = options.onLine;
    if (onLine === undefined) return;
    observer = observer.then(async () => {
      if (observerError !== undefined) return;
      try {
        await onLine(line, child);
      } catch (error) {
        observerError = error;
      }
    });
  });
  const stdoutDone = once(lines, "close");

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, options.timeoutMs);

  let linesWritten = 0;
  const stopAt = options.kill?.afterLines;
  // The child may die (planned kill, crash) while we write: EPIPE is expected then, not a failure.
  child.stdin.on("error", () => undefined);
  const writer = (async () => {
    for (const line of options.input) {
      if (!alive) return;
      if (stopAt !== undefined && linesWritten >= stopAt) break;
      const ok = child.stdin.write(typeof line === "string" ? `${line}\n` : Buffer.concat([line, Buffer.from("\n")]));
      linesWritten += 1;
      // once() rejects on 'error' (EPIPE when the child died): that only means "stop writing".
      if (!ok) await Promise.race([once(child.stdin, "drain").catch(() => undefined), exited]);
      if (options.pace !== undefined && linesWritten % options.pace.every === 0) await sleep(options.pace.ms);
    }
    if (stopAt !== undefined && linesWritten >= stopAt) {
      await sleep(options.kill?.delayMs ?? 0);
      killNow();
      return;
    }
    // A kill planned on an emitted state keeps stdin open, so the run cannot finish before it: the
    // periodic flush must still get the held states out.
    if (alive && options.kill?.afterStates === undefined) child.stdin.end();
  })().catch(() => {
    // Writing into a dead child: the run's result says how it ended.
  });

  const [[code, signal]] = await Promise.all([exited, writer, stdoutDone]);
  clearTimeout(timer);
  await observer;
  if (observerError !== undefined) throw observerError;
  return { code, signal, stdout, stderr, timedOut, killed, linesWritten, elapsedMs: Date.now() - started };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A temporary folder with the JSON files a run needs; remove() when done. */
export function workdir(prefix: string): { dir: string; json(name: string, value: unknown): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return {
    dir,
    json(name, value) {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify(value, null, 2));
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Freezes the connector while fn runs, so what fn sees is what was committed when the line came out. */
export async function frozen<T>(child: ChildProcess, fn: () => Promise<T>): Promise<T> {
  const stopped = child.exitCode === null && child.signalCode === null && child.kill("SIGSTOP");
  try {
    return await fn();
  } finally {
    if (stopped && child.exitCode === null && child.signalCode === null) child.kill("SIGCONT");
  }
}
