/**
 * The Wilcoxon signed-rank test, two-sided, for paired samples (compare --base: each round runs both
 * commits, and the host drifts between rounds, so each round's pair is the unit). Zero differences
 * are dropped (Wilcoxon's method); tied magnitudes get average ranks. The p-value is exact, from the
 * distribution of W+ over all 2^n sign assignments (a count by sums of doubled ranks, which are whole
 * numbers even with ties), for n <= 30; above, the normal approximation with tie and continuity
 * correction.
 */
import { errorFunction } from 'simple-statistics';
import { rank } from './mann_whitney.js';

export interface SignedRankResult {
  /** Sum of the ranks of the positive differences. */
  wPlus: number;
  /** Non-zero differences used. */
  n: number;
  /** Two-sided p-value (1 when every difference is zero). */
  p: number;
  method: 'exact' | 'normal';
}

/** The smallest two-sided p-value n pairs can give: 2 / 2^n (every difference of one sign). */
export function minSignedRankP(n: number): number {
  return Math.min(1, 2 / 2 ** n);
}

export function signedRank(diffs: readonly number[]): SignedRankResult {
  const d = diffs.filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return { wPlus: 0, n: 0, p: 1, method: 'exact' };
  const { ranks, ties } = rank(d.map(Math.abs));
  let wPlus = 0;
  for (let i = 0; i < n; i++) if (d[i]! > 0) wPlus += ranks[i]!;
  const mean = (n * (n + 1)) / 4;
  if (n <= 30) {
    // counts[s]: sign assignments whose doubled W+ is s.
    const twice = ranks.map((r) => Math.round(2 * r));
    const total = twice.reduce((a, b) => a + b, 0);
    let counts = new Float64Array(total + 1);
    counts[0] = 1;
    for (const r of twice) {
      const next = Float64Array.from(counts);
      for (let s = r; s <= total; s++) next[s]! += counts[s - r]!;
      counts = next;
    }
    const w2 = Math.round(2 * wPlus);
    const m2 = total / 2;
    // Two-sided: assignments at least as far from the mean as the one observed.
    const far = Math.abs(w2 - m2);
    let tail = 0;
    for (let s = 0; s <= total; s++) if (Math.abs(s - m2) >= far - 1e-9) tail += counts[s]!;
    return { wPlus, n, p: Math.min(1, tail / 2 ** n), method: 'exact' };
  }
  const tieTerm = ties.reduce((a, t) => a + (t ** 3 - t), 0) / 48;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm);
  const z = (Math.abs(wPlus - mean) - 0.5) / sd;
  const p = 1 - errorFunction(Math.max(0, z) / Math.SQRT2);
  return { wPlus, n, p: Math.min(1, p), method: 'normal' };
}
