/**
 * Comparing two runs: timings with statistics (Mann-Whitney U on the samples, median ratio with a
 * bootstrap confidence interval, a noise floor, a geometric-mean row), deterministic counts exactly.
 * Timings are measured; counts are simulated and must not change unless the model did.
 */
import { geometricMean } from 'simple-statistics';
import { logRatios, median, medianRatioCI, pairedRatio, pairedRatioCI } from './stats/bootstrap.js';
import { mannWhitneyU } from './stats/mann_whitney.js';
import { minSignedRankP, signedRank } from './stats/signed_rank.js';
import type { ResultsFile, TaskResultRecord } from './types.js';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatP, int, plainTable, rate } from '../lib/format.js';
import { taskRate } from './stats/rate.js';
import { goalText } from './controls.js';
import { loadResults } from './load.js';
import { UsageError } from '../lib/errors.js';
import { progressLine } from '../lib/progress.js';

export interface CompareOptions {
  /** Significance level of the Mann-Whitney U test. */
  alpha: number;
  /** Smallest relative change reported (0.02 = 2 %). */
  noise: number;
  /** false: timings are shown but never judged (runs from different machines). Default true. */
  judge?: boolean;
  /**
   * The samples are paired by index (compare --base: sample i of each side is round i's median), so
   * each pair's ratio is the unit: Wilcoxon signed-rank test and a bootstrap over the pairs.
   */
  paired?: boolean;
  /** false: compare the deterministic counts only (no timing rows). Default true. */
  timings?: boolean;
  /**
   * 'significant': bootstrap the interval only where p < alpha (lo and hi are NaN elsewhere), for
   * callers that keep only the significant rows (history). Default 'always'.
   */
  interval?: 'always' | 'significant';
}

export const DEFAULT_COMPARE: CompareOptions = { alpha: 0.05, noise: 0.02 };

