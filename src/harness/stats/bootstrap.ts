/**
 * Percentile-bootstrap confidence interval of the ratio of medians, median(b) / median(a), with a
 * seeded generator so the same samples always give the same interval.
 */
import { unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';
import { medianSorted, quantileSorted } from 'simple-statistics';

function median(x: readonly number[]): number {
  return medianSorted([...x].sort((p, q) => p - q));
}

export interface RatioCI {
  ratio: number;
  lo: number;
  hi: number;
}

/**
 * The median of buf[0..n) in O(n), reordering buf (quickselect; the same value as sorting: for even n
 * the mean of the two middle values).
 */
function medianInPlace(buf: Float64Array, n: number): number {
  const k = n >> 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = buf[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (buf[i]! < pivot) i++;
      while (buf[j]! > pivot) j--;
      if (i <= j) {
        const t = buf[i]!;
        buf[i] = buf[j]!;
        buf[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  const mid = buf[k]!;
  if (n % 2 === 1) return mid;
  // Everything left of k is <= buf[k]: the other middle value is their maximum.
  let below = -Infinity;
  for (let x = 0; x < k; x++) if (buf[x]! > below) below = buf[x]!;
  return (below + mid) / 2;
}

export function medianRatioCI(a: readonly number[], b: readonly number[], level = 0.95, resamples = 2000, seed = 1): RatioCI {
  const ratio = median(b) / median(a);
  const rng = xoroshiro128plus(seed);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  const ratios: number[] = [];
  for (let k = 0; k < resamples; k++) {
    for (let i = 0; i < a.length; i++) ra[i] = a[unsafeUniformIntDistribution(0, a.length - 1, rng)]!;
    for (let i = 0; i < b.length; i++) rb[i] = b[unsafeUniformIntDistribution(0, b.length - 1, rng)]!;
    ratios.push(medianInPlace(rb, b.length) / medianInPlace(ra, a.length));
  }
  ratios.sort((p, q) => p - q);
  const tail = (1 - level) / 2;
  return { ratio, lo: quantileSorted(ratios, tail), hi: quantileSorted(ratios, 1 - tail) };
}

export { median };

/**
 * Paired: the geometric mean of the per-pair ratios b_i / a_i, with a percentile-bootstrap interval
 * over the pairs (each resample draws whole pairs, so a round's drift stays inside its ratio).
 */
export function pairedRatioCI(a: readonly number[], b: readonly number[], level = 0.95, resamples = 2000, seed = 1): RatioCI {
  const logs = logRatios(a, b);
  const rng = xoroshiro128plus(seed);
  const r = new Array<number>(logs.length);
  const ratios: number[] = [];
  for (let k = 0; k < resamples; k++) {
    for (let i = 0; i < logs.length; i++) r[i] = logs[unsafeUniformIntDistribution(0, logs.length - 1, rng)]!;
    ratios.push(gm(r));
  }
  ratios.sort((p, q) => p - q);
  const tail = (1 - level) / 2;
  return { ratio: gm(logs), lo: quantileSorted(ratios, tail), hi: quantileSorted(ratios, 1 - tail) };
}

/** Each pair's log ratio, log(b_i / a_i). */
export function logRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`paired samples need equal, non-zero lengths (got ${a.length} and ${b.length})`);
  return a.map((x, i) => Math.log(b[i]! / x));
}

/** The geometric mean of ratios given as their logs. */
function gm(logs: readonly number[]): number {
  return Math.exp(logs.reduce((s, x) => s + x, 0) / logs.length);
}

/** The geometric mean of the per-pair ratios b_i / a_i: pairedRatioCI's ratio without the interval. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return gm(logRatios(a, b));
}
