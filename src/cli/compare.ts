/**
 * `ptbench compare` (= `npm run compare`): two runs side by side.
 *   ptbench compare                 latest vs previous file in results/
 *   ptbench compare A.json B.json   any two files (B is the newer side)
 *   ptbench compare --base REF      run the suite on REF (a git worktree) and on the current tree,
 *                                   interleaved over --rounds rounds, each run a fresh process
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compareResults, DEFAULT_COMPARE, machineDifferences, type Comparison } from '../compare/compare.js';
import { int, plainTable } from '../lib/format.js';
import { UsageError } from '../lib/size.js';
import { listResults, loadResults } from '../results/load.js';
import { median } from '../stats/bootstrap.js';
import type { ResultsFile, TaskResultRecord } from './bench.js';

export const COMPARE_HELP = `usage: ptbench compare [A.json [B.json]] [options]      (npm run compare -- ...)

Compares two runs: timings with a Mann-Whitney U test and the ratio of medians (B/A) with a 95 %
bootstrap interval, reported only when significant and above the noise floor ('~' otherwise), plus a
geometric-mean row; deterministic counts exactly, listing every change.

  (no files)         the latest results file in results/ against the previous one
  A.json [B.json]    these files (B defaults to the latest in results/)
  --base REF         run the suite on git REF and on the current tree, interleaved
  --rounds N         rounds for --base (default 5; each round runs both sides once)
  --suite, --design, --quick   passed to the benchmark runs of --base
  --alpha P          significance level (default 0.05)
  --noise F          noise floor as a fraction (default 0.02 = 2 %)
  --force            compare runs from different machines or Node majors anyway
  --fail-on-regression   exit 1 when any timing is significantly slower
  --json             print the comparison as JSON
`;

const fmtOps = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : x >= 1e3 ? `${(x / 1e3).toFixed(2)} k` : x.toFixed(2));

function describe(label: string, path: string, r: ResultsFile): string {
  const g = r.environment.git;
  return `${label} = ${path} (commit ${g.commit ? g.commit.slice(0, 10) : 'unknown'}${g.dirty ? ', dirty' : ''}, ${r.date})`;
}

export function renderComparison(c: Comparison, alpha: number, noise: number): string {
  const out: string[] = [];
  out.push(`timings (measured): B/A of median operations/s, 95 % bootstrap CI; Mann-Whitney U p over n samples (per-process medians when both sides ran >= 3 processes, else calls); '~' unless p < ${alpha} and the change exceeds ${(noise * 100).toFixed(1)} %`);
  const t = plainTable(['task', 'A', 'B', 'B/A [95% CI]', 'p', 'n', ''], ['left', 'right', 'right', 'right', 'right', 'right', 'left']);
  for (const r of c.rows) {
    t.push([r.key, `${fmtOps(r.a)} ${r.unit}/s`, `${fmtOps(r.b)} ${r.unit}/s`, `${r.ratio.toFixed(3)} [${r.lo.toFixed(3)}, ${r.hi.toFixed(3)}]`, r.p < 0.0001 ? '<0.0001' : r.p.toFixed(4), `${r.nA}/${r.nB} ${r.unitOfSample === 'process' ? 'proc' : 'calls'}`, r.verdict]);
  }
  if (c.geomean !== null) t.push(['geometric mean', '', '', c.geomean.toFixed(3), '', '', '']);
  out.push(t.toString());
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
    const per = runs.map((r) => r.tasks.find((x) => x.name === t.name && x.design === t.design)!.latencyMs.p50);
    const sorted = [...per].sort((x, y) => x - y);
    const mean = per.reduce((s, x) => s + x, 0) / per.length;
    const sd = Math.sqrt(per.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, per.length - 1));
    const p50 = median(per);
    return {
      ...t,
      latencyMs: { mean, p50, p75: sorted[Math.floor(0.75 * (sorted.length - 1))]!, p99: sorted[sorted.length - 1]!, min: sorted[0]!, max: sorted[sorted.length - 1]!, sd, rme: 0, samples: per },
      opsPerSec: { median: (t.opsPerCall * 1000) / p50, mean: (t.opsPerCall * 1000) / mean },
      calls: per.length,
      processMediansMs: per,
    };
  });
  return { ...first, tasks };
}

interface BaseOptions { ref: string; rounds: number; suite: string; quick: boolean; designs: string[] }

/** `--base REF`: a git worktree at REF, both trees built, benchmark runs interleaved (ABBA order). */
async function runBase(repo: string, o: BaseOptions): Promise<{ A: ResultsFile; B: ResultsFile; aLabel: string; bLabel: string }> {
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
  const say = (s: string) => process.stdout.write(`${s}\n`);
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
    for (let round = 0; round < o.rounds; round++) {
      const order: Array<'base' | 'head'> = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
      for (const side of order) {
        const dir = side === 'base' ? wt : repo;
        const out = join(work, `${side}-${round}.json`);
        const t0 = Date.now();
        const r = await run(process.execPath, [join(dir, 'dist', 'src', 'cli', 'main.js'), ...benchArgs, '--out', out], dir, ac.signal);
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

export async function compareMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, strict: true, allowPositionals: true,
    options: {
      base: { type: 'string' },
      rounds: { type: 'string', default: '5' },
      suite: { type: 'string', default: 'default' },
      design: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      alpha: { type: 'string', default: String(DEFAULT_COMPARE.alpha) },
      noise: { type: 'string', default: String(DEFAULT_COMPARE.noise) },
      force: { type: 'boolean', default: false },
      'fail-on-regression': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(COMPARE_HELP);
    return 0;
  }
  const alpha = Number(values.alpha);
  const noise = Number(values.noise);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha: '${values.alpha}' is not a probability between 0 and 1`);
  if (!(noise >= 0 && noise < 1)) throw new UsageError(`--noise: '${values.noise}' is not a fraction between 0 and 1`);
  const repo = process.cwd();
  let A: ResultsFile;
  let B: ResultsFile;
  let aLabel: string;
  let bLabel: string;
  if (values.base !== undefined) {
    if (positionals.length > 0) throw new UsageError('--base takes no results files');
    if (!/^\d+$/.test(values.rounds) || Number(values.rounds) < 2) throw new UsageError(`--rounds: '${values.rounds}' is not a whole number >= 2`);
    const { SUITES } = await import('./bench.js');
    if (!(SUITES as readonly string[]).includes(values.suite)) throw new UsageError(`--suite: unknown suite '${values.suite}'; suites: ${SUITES.join(', ')}`);
    const { designByName } = await import('../share/index.js');
    for (const d of values.design ?? []) designByName(d);
    ({ A, B, aLabel, bLabel } = await runBase(repo, { ref: values.base, rounds: Number(values.rounds), suite: values.suite, quick: values.quick, designs: values.design ?? [] }));
  } else {
    if (positionals.length > 2) throw new UsageError(`expected at most two results files, got ${positionals.length}`);
    const files = listResults(resolve(repo, 'results'));
    let pa: string;
    let pb: string;
    if (positionals.length === 2) [pa, pb] = [positionals[0]!, positionals[1]!];
    else if (positionals.length === 1) {
      if (files.length === 0) throw new UsageError('no results file in results/ to compare against; give two files');
      [pa, pb] = [positionals[0]!, files[files.length - 1]!];
    } else {
      if (files.length < 2) throw new UsageError(`need two results files in results/ (found ${files.length}); run 'npm run bench' twice, or give two files`);
      [pa, pb] = [files[files.length - 2]!, files[files.length - 1]!];
    }
    A = loadResults(pa);
    B = loadResults(pb);
    aLabel = describe('A', pa, A);
    bLabel = describe('B', pb, B);
  }
  const diffs = machineDifferences(A, B);
  if (diffs.length > 0 && !values.force) {
    throw new UsageError(`refusing to compare runs from different machines or Node majors: ${diffs.join('; ')} (use --force)`);
  }
  const c = compareResults(A, B, { alpha, noise });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ a: aLabel, b: bLabel, alpha, noise, machineDifferences: diffs, ...c }, null, 2)}\n`);
  } else {
    process.stdout.write(`ptbench compare\n${aLabel}\n${bLabel}\n`);
    if (diffs.length > 0) process.stdout.write(`warning: compared across machines (--force): ${diffs.join('; ')}\n`);
    const flags = (r: ResultsFile) => (r.environment.v8Flags ?? []).join(' ') || '(none recorded)';
    if (flags(A) !== flags(B)) process.stdout.write(`note: V8 flags differ (they change how the simulator is compiled, not what it counts): A ${flags(A)}; B ${flags(B)}\n`);
    process.stdout.write(`${renderComparison(c, alpha, noise)}\n`);
  }
  const slower = c.rows.filter((r) => r.verdict === 'slower');
  if (values['fail-on-regression'] && slower.length > 0) {
    process.stderr.write(`ptbench: ${slower.length} significant regression(s): ${slower.map((r) => r.key).join(', ')}\n`);
    return 1;
  }
  return 0;
}