export interface TimingRow {
  key: string;
  /** The task's name (the key without its design). */
  name: string;
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
  /** What a sample is: one process's median call, one call, or one round's median (paired). */
  unitOfSample: 'process' | 'call' | 'round';
  test: 'mann-whitney' | 'signed-rank';
  /** Measured: each side's ratio to its control in its own run (TaskResultRecord.control), when both have one. */
  control?: { task: string; a: number; b: number; goal?: number };
  /**
   * 'faster'/'slower': significant and above the noise floor; '~': not; 'too few processes': a side ran
   * the task in fewer than 3 processes, too few to judge; 'too few rounds': paired rounds too few for
   * the signed-rank test to reach the significance level at all; 'not judged': the runs are from
   * different machines, shown for reference only.
   */
  verdict: 'faster' | 'slower' | '~' | 'too few processes' | 'too few rounds' | 'not judged';
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

/**
 * A side that ran the task in fewer than 3 processes cannot be judged: the process is the
 * statistical unit, and calls within one process share its JIT and heap state. (Records without
 * process medians, from before they were kept, are judged on their calls as they always were.)
 */
export function tooFewProcesses(a: TaskResultRecord, b: TaskResultRecord): boolean {
  return (a.processMediansMs !== undefined && a.processMediansMs.length < 3) || (b.processMediansMs !== undefined && b.processMediansMs.length < 3);
}

/** Only the deterministic counts of two runs: every value compared, and those that differ. */
export function compareCounts(A: ResultsFile, B: ResultsFile): Pick<Comparison, 'changes' | 'countsCompared'> {
  const c = compareResults(A, B, { ...DEFAULT_COMPARE, timings: false });
  return { changes: c.changes, countsCompared: c.countsCompared };
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
    if (opts.timings === false) {
      noteCounts(key, ta.counts, tb.counts);
      continue;
    }
    const paired = opts.paired === true && ta.processMediansMs !== undefined && ta.processMediansMs.length === tb.processMediansMs?.length;
    const perProcess = paired || usesProcessMedians(ta, tb);
    const sa = opsSamples(ta, perProcess);
    const sb = opsSamples(tb, perProcess);
    const p = paired ? signedRank(logRatios(sa, sb)).p : mannWhitneyU(sa, sb).p;
    const unjudged = opts.judge === false || (!paired && tooFewProcesses(ta, tb)) || (paired && minSignedRankP(sa.length) >= opts.alpha);
    const ci = opts.interval === 'significant' && (!(p < opts.alpha) || unjudged) ? { ratio: paired ? pairedRatio(sa, sb) : median(sb) / median(sa), lo: Number.NaN, hi: Number.NaN }
      : paired ? pairedRatioCI(sa, sb) : medianRatioCI(sa, sb);
    const significant = p < opts.alpha && Math.abs(ci.ratio - 1) > opts.noise;
    const verdict: TimingRow['verdict'] = opts.judge === false ? 'not judged'
      : paired ? (minSignedRankP(sa.length) >= opts.alpha ? 'too few rounds' : significant ? (ci.ratio > 1 ? 'faster' : 'slower') : '~')
        : tooFewProcesses(ta, tb) ? 'too few processes' : significant ? (ci.ratio > 1 ? 'faster' : 'slower') : '~';
    rows.push({
      key, name: ta.name, unit: ta.unit, a: taskRate(ta).value, b: taskRate(tb).value, ratio: ci.ratio, lo: ci.lo, hi: ci.hi, p,
      nA: sa.length, nB: sb.length, unitOfSample: paired ? 'round' : perProcess ? 'process' : 'call', test: paired ? 'signed-rank' : 'mann-whitney', verdict,
      ...(ta.control && tb.control ? { control: { task: tb.control.task, a: ta.control.ratio, b: tb.control.ratio, ...(tb.control.goal === undefined ? {} : { goal: tb.control.goal }) } } : {}),
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
  for (const f of ['cpuModel', 'cores', 'arch', 'platform'] as const) {
    if (ea[f] !== eb[f]) out.push(`${f} ${JSON.stringify(ea[f])} vs ${JSON.stringify(eb[f])}`);
  }
  // Memory in whole GiB: MemTotal moves by a few KiB between boots of the same machine.
  const gib = (bytes: number) => Math.round(bytes / 2 ** 30);
  if (gib(ea.memoryBytes) !== gib(eb.memoryBytes)) out.push(`memory ${gib(ea.memoryBytes)} GiB vs ${gib(eb.memoryBytes)} GiB`);
  const major = (v: string) => v.split('.')[0];
  if (major(ea.node) !== major(eb.node)) out.push(`Node major ${major(ea.node)} vs ${major(eb.node)}`);
  return out;
}

/**
 * The kernel profiles of the two runs when both recorded one and they differ: their counts follow
 * different kernels, so compare refuses them without --force. (Files from before profiles: none.)
 */
export function kernelDifferences(A: ResultsFile, B: ResultsFile): string[] {
  const ka = A.config.kernel;
  const kb = B.config.kernel;
  if (ka === undefined || kb === undefined) return [];
  const out: string[] = [];
  if (ka.profile !== kb.profile) out.push(`kernel ${ka.profile} vs ${kb.profile}`);
  const onOff = (b: boolean | undefined) => (b ? 'on' : 'off');
  if (ka.ptReclaim !== kb.ptReclaim) out.push(`CONFIG_PT_RECLAIM ${onOff(ka.ptReclaim)} vs ${onOff(kb.ptReclaim)}`);
  // Files from before the PTI knob recorded neither: PTI off, a 4 KiB PGD.
  if ((ka.pti ?? false) !== (kb.pti ?? false)) out.push(`PTI ${onOff(ka.pti)} vs ${onOff(kb.pti)}`);
  if ((ka.pgdBytes ?? 4096) !== (kb.pgdBytes ?? 4096)) out.push(`PGD ${(ka.pgdBytes ?? 4096) / 1024} KiB vs ${(kb.pgdBytes ?? 4096) / 1024} KiB`);
  return out;
}

const CONFIG_FIELDS = ['suite', 'quick', 'processes', 'timeMs', 'designs', 'seed'] as const;

/** Configuration fields that change the work a task's timing measures: timings that differ in them are not judged. */
export const TIMING_CONFIG_FIELDS = ['quick', 'timeMs', 'seed'] as const;

/** How the two runs were configured differently (suite, quick, processes, time per task, designs, seed), or only in `fields`. */
export function configDifferences(A: ResultsFile, B: ResultsFile, fields: ReadonlyArray<(typeof CONFIG_FIELDS)[number]> = CONFIG_FIELDS): string[] {
  const ca = A.config;
  const cb = B.config;
  const out: string[] = [];
  const show = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
  for (const f of fields) {
    if (show(ca[f]) !== show(cb[f])) out.push(`${f} ${show(ca[f])} vs ${show(cb[f])}`);
  }
  return out;
}

export function describeRun(label: string, path: string, r: ResultsFile): string {
  const g = r.environment.git;
  return `${label} = ${path} (commit ${g.commit ? g.commit.slice(0, 10) : 'unknown'}${g.dirty ? ', dirty' : ''}, ${r.date})`;
}

export function renderComparison(c: Comparison, alpha: number, noise: number): string {
  const out: string[] = [];
  if (c.rows.some((r) => r.test === 'signed-rank')) {
    out.push(`timings (measured): A and B are each task's median of process medians (median call with one process), operations/s; paired by round: B/A = geometric mean of each round's ratio of median operations/s, 95 % bootstrap CI over the rounds; Wilcoxon signed-rank p over the n rounds; '~' unless p < ${alpha} and the change exceeds ${(noise * 100).toFixed(1)} %`);
  } else {
    out.push(`timings (measured): A and B are each task's median of process medians (median call with one process), operations/s; B/A of the medians of the tested samples, 95 % bootstrap CI; Mann-Whitney U p over n samples (per-process medians when both sides ran >= 3 processes, else calls); '~' unless p < ${alpha} and the change exceeds ${(noise * 100).toFixed(1)} %`);
  }
  const t = plainTable(['task', 'A', 'B', 'B/A [95% CI]', 'p', 'n', ''], ['left', 'right', 'right', 'right', 'right', 'right', 'left']);
  for (const r of c.rows) {
    const shown = r.verdict !== 'not judged';
    t.push([r.key, `${rate(r.a)} ${r.unit}/s`, `${rate(r.b)} ${r.unit}/s`, shown ? `${r.ratio.toFixed(3)} [${r.lo.toFixed(3)}, ${r.hi.toFixed(3)}]` : r.ratio.toFixed(3), shown ? formatP(r.p) : '-', r.unitOfSample === 'round' ? `${r.nA} rounds` : `${r.nA}/${r.nB} ${r.unitOfSample === 'process' ? 'proc' : 'calls'}`, r.verdict]);
  }
  if (c.geomean !== null) t.push(['geometric mean', '', '', c.geomean.toFixed(3), '', '', c.rows.every((r) => r.verdict === 'not judged') ? 'not judged' : '']);
  out.push(t.toString());
  const ctl = c.rows.filter((r) => r.control !== undefined);
  if (ctl.length > 0) {
    const ct = plainTable(['task', 'control', 'A / control', 'B / control', 'goal'], ['left', 'left', 'right', 'right', 'left']);
    for (const r of ctl) {
      const k = r.control!;
      ct.push([r.key, k.task, `${(k.a * 100).toFixed(1)} %`, `${(k.b * 100).toFixed(1)} %`, goalText(r.name, k.b, k.goal, 'B ')]);
    }
    out.push('ratios to controls (measured: each run\'s task rate over its control measured in the same run)', ct.toString());
  }
  if (c.rows.some((r) => r.verdict === 'too few rounds')) out.push(`too few rounds: with n rounds the signed-rank test cannot give p below 2/2^n (${minSignedRankP(c.rows[0]!.nA).toFixed(4)} here), so nothing can be judged at alpha ${alpha}; use --rounds 6 or more`);
  if (c.rows.some((r) => r.verdict === 'too few processes')) out.push("too few processes: a side ran the task in fewer than 3 processes (bench --quick runs 1); its timings are shown, not judged faster or slower (run 'npm run bench' without --quick, or with --processes 3 or more)");
  if (c.changes.length === 0) {
    out.push(`deterministic counts (simulated): identical (${int(c.countsCompared)} values compared)`);
  } else {
    out.push(`deterministic counts (simulated): ${c.changes.length} of ${int(c.countsCompared)} values changed:`);
    for (const ch of c.changes) out.push(`  ${ch.where} ${ch.field}: ${ch.a ?? 'absent'} -> ${ch.b ?? 'absent'}`);
  }
  const few = (xs: string[]) => (xs.length <= 6 ? xs.join(', ') : `${xs.slice(0, 5).join(', ')}, ... (${xs.length - 5} more; --json lists all)`);
  if (c.onlyA.length) out.push(`only in A (${c.onlyA.length}): ${few(c.onlyA)}`);
  if (c.onlyB.length) out.push(`only in B (${c.onlyB.length}): ${few(c.onlyB)}`);
  return out.join('\n');
}

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function run(cmd: string, args: string[], cwd: string, signal: AbortSignal): Promise<{ code: number | null; output: string }> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const onAbort = () => child.kill('SIGINT');
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('exit', (code) => { signal.removeEventListener('abort', onAbort); res({ code, output }); });
  });
}

