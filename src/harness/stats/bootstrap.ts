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

export function medianRatioCI(a: readonly number[], b: readonly number[], level = 0.95, resamples = 2000, seed = 1): RatioCI {
  const ratio = median(b) / median(a);
  const rng = xoroshiro128plus(seed);
  const ra = new Array<number>(a.length);
  const rb = new Array<number>(b.length);
  const ratios: number[] = [];
  for (let k = 0; k < resamples; k++) {
    for (let i = 0; i < a.length; i++) ra[i] = a[unsafeUniformIntDistribution(0, a.length - 1, rng)]!;
    for (let i = 0; i < b.length; i++) rb[i] = b[unsafeUniformIntDistribution(0, b.length - 1, rng)]!;
    ratios.push(median(rb) / median(ra));
  }
  ratios.sort((p, q) => p - q);
  const tail = (1 - level) / 2;
  return { ratio, lo: quantileSorted(ratios, tail), hi: quantileSorted(ratios, 1 - tail) };
}

export { median };
