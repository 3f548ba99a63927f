import { xoroshiro128plus, unsafeUniformIntDistribution } from 'pure-rand';

/** A seeded permutation of 0..n-1 (Fisher-Yates over xoroshiro128+): the random orders of the benchmarks and workloads. */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rng = xoroshiro128plus(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = unsafeUniformIntDistribution(0, i, rng);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