/** Merge the rounds of one side: each task's samples become the per-round median latencies. */
export function mergeRounds(runs: ResultsFile[]): ResultsFile {
  const first = runs[0]!;
  const tasks: TaskResultRecord[] = first.tasks.map((t) => {
    const recs = runs.map((r) => r.tasks.find((x) => x.name === t.name && x.design === t.design)!);
    const per = recs.map((x) => x.latencyMs.p50);
    // A control ratio is taken within each round (task and control ran minutes apart at most): their median.
    const ctl = recs.every((x) => x.control !== undefined) ? { ...t.control!, ratio: median(recs.map((x) => x.control!.ratio)) } : undefined;
    const sorted = [...per].sort((x, y) => x - y);
    const mean = per.reduce((s, x) => s + x, 0) / per.length;
    const sd = Math.sqrt(per.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, per.length - 1));
    const p50 = median(per);
    const { control: _first, ...rest } = t;
    return {
      ...rest,
      latencyMs: { mean, p50, p75: sorted[Math.floor(0.75 * (sorted.length - 1))]!, p99: sorted[sorted.length - 1]!, min: sorted[0]!, max: sorted[sorted.length - 1]!, sd, rme: 0, samples: per },
      opsPerSec: { median: (t.opsPerCall * 1000) / p50, mean: (t.opsPerCall * 1000) / mean },
      calls: per.length,
      processMediansMs: per,
      ...(ctl === undefined ? {} : { control: ctl }),
    };
  });
  return { ...first, tasks };
}

