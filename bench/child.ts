// Runs one measured child process: its stdin is a file opened for it (the kernel feeds it, so the
// bench process, which also hosts the emulator, spends no CPU on the input), hands
// each stdout line to a callback, samples its RSS from /proc while it runs, and collects the
// kernel's CPU and peak-RSS figures written by usage-preload.ts when it exits.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BenchError } from "./errors.js";

export interface ChildRun {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Spawn to exit, seconds. */
  readonly wallSeconds: number;
  /** User + system CPU seconds of the child alone (undefined if it died before reporting). */
  readonly cpuSeconds: number | undefined;
  /** Peak resident set, bytes: ru_maxrss when available, else the highest /proc sample. */
  readonly peakRssBytes: number | undefined;
  /**
   * CPU seconds this (the bench) process spent while the child ran: the in-process emulator's work
   * plus the bench's own light bookkeeping (RSS samples, reading the child's stdout).
   */
  readonly hostCpuSeconds: number;
  /** Highest VmRSS seen by sampling, bytes (a cross-check of peakRssBytes). */
  readonly sampledPeakRssBytes: number | undefined;
  /** Sampled VmRSS at 25, 50, 75 and 100 % of the run's duration, bytes: does memory grow with input? */
  readonly rssQuartiles: readonly number[];
  /** Last lines of stderr, for the report when the child failed. */
  readonly stderrTail: string;
}

export interface ChildOptions {
  /** usage-preload.js (compiled), loaded with --import into the child. */
  readonly preload: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** File whose contents become the child's stdin (default: empty stdin). */
  readonly stdinFile?: string;
  readonly onStdoutLine?: (line: string) => void;
  /** Kill the child after this many seconds (the run is then reported as failed). */
  readonly timeoutSeconds?: number;
}

const STDERR_TAIL_BYTES = 4000;

function readVmRssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    // The process exited between samples, or /proc is not Linux's.
    return undefined;
  }
}

/** The last sample at or before each quarter of the run. */
function quartiles(samples: readonly [number, number][], durationMs: number): number[] {
  const out: number[] = [];
  for (const q of [0.25, 0.5, 0.75, 1]) {
    let value: number | undefined;
    for (const [t, rss] of samples) {
      if (t > q * durationMs) break;
      value = rss;
    }
    if (value !== undefined) out.push(value);
  }
  return out;
}

interface UsageFile {
  readonly userCpuMicros: number;
  readonly systemCpuMicros: number;
  readonly maxRssKb: number;
}

function readUsage(file: string): UsageFile | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const u = parsed as Record<string, unknown>;
    if (typeof u["userCpuMicros"] !== "number" || typeof u["systemCpuMicros"] !== "number" || typeof u["maxRssKb"] !== "number") {
      return undefined;
    }
    return { userCpuMicros: u["userCpuMicros"], systemCpuMicros: u["systemCpuMicros"], maxRssKb: u["maxRssKb"] };
  } catch {
    return undefined;
  }
}

/** Spawns `node --import usage-preload.js ...args` and measures it. */
export async function runMeasured(options: ChildOptions): Promise<ChildRun> {
  const dir = mkdtempSync(join(tmpdir(), "bench-usage-"));
  const usageFile = join(dir, "usage.json");
  const started = performance.now();
  const hostCpuAtStart = process.cpuUsage();
  const stdinFd = options.stdinFile === undefined ? undefined : openSync(options.stdinFile, "r");
  const child = spawn(process.execPath, ["--import", options.preload, ...options.args], {
    env: { ...process.env, ...options.env, BENCH_USAGE_FILE: usageFile },
    stdio: [stdinFd ?? "ignore", "pipe", "pipe"],
  });
  // The child holds its own copy of the descriptor.
  if (stdinFd !== undefined) closeSync(stdinFd);
  const closed = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;

  let stderrTail = "";
  const { stdout, stderr } = child;
  if (stdout === null || stderr === null) throw new BenchError("BENCH_SETUP", "child stdio pipes were not created");
  stderr.setEncoding("utf8");
  stderr.on("data", (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
  });

  const lines = createInterface({ input: stdout, crlfDelay: Infinity });
  lines.on("line", (line) => options.onStdoutLine?.(line));

  let sampledPeak: number | undefined;
  // (ms since spawn, VmRSS) pairs; 50 ms apart, so even a long run keeps a few thousand.
  const samples: [number, number][] = [];
  const pid = child.pid;
  const sampler =
    pid === undefined
      ? undefined
      : setInterval(() => {
          const rss = readVmRssBytes(pid);
          if (rss === undefined) return;
          samples.push([performance.now() - started, rss]);
          if (sampledPeak === undefined || rss > sampledPeak) sampledPeak = rss;
        }, 50);

  let timedOut = false;
  const timer =
    options.timeoutSeconds === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, options.timeoutSeconds * 1000);

  const [exitCode, signal] = await closed;
  const wallSeconds = (performance.now() - started) / 1000;
  const hostCpu = process.cpuUsage(hostCpuAtStart);
  if (sampler !== undefined) clearInterval(sampler);
  if (timer !== undefined) clearTimeout(timer);

  const usage = readUsage(usageFile);
  rmSync(dir, { recursive: true, force: true });
  return {
    exitCode,
    signal: timedOut ? "timeout" : signal,
    wallSeconds,
    cpuSeconds: usage === undefined ? undefined : (usage.userCpuMicros + usage.systemCpuMicros) / 1e6,
    peakRssBytes: usage === undefined ? sampledPeak : usage.maxRssKb * 1024,
    hostCpuSeconds: (hostCpu.user + hostCpu.system) / 1e6,
    sampledPeakRssBytes: sampledPeak,
    rssQuartiles: quartiles(samples, wallSeconds * 1000),
    stderrTail,
  };
}
