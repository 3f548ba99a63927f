/**
 * Bad input on the command line: one line on stderr naming what is wrong and what would be right,
 * exit status 2, no stack trace, no file written, and checked before any long work starts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { useColor } from '../../src/lib/cli_args.js';
import { tempDir } from '../helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const ptbench = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env, timeout: 120_000 });

/** Exit 2 and exactly one line on stderr, `ptbench: error: ...`, matching `re`. */
function oneLine(args: string[], re: RegExp): void {
  const t0 = Date.now();
  const r = ptbench(args);
  assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, /^ptbench: error: [^\n]+\n$/, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, re);
  // Refused before any long work: a full bench run takes minutes.
  assert.ok(Date.now() - t0 < 60_000, `${args.join(' ')} took ${Date.now() - t0} ms`);
}

test('--procs beyond PID_MAX_LIMIT (4 * 1024 * 1024, include/linux/threads.h) is one line, not a RangeError or an exhausted heap', () => {
  oneLine(['mem', '--procs', '999999999999', '--engine', 'count'], /--procs: '999999999999' is not a whole number of processes from 1 to 4194304/);
  oneLine(['mem', '--procs', '100000000', '--engine', 'count'], /PID_MAX_LIMIT/);
  oneLine(['sweep', '--procs', '1,5000000'], /--procs: '5000000'/);
});