export interface BaseOptions { ref: string; rounds: number; suite: string; quick: boolean; designs: string[] }

/** `--base REF`: a git worktree at REF, both trees built, benchmark runs interleaved (ABBA order). */
export async function runBase(repo: string, o: BaseOptions): Promise<{ A: ResultsFile; B: ResultsFile; aLabel: string; bLabel: string }> {
  let sha: string;
  try {
    sha = git(['rev-parse', '--verify', '--quiet', `${o.ref}^{commit}`], repo);
  } catch {
    throw new UsageError(`--base: git ref '${o.ref}' does not exist in ${repo}`);
  }
  const work = mkdtempSync(join(tmpdir(), 'ptbench-compare-'));
  const wt = join(work, 'base');
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.on('SIGINT', onSig);
  // Progress goes to stderr, so --json leaves stdout to the JSON.
  const say = (s: string) => process.stderr.write(`${s}\n`);
  try {
    git(['worktree', 'add', '--detach', '--quiet', wt, sha], repo);
    const lockNow = readFileSync(join(repo, 'package-lock.json'), 'utf8');
    let lockBase = '';
    try { lockBase = git(['show', `${sha}:package-lock.json`], repo); } catch { /* none */ }
    if (lockBase.trim() === lockNow.trim() && existsSync(join(repo, 'node_modules'))) {
      symlinkSync(join(repo, 'node_modules'), join(wt, 'node_modules'), 'dir');
    } else {
      say(`base ${sha.slice(0, 10)}: dependencies differ, running npm ci in the worktree`);
      const r = await run('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], wt, ac.signal);
      if (r.code !== 0) throw new Error(`npm ci in the base worktree failed:\n${r.output}`);
    }
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const dir of [wt, repo]) {
      if (!existsSync(join(dir, 'tsconfig.build.json'))) throw new UsageError(`--base: commit ${sha.slice(0, 10)} predates ptbench bench (no tsconfig.build.json)`);
      const r = await run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], dir, ac.signal);
      if (r.code !== 0) throw new Error(`building ${dir === wt ? `base ${sha.slice(0, 10)}` : 'the current tree'} failed:\n${r.output}`);
    }
    const benchArgs = ['bench', '--suite', o.suite, ...(o.quick ? ['--quick'] : []), ...o.designs.flatMap((d) => ['--design', d])];
    const sides = { base: [] as ResultsFile[], head: [] as ResultsFile[] };
    const progress = progressLine('ptbench compare --base', 2 * o.rounds);
    for (let round = 0; round < o.rounds; round++) {
      const order: Array<'base' | 'head'> = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
      for (const side of order) {
        const dir = side === 'base' ? wt : repo;
        const out = join(work, `${side}-${round}.json`);
        const t0 = Date.now();
        progress.update(sides.base.length + sides.head.length, `runs done; round ${round + 1}: ${side === 'base' ? 'base' : 'current tree'} running (${o.suite} suite)`);
        const r = await run(process.execPath, [join(dir, 'dist', 'src', 'cli', 'main.js'), ...benchArgs, '--out', out], dir, ac.signal);
        progress.end();
        if (ac.signal.aborted) throw new UsageError('interrupted; nothing written');
        if (r.code !== 0) throw new Error(`benchmark run on ${side === 'base' ? `base ${sha.slice(0, 10)}` : 'the current tree'} failed (exit ${r.code}):\n${r.output.split('\n').slice(-5).join('\n')}`);
        sides[side].push(loadResults(out));
        say(`round ${round + 1}/${o.rounds}: ${side === 'base' ? `base ${sha.slice(0, 10)}` : 'current tree'} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
    return { A: mergeRounds(sides.base), B: mergeRounds(sides.head), aLabel: `A = base ${o.ref} (${sha.slice(0, 10)}), ${o.rounds} rounds`, bLabel: 'B = current tree (per-round medians)' };
  } finally {
    process.off('SIGINT', onSig);
    try { git(['worktree', 'remove', '--force', wt], repo); } catch { /* already gone */ }
    rmSync(work, { recursive: true, force: true });
  }
}
