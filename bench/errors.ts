// The bench's own failures: bad arguments, a missing build, a loader that cannot start.
export type BenchErrorCode = "BENCH_USAGE" | "BENCH_SETUP" | "BENCH_LOADER";

export class BenchError extends Error {
  override readonly name = "BenchError";
  constructor(
    readonly code: BenchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
