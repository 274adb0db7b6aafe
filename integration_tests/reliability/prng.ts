// A seeded PRNG so every random choice a suite makes (kill points, fault timing, fuzz cases) can be
// replayed from the seed the suite prints. mulberry32: tiny, fast, and good enough for test input.

export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError("pick from an empty list");
      return items[Math.floor(next() * items.length)] as T;
    },
    chance: (p) => next() < p,
  };
}

/**
 * CI's seeds (issue 18): every case of the crash, fault and fuzz suites runs with a fixed seed, the
 * same on every run (derived from the case's label, so the list of seeds is the list of cases), so
 * a red run replays exactly as it went; each suite adds one case with a fresh seed (`seedFromEnv`)
 * to keep finding new inputs. Every seed is printed with the variable that replays it; setting that
 * variable gives every case of the suite that one seed.
 */
export function fixedSeed(envName: string, label: string): number {
  const raw = process.env[envName];
  const seed = raw !== undefined && raw !== "" ? Number.parseInt(raw, 10) >>> 0 : labelSeed(label);
  process.stderr.write(`[${label}] fixed seed ${seed} (replay with ${envName}=${seed})\n`);
  return seed;
}

/** FNV-1a of the label: a stable 32-bit seed per case. */
export function labelSeed(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The seed from `envName` when set (to replay a failure), else a fresh one; always printed. */
export function seedFromEnv(envName: string, label: string): number {
  const raw = process.env[envName];
  const seed = raw !== undefined && raw !== "" ? Number.parseInt(raw, 10) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  process.stderr.write(`[${label}] seed ${seed} (replay with ${envName}=${seed})\n`);
  return seed;
}

/** A positive integer from an environment variable, for the large versions of the suites. */
export function intFromEnv(envName: string, fallback: number): number {
  const raw = process.env[envName];
  if (raw === undefined || raw === "") return fallback;
  const n = Number.parseInt(raw, 10);
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${envName} must be a positive integer`);
  return n;
}
