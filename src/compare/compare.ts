/**
 * Comparing two runs: timings with statistics (Mann-Whitney U on the samples, median ratio with a
 * bootstrap confidence interval, a noise floor, a geometric-mean row), deterministic counts exactly.
 * Timings are measured; counts are simulated and must not change unless the model did.
 */
import { geometricMean } from 'simple-statistics';
import type { ResultsFile, TaskResultRecord } from '../cli/bench.js';
import { median, medianRatioCI } from '../stats/bootstrap.js';
import { mannWhitneyU } from '../stats/mann_whitney.js';

export interface CompareOptions {
  /** Significance level of the Mann-Whitney U test. */
  alpha: number;
  /** Smallest relative change reported (0.02 = 2 %). */
  noise: number;
}

export const DEFAULT_COMPARE: CompareOptions = { alpha: 0.05, noise: 0.02 };

export interface TimingRow {
  key: string;
  unit: string;
  /** Median operations per second of each side (measured). */
  a: number;
  b: number;
  /** b / a of the medians, with its 95 % bootstrap interval. */
  ratio: number;
  lo: number;
  hi: number;
  p: number;
  nA: number;
  nB: number;
  /** What a sample is: one process's median call, or one call. */
  unitOfSample: 'process' | 'call';
  verdict: 'faster' | 'slower' | '~';
}

export interface CountChange {
  where: string;
  field: string;
  a: number | null;
  b: number | null;
}

export interface Comparison {
  rows: TimingRow[];
  geomean: number | null;
  changes: CountChange[];
  countsCompared: number;
  onlyA: string[];
  onlyB: string[];
}

const taskKey = (t: TaskResultRecord) => `${t.name} [${t.design}]`;

/** Operations per second of each sample (each sample is the milliseconds of one call of opsPerCall). */
function opsSamples(t: TaskResultRecord, perProcess: boolean): number[] {
  return (perProcess ? t.processMediansMs! : t.latencyMs.samples).map((ms) => (t.opsPerCall * 1000) / ms);
}

/** The process is the statistical unit when both sides ran the task in at least 3 processes. */
export function usesProcessMedians(a: TaskResultRecord, b: TaskResultRecord): boolean {
  return (a.processMediansMs?.length ?? 0) >= 3 && (b.processMediansMs?.length ?? 0) >= 3;
}

export function compareResults(A: ResultsFile, B: ResultsFile, opts: CompareOptions = DEFAULT_COMPARE): Comparison {
  const aTasks = new Map(A.tasks.map((t) => [taskKey(t), t]));
  const bTasks = new Map(B.tasks.map((t) => [taskKey(t), t]));
  const rows: TimingRow[] = [];
  const changes: CountChange[] = [];
  let countsCompared = 0;
  const noteCounts = (where: string, ca: Record<string, number>, cb: Record<string, number>) => {
    for (const f of new Set([...Object.keys(ca), ...Object.keys(cb)])) {
      countsCompared++;
      const x = ca[f] ?? null;
      const y = cb[f] ?? null;
      if (x !== y) changes.push({ where, field: f, a: x, b: y });
    }
  };
  for (const [key, ta] of aTasks) {
    const tb = bTasks.get(key);
    if (!tb) continue;
    const perProcess = usesProcessMedians(ta, tb);
    const sa = opsSamples(ta, perProcess);
    const sb = opsSamples(tb, perProcess);
    const mw = mannWhitneyU(sa, sb);
    const ci = medianRatioCI(sa, sb);
    const significant = mw.p < opts.alpha && Math.abs(ci.ratio - 1) > opts.noise;
    rows.push({
      key, unit: ta.unit, a: median(sa), b: median(sb), ratio: ci.ratio, lo: ci.lo, hi: ci.hi, p: mw.p,
      nA: sa.length, nB: sb.length, unitOfSample: perProcess ? 'process' : 'call', verdict: significant ? (ci.ratio > 1 ? 'faster' : 'slower') : '~',
    });
    noteCounts(key, ta.counts, tb.counts);
  }
  const memKey = (m: ResultsFile['memory'][number]) => `${m.scenario} x${m.procs} [${m.design}]`;
  const bMem = new Map(B.memory.map((m) => [memKey(m), m]));
  for (const ma of A.memory) {
    const mb = bMem.get(memKey(ma));
    if (!mb) continue;
    const flat = (m: typeof ma) => ({ ...Object.fromEntries(Object.entries(m.tables).map(([k, v]) => [`tables.${k}`, v])), pageTableBytes: m.pageTableBytes, sharedTables: m.sharedTables });
    noteCounts(memKey(ma), flat(ma), flat(mb));
  }
  const onlyA = [...aTasks.keys()].filter((k) => !bTasks.has(k)).concat(A.memory.map(memKey).filter((k) => !bMem.has(k)));
  const aMem = new Set(A.memory.map(memKey));
  const onlyB = [...bTasks.keys()].filter((k) => !aTasks.has(k)).concat(B.memory.map(memKey).filter((k) => !aMem.has(k)));
  return { rows, geomean: rows.length > 0 ? geometricMean(rows.map((r) => r.ratio)) : null, changes, countsCompared, onlyA, onlyB };
}

/** Fields that must match for a timing comparison to mean anything; returns the differences. */
export function machineDifferences(A: ResultsFile, B: ResultsFile): string[] {
  const out: string[] = [];
  const ea = A.environment;
  const eb = B.environment;
  for (const f of ['cpuModel', 'cores', 'memoryBytes', 'arch', 'platform'] as const) {
    if (ea[f] !== eb[f]) out.push(`${f} ${JSON.stringify(ea[f])} vs ${JSON.stringify(eb[f])}`);
  }
  const major = (v: string) => v.split('.')[0];
  if (major(ea.node) !== major(eb.node)) out.push(`Node major ${major(ea.node)} vs ${major(eb.node)}`);
  return out;
}
