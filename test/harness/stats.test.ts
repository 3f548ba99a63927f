/** The statistics behind `ptbench compare`, against textbook values and brute force. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';
import { medianRatioCI } from '../../src/harness/stats/bootstrap.js';
import { mannWhitneyU } from '../../src/harness/stats/mann_whitney.js';

/** Brute force: enumerate every split of the pooled (untied) values; two-sided p = P(min(U, n1n2-U) <= observed). */
function bruteForceP(a: number[], b: number[]): number {
  const all = [...a, ...b];
  const n = all.length;
  const n1 = a.length;
  const uOf = (x: number[], y: number[]) => { let u = 0; for (const p of x) for (const q of y) u += p > q ? 1 : p === q ? 0.5 : 0; return u; };
  const u1 = uOf(a, b);
  const uMin = Math.min(u1, n1 * b.length - u1);
  let total = 0;
  let tail = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) bits++;
    if (bits !== n1) continue;
    const x = all.filter((_, i) => mask & (1 << i));
    const y = all.filter((_, i) => !(mask & (1 << i)));
    const u = uOf(x, y);
    total++;
    if (Math.min(u, n1 * y.length - u) <= uMin) tail++;
  }
  return tail / total;
}

test('Mann-Whitney exact: completely separated 5 vs 5 has U = 0 and p = 2/252 (textbook)', () => {
  const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
  assert.equal(r.u1, 0);
  assert.equal(r.u2, 25);
  assert.equal(r.method, 'exact');
  // C(10,5) = 252 equally likely splits; only one has U = 0 and one U = 25: p = 2/252.
  assert.ok(Math.abs(r.p - 2 / 252) < 1e-12);
});

test('Mann-Whitney exact matches brute-force enumeration', () => {
  const cases: Array<[number[], number[]]> = [
    [[19, 22, 16, 29, 24], [20, 11, 17, 12]],
    [[1.1, 3.4, 2.2, 8.8, 5.5, 6.1], [4.4, 7.7, 9.9, 10.5, 12.1, 11.3, 0.5]],
    [[3], [1, 2, 4, 5]],
  ];
  for (const [a, b] of cases) {
    const r = mannWhitneyU(a, b);
    assert.equal(r.method, 'exact');
    assert.ok(Math.abs(r.p - bruteForceP(a, b)) < 1e-12, `${a} vs ${b}: ${r.p}`);
  }
  // U for the first case by hand: 19>{11,12,16?..}: pairs a>b = 19:3, 22:4, 16:2, 29:4, 24:4 -> 17.
  assert.equal(mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]).u1, 17);
});

test('Mann-Whitney normal approximation with ties and continuity correction (hand-computed)', () => {
  // a = [1,2,2,3], b = [2,3,3,4]. Pooled sorted: 1 | 2 2 2 | 3 3 3 | 4 -> ranks 1 | 3 3 3 | 6 6 6 | 8.
  // R1 = 1 + 3 + 3 + 6 = 13, U1 = 13 - 4*5/2 = 3, mu = 4*4/2 = 8. Ties: two groups of 3: sum(t^3-t) = 48.
  // sigma^2 = 16/12 * (9 - 48/(8*7)) = 10.857143, sigma = 3.295018; z = (|3-8| - 0.5)/sigma = 1.365698.
  // p = 2 * (1 - Phi(1.365698)) = 0.172034.
  const r = mannWhitneyU([1, 2, 2, 3], [2, 3, 3, 4]);
  assert.equal(r.method, 'normal');
  assert.equal(r.u1, 3);
  assert.ok(Math.abs(r.p - 0.172034) < 1e-5, String(r.p));
  // Identical samples: no evidence of a difference.
  assert.equal(mannWhitneyU([1, 1, 1], [1, 1, 1]).p, 1);
});

test('bootstrap CI of the median ratio brackets the ratio and is deterministic for a seed', () => {
  const a = [10, 11, 9, 10.5, 10.2, 9.8, 10.1, 10.3];
  const b = a.map((x) => x * 1.2);
  const ci = medianRatioCI(a, b);
  assert.ok(Math.abs(ci.ratio - 1.2) < 1e-12);
  assert.ok(ci.lo <= 1.2 && ci.hi >= 1.2);
  assert.deepEqual(medianRatioCI(a, b), ci);
});

test('Wilcoxon signed-rank, exact: n pairs of one sign give p = 2/2^n; a mixed case counted by hand', async () => {
  const { signedRank, minSignedRankP } = await import('../../src/harness/stats/signed_rank.js');
  // All 5 positive: W+ = 15, only 1 of the 32 sign assignments is as extreme on each side.
  assert.deepEqual(signedRank([1, 2, 3, 4, 5]), { wPlus: 15, n: 5, p: 2 / 32, method: 'exact' });
  assert.equal(minSignedRankP(5), 2 / 32);
  assert.equal(minSignedRankP(6), 2 / 64);
  // [-1, 2, 3, 4, 5, 6]: W+ = 20 of 21; mean 10.5; subsets of {1..6} with sum >= 20: {2..6} and
  // {1..6}; the other tail {1} and {} likewise: 4 / 64.
  assert.equal(signedRank([-1, 2, 3, 4, 5, 6]).p, 4 / 64);
  // Zeros are dropped; all-zero differences are no evidence.
  assert.equal(signedRank([0, 0, 1, 2, 3, 4, 5]).n, 5);
  assert.equal(signedRank([0, 0]).p, 1);
  // Ties share ranks: [1, 1, -1]: ranks 2, 2, 2; W+ = 4 of 6; mean 3; as far or farther: W+ in
  // {0, 2, 4, 6} ... every assignment (|W+ - 3| >= 1 always): p = 1.
  assert.equal(signedRank([1, 1, -1]).p, 1);
});

test('Wilcoxon signed-rank: exact agrees with brute force over all sign flips, n = 1..10', async () => {
  const { signedRank } = await import('../../src/harness/stats/signed_rank.js');
  const rng = xoroshiro128plus(7);
  for (let n = 1; n <= 10; n++) {
    const d = Array.from({ length: n }, () => unsafeUniformIntDistribution(-9, 9, rng) || 1);
    const mags = d.map(Math.abs);
    // average ranks of the magnitudes
    const ranks = mags.map((m) => { const lt = mags.filter((x) => x < m).length; const eq = mags.filter((x) => x === m).length; return lt + (eq + 1) / 2; });
    const mean = (n * (n + 1)) / 4;
    const w = ranks.reduce((a, r, i) => a + (d[i]! > 0 ? r : 0), 0);
    let tail = 0;
    for (let mask = 0; mask < 1 << n; mask++) {
      let s = 0;
      for (let i = 0; i < n; i++) if (mask & (1 << i)) s += ranks[i]!;
      if (Math.abs(s - mean) >= Math.abs(w - mean) - 1e-9) tail++;
    }
    assert.equal(signedRank(d).p, Math.min(1, tail / 2 ** n), `n=${n}: ${d.join(',')}`);
  }
});