test('the counting engine reports groups: 4,194,304 processes cost O(groups)', () => {
  const r = ptbench(['mem', '--procs', '4194304', '--engine', 'count', '--size', '2MiB', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { processes: Array<{ pid: number; count: number }>; tables: Record<string, number> };
  // One group of identical processes: each has a PGD, a PUD, a PMD and one PTE table for 2 MiB.
  assert.deepEqual(j.processes.map((p) => [p.pid, p.count]), [[1, 4194304]]);
  assert.deepEqual(j.tables, { pgd: 4194304, p4d: 0, pud: 4194304, pmd: 4194304, pte: 4194304 });
});

test('smp with a region too large to simulate is one line before anything is allocated', () => {
  oneLine(['smp', '--size', '1TiB'], /--size: 8 process\(es\) touching 268435456 page\(s\) each need [\d.]+ GiB of simulator memory \(limit 8 GiB\)/);
});

test('an unwritable --out or --html is refused before the run, and nothing is left behind', () => {
  const dir = tempDir('ptbench-bad-');
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  for (const [args, re] of [
    [['bench', '--out', join(file, 'r.json')], /--out .*: .*plain is not a directory/],
    [['bench', '--out', '/proc/ptbench.json'], /EACCES: --out \/proc\/ptbench.json: cannot write in \/proc/],
    [['bench', '--out', dir], /is a directory; give a file name/],
    [['chart', '--html', '/proc/ptbench.html'], /--html \/proc\/ptbench.html: cannot write in \/proc/],
    [['sweep', '--out', join(file, 'x.json')], /plain is not a directory/],
    [['smp', '--procs', '2', '--size', '8MiB', '--out', '/proc/ptbench.json'], /--out \/proc\/ptbench.json: cannot write/],
  ] as Array<[string[], RegExp]>) oneLine(args, re);
  assert.deepEqual(readdirSync(dir), ['plain']);
  assert.equal(existsSync('/proc/ptbench.json'), false);
});

test('a trace with no data accesses says so', () => {
  const dir = tempDir('ptbench-bad-');
  const empty = join(dir, 'empty.trace');
  writeFileSync(empty, '');
  oneLine(['tlb', '--trace', empty], /the trace holds no data accesses \(0 line\(s\), 0 instruction fetch\(es\)\)/);
  const fetches = join(dir, 'fetches.trace');
  writeFileSync(fetches, 'I  04000000,3\nI  04000003,2\n');
  oneLine(['tlb', '--trace', fetches], /no data accesses \(2 line\(s\), 2 instruction fetch\(es\)\)/);
});

test('matrix has --help, refuses unknown options, and --version prints the version', () => {
  const h = ptbench(['matrix', '--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^usage: ptbench matrix \[--kernel NAME\] \[--pt-reclaim on\|off\] \[--json\]/);
  oneLine(['matrix', '--bogus'], /Unknown option '--bogus'; see 'ptbench matrix --help'/);
  const v = ptbench(['--version']);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^ptbench \d+\.\d+\.\d+\n$/);
});

test('a design named twice, or an option given twice, is one line', () => {
  oneLine(['mem', '--design', 'private,private', '--procs', '2'], /--design: 'private' is named twice/);
  oneLine(['bench', '--design', 'ptshare', '--design', 'ptshare'], /--design: 'ptshare' is named twice/);
  oneLine(['mem', '--procs', '2', '--procs', '3'], /--procs: given more than once; give it once/);
  oneLine(['tlb', '--cpus', '2', '--cpus', '4'], /--cpus: given more than once/);
});

test('FORCE_COLOR=0 and NO_COLOR turn colour off on a terminal, as the no-color and FORCE_COLOR conventions say', () => {
  const tty = { isTTY: true };
  const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
  try {
    delete process.env.NO_COLOR;
    delete process.env.FORCE_COLOR;
    assert.equal(useColor(tty), true);
    assert.equal(useColor({ isTTY: false }), false);
    process.env.FORCE_COLOR = '0';
    assert.equal(useColor(tty), false);
    process.env.FORCE_COLOR = 'false';
    assert.equal(useColor(tty), false);
    delete process.env.FORCE_COLOR;
    process.env.NO_COLOR = '1';
    assert.equal(useColor(tty), false);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test('an unknown kernel profile or knob is one line listing the valid ones', () => {
  oneLine(['mem', '--kernel', '5.4'], /--kernel: unknown kernel profile '5.4'; profiles: 6.12, 6.18/);
  oneLine(['mem', '--kernel', '6.12', '--pt-reclaim', 'on'], /CONFIG_PT_RECLAIM does not exist in Linux 6.12 \(it came in 6.14\)/);
  oneLine(['mem', '--pt-reclaim', 'maybe'], /--pt-reclaim: 'maybe' is not on or off/);
  const r = ptbench(['mem', '--kernel', '6.12', '--procs', '1', '--size', '2MiB', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { kernel: object }).kernel, { profile: '6.12', ptReclaim: false, pti: false, pgdBytes: 8192, pgdInPageTables: false, hugetlbUnshareSync: true, invlpgb: false, lazyMmCpumask: false });
});

test('every simulating command takes --kernel and --pt-reclaim, refusing a bad one in one line', () => {
  oneLine(['tlb', '--kernel', '5.4'], /--kernel: unknown kernel profile '5.4'/);
  oneLine(['reclaim', '--kernel', '6.12', '--pt-reclaim', 'on'], /CONFIG_PT_RECLAIM does not exist in Linux 6.12/);
  oneLine(['smp', '--pt-reclaim', 'yes'], /--pt-reclaim: 'yes' is not on or off/);
  oneLine(['tlb', '--pti', 'yes'], /--pti: 'yes' is not on or off/);
  oneLine(['matrix', '--kernel', '4.19'], /--kernel: unknown kernel profile '4.19'/);
  const s = ptbench(['sweep', '--kernel', '6.12', '--procs', '1,2', '--sizes', '1GiB', '--json']);
  assert.equal(s.status, 0, s.stderr);
  assert.deepEqual((JSON.parse(s.stdout) as { config: { kernel: object } }).config.kernel, { profile: '6.12', ptReclaim: false, pti: false, pgdBytes: 8192, pgdInPageTables: false, hugetlbUnshareSync: true, invlpgb: false, lazyMmCpumask: false });
});

test('a reader that stops early (ptbench sweep --json | head -1) ends the command quietly, with no stack trace', () => {
  // 231 KB of JSON: more than a pipe holds, so the writer meets EPIPE once head has its line.
  const r = spawnSync('sh', ['-c', `${process.execPath} --import tsx src/cli/main.ts sweep --json | head -1`], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^\{/);
  assert.equal(r.stderr, '');
});

test('bench records the kernel it was told to simulate, and refuses an unknown one before running', () => {
  oneLine(['bench', '--kernel', '5.4'], /--kernel: unknown kernel profile '5.4'/);
  const dir = tempDir('ptbench-bench-kernel-');
  const out = join(dir, 'r.json');
  const r = ptbench(['bench', '--suite', 'mem', '--quick', '--design', 'private', '--kernel', '6.12', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^kernel Linux 6\.12/m);
  const j = JSON.parse(readFileSync(out, 'utf8')) as { config: { kernel: object } };
  assert.deepEqual(j.config.kernel, { profile: '6.12', ptReclaim: false, pti: false, pgdBytes: 8192, pgdInPageTables: false, hugetlbUnshareSync: true, invlpgb: false, lazyMmCpumask: false });
});
