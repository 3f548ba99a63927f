/**
 * Results across commits (`ptbench history`): every results file in results/ and results/reference/,
 * ordered by git history (the commit order of `git log`, then the run's time), split into series that
 * may be compared (the same machine, kernel profile and kind of run: quick or full), never mixed.
 * Within a series, the runs of one commit are pooled; each task's step from one commit to the next is
 * judged by the same test as `compare` (compareResults), and the deterministic counts are compared
 * exactly, keeping only the commits where one changed.
 */
import { taskRate } from './stats/rate.js';
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import { quantileSorted } from 'simple-statistics';
import { UsageError } from '../lib/errors.js';
import { compareCounts, compareResults, DEFAULT_COMPARE, type CountChange } from './compare.js';
import { loadResults, runsIn } from './load.js';
import type { ResultsFile, TaskResultRecord } from './types.js';

export interface HistoryRun {
  file: string;
  results: ResultsFile;
  /** Full commit hash, or null when the run recorded none. */
  commit: string | null;
  /** The commit's subject line, or null when it is not in this repository's history. */
  subject: string | null;
  /** Position in `git log` order (oldest first); Infinity when not in the history. */
  order: number;
}

export interface HistoryPoint {
  /** Position of its commit in the series' commits (0-based). */
  index: number;
  commit: string | null;
  subject: string | null;
  runs: number;
  /** Measured: median operations/s, and the spread: the lowest and highest process median (or the calls' quartiles with one process). */
  median: number;
  lo: number;
  hi: number;
  /** Samples behind the median: processes, or calls of one process. */
  n: number;
}

export interface HistoryStep {
  from: string | null;
  to: string | null;
  subject: string | null;
  ratio: number;
  lo: number;
  hi: number;
  p: number;
  verdict: string;
}

export interface TaskHistory {
  key: string;
  unit: string;
  points: HistoryPoint[];
  /** Significant steps above the noise floor between consecutive commits (compare's verdicts). */
  steps: HistoryStep[];
}

export interface HistorySeries {
  machine: string;
  kernel: string;
  mode: 'quick' | 'full';
  commits: Array<{ commit: string | null; subject: string | null; files: string[] }>;
  tasks: TaskHistory[];
  /** Commits where a deterministic count changed, with the changes. */
  countChanges: Array<{ from: string | null; to: string | null; subject: string | null; changes: CountChange[] }>;
}

