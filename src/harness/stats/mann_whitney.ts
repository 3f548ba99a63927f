/**
 * The Mann-Whitney U test (Wilcoxon rank-sum), two-sided: the exact distribution of U when both
 * samples are small and untied, the normal approximation with tie correction and continuity
 * correction otherwise (as scipy.stats.mannwhitneyu with method='auto' does).
 */
import { errorFunction } from 'simple-statistics';

export interface MannWhitneyResult {
  /** U of the first sample: pairs (a_i, b_j) with a_i > b_j, ties counting 1/2. */
  u1: number;
  u2: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal';
}

/** Average ranks (1-based) of the pooled samples, and the tie groups' sizes. */
export function rank(values: number[]): { ranks: number[]; ties: number[] } {
  const idx = values.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]![1]] = r;
    if (j > i) ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/** Number of ways to get each U in 0..n1*n2 for samples of sizes n1, n2 (no ties). */
function exactUCounts(n1: number, n2: number): Float64Array {
  // f(i, j)[u]: arrangements of i values of the first and j of the second sample with statistic u.
  let prev: Float64Array[] = [];
  for (let j = 0; j <= n2; j++) { const a = new Float64Array(n1 * n2 + 1); a[0] = 1; prev.push(a); }
  for (let i = 1; i <= n1; i++) {
    const cur: Float64Array[] = [];
    for (let j = 0; j <= n2; j++) {
      const a = new Float64Array(n1 * n2 + 1);
      // The largest value belongs to the first sample (adds j to U) or to the second.
      const fromA = prev[j]!;
      for (let u = 0; u + j <= n1 * n2; u++) a[u + j]! += fromA[u]!;
      if (j > 0) { const fromB = cur[j - 1]!; for (let u = 0; u <= n1 * n2; u++) a[u]! += fromB[u]!; }
      cur.push(a);
    }
    prev = cur;
  }
  return prev[n2]!;
}

export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitneyU needs two non-empty samples');
  const { ranks, ties } = rank([...a, ...b]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i]!;
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  if (ties.length === 0 && n1 <= 25 && n2 <= 25) {
    const counts = exactUCounts(n1, n2);
    let total = 0;
    for (const c of counts) total += c;
    const uMin = Math.min(u1, u2);
    let tail = 0;
    for (let u = 0; u <= uMin; u++) tail += counts[u]!;
    return { u1, u2, p: Math.min(1, (2 * tail) / total), method: 'exact' };
  }
  const n = n1 + n2;
  const tieSum = ties.reduce((s, t) => s + t * t * t - t, 0);
  const sigma = Math.sqrt(((n1 * n2) / 12) * ((n + 1) - tieSum / (n * (n - 1))));
  if (sigma === 0) return { u1, u2, p: 1, method: 'normal' };
  const mu = (n1 * n2) / 2;
  const z = (Math.abs(u1 - mu) - 0.5) / sigma;
  const p = z <= 0 ? 1 : 1 - errorFunction(z / Math.SQRT2);
  return { u1, u2, p: Math.min(1, Math.max(0, p)), method: 'normal' };
}