export interface History {
  tool: 'ptbench history';
  figures: { opsPerSec: 'measured'; counts: 'simulated' };
  series: HistorySeries[];
  skipped: Array<{ file: string; why: string }>;
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

/** Every results file of `repo`, with its place in git history; unreadable files are skipped with the reason. */
export function loadHistoryRuns(repo: string, since?: string): { runs: HistoryRun[]; skipped: History['skipped'] } {
  const log = (git(['log', '--reverse', '--format=%H%x09%s', 'HEAD'], repo) ?? '').split('\n').filter(Boolean);
  let start = 0;
  if (since !== undefined) {
    const sha = git(['rev-parse', '--verify', '--quiet', `${since}^{commit}`], repo)?.trim();
    if (!sha) throw new UsageError(`--since: git ref '${since}' does not exist in ${repo}`);
    start = log.findIndex((l) => l.startsWith(sha));
    if (start < 0) throw new UsageError(`--since: ${since} (${sha.slice(0, 10)}) is not in the history of HEAD`);
  }
  const order = new Map<string, { i: number; subject: string }>();
  log.forEach((l, i) => {
    if (i < start) return;
    const [h, ...rest] = l.split('\t');
    order.set(h!, { i, subject: rest.join('\t') });
  });
  const lookup = (c: string | null) => {
    if (c === null) return undefined;
    for (const [h, v] of order) if (h.startsWith(c)) return { h, ...v };
    return undefined;
  };
  const { user, reference } = runsIn(repo);
  const runs: HistoryRun[] = [];
  const skipped: History['skipped'] = [];
  // A run copied into results/reference/ and still in results/ is one run.
  const seen = new Set<string>();
  for (const file of [...reference, ...user]) {
    if (seen.has(basename(file))) continue;
    seen.add(basename(file));
    let results: ResultsFile;
    try {
      results = loadResults(file);
    } catch (e) {
      skipped.push({ file, why: e instanceof Error ? e.message.split('\n')[0]! : String(e) });
      continue;
    }
    const c = results.environment.git.commit ?? null;
    const hit = lookup(c);
    if (since !== undefined && hit === undefined) continue;
    runs.push({ file, results, commit: hit?.h ?? c, subject: hit?.subject ?? null, order: hit?.i ?? Number.POSITIVE_INFINITY });
  }
  runs.sort((a, b) => a.order - b.order || (a.results.date < b.results.date ? -1 : a.results.date > b.results.date ? 1 : 0));
  return { runs, skipped };
}

/** What a series shares: machine identity (as compare checks it), kernel profile and knobs, quick or full. */
export function seriesIdOf(r: ResultsFile): { key: string; machine: string; kernel: string; mode: 'quick' | 'full' } {
  const e = r.environment;
  const machine = `${e.cpuModel}, ${e.cores} cores, ${e.arch}/${e.platform}, ${Math.round(e.memoryBytes / 2 ** 30)} GiB, Node ${e.node.split('.')[0]}`;
  const k = r.config.kernel;
  const kernel = k === undefined ? 'no kernel profile recorded (before profiles)' : `${k.profile}, PT_RECLAIM ${k.ptReclaim ? 'on' : 'off'}, PTI ${k.pti ? 'on' : 'off'}`;
  const mode = r.config.quick ? 'quick' : 'full';
  return { key: `${machine} | ${kernel} | ${mode}`, machine, kernel, mode };
}

const taskKey = (t: TaskResultRecord) => `${t.name} [${t.design}]`;

/** The runs of one commit as one results file: each task's calls and process medians pooled. */
export function poolRuns(runs: ResultsFile[]): ResultsFile {
  const first = runs[0]!;
  if (runs.length === 1) return first;
  const tasks = new Map<string, TaskResultRecord>();
  for (const r of runs) {
    for (const t of r.tasks) {
      const k = taskKey(t);
      const have = tasks.get(k);
      if (have === undefined) {
        tasks.set(k, { ...t, latencyMs: { ...t.latencyMs, samples: [...t.latencyMs.samples] }, ...(t.processMediansMs ? { processMediansMs: [...t.processMediansMs] } : {}) });
        continue;
      }
      have.latencyMs.samples.push(...t.latencyMs.samples);
      if (have.processMediansMs && t.processMediansMs) have.processMediansMs.push(...t.processMediansMs);
      else delete have.processMediansMs;
    }
  }
  const memory = new Map(runs.flatMap((r) => r.memory).map((m) => [`${m.scenario} x${m.procs} [${m.design}]`, m]));
  return { ...first, tasks: [...tasks.values()], memory: [...memory.values()] };
}

function point(t: TaskResultRecord, index: number, commit: string | null, subject: string | null, runs: number): HistoryPoint {
  const procs = t.processMediansMs ?? [];
  const samples = (procs.length >= 2 ? procs : t.latencyMs.samples).map((ms) => (t.opsPerCall * 1000) / ms).sort((a, b) => a - b);
  const two = procs.length >= 2;
  return {
    index, commit, subject, runs,
    // The same statistic bench and compare print (stats/rate.ts); lo and hi are the spread around it.
    median: taskRate(t).value, lo: two ? samples[0]! : quantileSorted(samples, 0.25), hi: two ? samples[samples.length - 1]! : quantileSorted(samples, 0.75), n: samples.length,
  };
}

/** Build the series; `task` keeps the tasks whose key contains it. */
export function buildHistory(runs: HistoryRun[], skipped: History['skipped'], task?: string): History {
  const bySeries = new Map<string, { id: ReturnType<typeof seriesIdOf>; runs: HistoryRun[] }>();
  for (const r of runs) {
    const id = seriesIdOf(r.results);
    const s = bySeries.get(id.key) ?? { id, runs: [] };
    s.runs.push(r);
    bySeries.set(id.key, s);
  }
  const series: HistorySeries[] = [];
  for (const { id, runs: rs } of bySeries.values()) {
    // Consecutive runs of one commit pool into one point (a run without a commit stands alone).
    const groups: HistoryRun[][] = [];
    for (const r of rs) {
      const last = groups[groups.length - 1];
      if (last !== undefined && r.commit !== null && last[0]!.commit === r.commit) last.push(r);
      else groups.push([r]);
    }
    const pooled = groups.map((g) => ({ commit: g[0]!.commit, subject: g[0]!.subject, n: g.length, r: poolRuns(g.map((x) => x.results)) }));
    const keys = [...new Set(pooled.flatMap((p) => p.r.tasks.map(taskKey)))].filter((k) => task === undefined || k.includes(task));
    const tasks: TaskHistory[] = keys.map((key) => {
      const points: HistoryPoint[] = [];
      const steps: HistoryStep[] = [];
      let prev: (typeof pooled)[number] | null = null;
      for (const [i, p] of pooled.entries()) {
        const t = p.r.tasks.find((x) => taskKey(x) === key);
        if (t === undefined) continue;
        points.push(point(t, i, p.commit, p.subject, p.n));
        if (prev !== null) {
          const row = compareResults({ ...prev.r, tasks: prev.r.tasks.filter((x) => taskKey(x) === key), memory: [] }, { ...p.r, tasks: [t], memory: [] }, { ...DEFAULT_COMPARE, interval: 'significant' }).rows[0];
          if (row !== undefined && (row.verdict === 'faster' || row.verdict === 'slower')) {
            steps.push({ from: prev.commit, to: p.commit, subject: p.subject, ratio: row.ratio, lo: row.lo, hi: row.hi, p: row.p, verdict: row.verdict });
          }
        }
        prev = p;
      }
      return { key, unit: pooled.flatMap((p) => p.r.tasks).find((x) => taskKey(x) === key)!.unit, points, steps };
    });
    const countChanges: HistorySeries['countChanges'] = [];
    for (let i = 1; i < pooled.length; i++) {
      const a = pooled[i - 1]!;
      const b = pooled[i]!;
      const keep = (r: ResultsFile): ResultsFile => ({ ...r, tasks: r.tasks.filter((x) => task === undefined || taskKey(x).includes(task)), memory: task === undefined ? r.memory : [] });
      const { changes } = compareCounts(keep(a.r), keep(b.r));
      if (changes.length > 0) countChanges.push({ from: a.commit, to: b.commit, subject: b.subject, changes });
    }
    series.push({ machine: id.machine, kernel: id.kernel, mode: id.mode, commits: groups.map((g) => ({ commit: g[0]!.commit, subject: g[0]!.subject, files: g.map((x) => x.file) })), tasks,
      countChanges });
  }
  return { tool: 'ptbench history', figures: { opsPerSec: 'measured', counts: 'simulated' }, series, skipped };
}
