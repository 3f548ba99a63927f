/**
 * What a new user typed and broke (the reliability review): crashes, hangs, partial files and wrong
 * answers, each pinned here. Bad input is one line on stderr naming what is wrong and what would be
 * right, exit 2, checked before long work starts, and nothing partial is left behind.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { latestMemoryRun } from '../../src/harness/load.js';
import { defaultResultsPath } from '../../src/harness/runner.js';
import { writeTextAtomic } from '../../src/harness/write.js';
import { guardText, printable } from '../../src/lib/terminal.js';
import { placeLabels } from '../../src/harness/report_svg.js';
import { tempDir } from '../helpers.js';

// tsx by URL, so the CLI also runs from a working directory outside the checkout.
const TSX = import.meta.resolve('tsx');
const MAIN = resolve('src/cli/main.ts');
const ptbench = (args: string[], o: { cwd?: string; timeout?: number } = {}) =>
  spawnSync(process.execPath, ['--import', TSX, MAIN, ...args], { encoding: 'utf8', cwd: o.cwd, timeout: o.timeout ?? 60_000 });

/** Exit 2, one line `ptbench: error: ...` matching `re`, within `ms` (checked before long work). */
function oneLine(args: string[], re: RegExp, o: { cwd?: string; ms?: number } = {}): void {
  const t0 = Date.now();
  const r = ptbench(args, { cwd: o.cwd, timeout: 60_000 });
  assert.notEqual(r.signal, 'SIGTERM', `${args.join(' ')}: still running after 60 s (a hang)`);
  assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  assert.match(r.stderr, /^ptbench: error: [^\n]+\n$/, `${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, re, args.join(' '));
  assert.doesNotMatch(r.stderr, /MachineOptions| {4}at /, args.join(' '));
  assert.ok(Date.now() - t0 < (o.ms ?? 30_000), `${args.join(' ')} took ${Date.now() - t0} ms`);
}

const scenario = (dir: string, name: string, body: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, JSON.stringify(body));
  return p;
};
const snap = { op: 'snapshot', label: 's' };

test('tlb: LLC share sizes, a zero stride, and runs too long to finish are one line before any work', () => {
  for (const v of ['0', '1', '1000', '1TiB']) oneLine(['tlb', '--llc-pt', v], new RegExp(`--llc-pt: '${v}' must be 1 KiB times a power of two`));
  // Every design used to skip the same bad stride, leaving an empty table and exit 0.
  oneLine(['tlb', '--stream', 'strided', '--stride', '0'], /--stride: '0' must be a positive multiple of 64 bytes/);
  // 16 processes x 1.5e12 accesses: a hang before.
  oneLine(['tlb', '--accesses', '1000000000000'], /--accesses: 16 process\(es\) x 1500000000000 accesses .* more than 2147483648/);
  // 1,500 processes each writing 300 GB (73,242,188 pages): 1.1e11 faults per design, and 2.6 GB of heap growing.
  oneLine(['tlb', '--procs', '1500', '--size', '300GB', '--accesses', '1000', '--no-probes'], /1500 process\(es\) each writing 73242188 pages is 1\.10e\+11 page faults/);
  oneLine(['bench', '--quick', '--time', '1000000000'], /--time: '1000000000' is not a number of milliseconds from 1 to 600000/);
});

test('run: devices, FIFOs and directories are refused rather than read forever', () => {
  const dir = tempDir('ptbench-rel-');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  oneLine(['run', '/dev/zero'], /scenario file \/dev\/zero: not a regular file \(a device\)/);
  oneLine(['run', fifo], /not a regular file \(a FIFO\)/);
  oneLine(['run', dir], /not a regular file \(a directory\)/);
});

test('run: a random or Zipf touch of part of 1 GiB runs (tables bounded by the windows touched)', () => {
  const dir = tempDir('ptbench-rel-');
  for (const [pattern, fraction] of [['random', 0.5], ['zipf', 0.3], ['random', 0.99]] as const) {
    const f = scenario(dir, `${pattern}-${fraction}.json`, {
      objects: {}, timeline: [{ op: 'spawn', name: 'p', count: 1 }, { op: 'mmap', proc: 'p', addr: '0x7f0000000000', length: '1GiB' },
        { op: 'touch', proc: 'p', addr: '0x7f0000000000', length: '1GiB', write: true, pattern, fraction }, snap],
    });
    const r = ptbench(['run', f, '--design', 'private', '--json']);
    assert.equal(r.status, 0, `${pattern} ${fraction}: ${r.stderr}`);
    const d = (JSON.parse(r.stdout) as { snapshots: Array<{ designs: Record<string, { tables: { pte: number; pmd: number; pud: number }; refused: unknown[] }> }> }).snapshots[0]!.designs.private!;
    // 131,072 (or more) random pages of 262,144 leave no 2 MiB window of 512 pages untouched: all 512
    // PTE tables, 1 PMD, 1 PUD. Zipf's hot pages are scattered too.
    assert.deepEqual([d.tables.pte, d.tables.pmd, d.tables.pud, d.refused.length], [512, 1, 1, 0], `${pattern} ${fraction}`);
  }
});

test('run: 200,000 single-page touches are not refused by a table estimate per touch', () => {
  const dir = tempDir('ptbench-rel-');
  const t: unknown[] = [{ op: 'spawn', name: 'p', count: 1 }, { op: 'mmap', proc: 'p', addr: '0x7f0000000000', length: '64GiB' }];
  // Page i * 7919 mod 2^24: 200,000 distinct pages over the first 64 GiB.
  for (let i = 0; i < 200_000; i++) t.push({ op: 'touch', proc: 'p', addr: 0x7f0000000000 + ((i * 7919) % 2 ** 24) * 4096, length: 4096, write: true });
  t.push(snap);
  const r = ptbench(['run', scenario(dir, 't.json', { objects: {}, timeline: t }), '--design', 'private', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const d = (JSON.parse(r.stdout) as { snapshots: Array<{ designs: Record<string, { tables: { pte: number; pmd: number }; faults: number }> }> }).snapshots[0]!.designs.private!;
  // 7919 is prime to 2^24, so the pages are distinct; spread over all 32,768 windows of 2 MiB in 64 GiB.
  assert.deepEqual([d.faults, d.tables.pte, d.tables.pmd], [200_000, 32_768, 64]);
});

test('run: 125,000+ processes print a table (no Math.min spread); 50,000 forks of 50,000 mappings are one line', () => {
  const dir = tempDir('ptbench-rel-');
  const many = scenario(dir, 'many.json', { objects: {}, timeline: [{ op: 'spawn', name: 'p', count: 130_000 }, { op: 'mmap', proc: 'p', addr: '0x7f0000000000', length: 4096 }, { op: 'touch', proc: 'p', addr: '0x7f0000000000', length: 4096, write: true }, snap] });
  const r = ptbench(['run', many, '--design', 'private']);
  assert.equal(r.status, 0, r.stderr);
  // Each: PGD + PUD + PMD + PTE = 16 KiB, VmPTE 12 KiB.
  assert.match(r.stdout, /private +count +2,129,920,000 B .* 130,000 +12 KiB/);
  const t: unknown[] = [{ op: 'spawn', name: 'p', count: 1 }];
  for (let i = 0; i < 50_000; i++) t.push({ op: 'mmap', proc: 'p', addr: 0x7f0000000000 + i * 8192, length: 4096 });
  for (let i = 0; i < 50_000; i++) t.push({ op: 'fork', proc: 'p', name: `c${i}` });
  t.push(snap);
  // 50,000 VMAs in the parent, copied by each of 50,000 forks: 2,500,050,000 alive at once.
  oneLine(['run', scenario(dir, 'forks.json', { objects: {}, timeline: t }), '--design', 'private'], /up to 2500050000 VMAs alive at once .* more than the 2000000/);
});

test('run: no snapshot, a 2^64 length, a hugetlb size off its page size are one line with the JSON path', () => {
  const dir = tempDir('ptbench-rel-');
  const spawnP = { op: 'spawn', name: 'p', count: 1 };
  oneLine(['run', scenario(dir, 'a.json', { objects: {}, timeline: [spawnP] })], /a\.json: \/timeline: no snapshot step, so there is nothing to report; add \{"op": "snapshot"/);
  // 18446744073709551616 parses as a double above 2^53; it was printed as 18446744073709552000.
  writeFileSync(join(dir, 'b.json'), '{"objects":{},"timeline":[{"op":"spawn","name":"p","count":1},{"op":"mmap","proc":"p","addr":"0x7f0000000000","length":18446744073709551616},{"op":"snapshot","label":"s"}]}');
  oneLine(['run', join(dir, 'b.json')], /b\.json: \/timeline\/1\/length: a number above 2\^53 - 1/);
  oneLine(['run', scenario(dir, 'c.json', { objects: { h: { kind: 'hugetlb', size: '3MiB' } }, timeline: [spawnP, snap] })], /c\.json: \/objects\/h\/size: a hugetlbfs file of 3145728 bytes is not a multiple of its 2 MiB page size; round it to 4 MiB/);
  oneLine(['mem', '--size', '18446744073709551616'], /--size: '18446744073709551616' is more than 8 PiB \(2\^53 - 1 bytes\)/);
});

test('values that start with a dash, and internal names, never reach the user as Node or model wording', () => {
  oneLine(['mem', '--procs', '-5'], /--procs: its value starts with '-' and reads as an option; write --procs=VALUE/);
  oneLine(['mem', '--procs=-5'], /--procs: '-5' is not a whole number of processes/);
  oneLine(['reclaim', '--procs', '100000', '--size', '1GiB'], /too large to materialize: .*; give a smaller --size or fewer --procs$/m);
  const r = ptbench(['smp', '--pt-pages', '1', '--procs', '2', '--size', '8MiB']);
  assert.ok(r.status === 1 || r.status === 2, r.stderr);
  assert.match(r.stderr, /--pt-pages 1 is too few table pages for this run: raise it, or leave it out/);
  assert.doesNotMatch(r.stderr, /MachineOptions/);
});

test('escape sequences and NUL bytes in labels and descriptions are shown escaped, not sent to the terminal', () => {
  const dir = tempDir('ptbench-rel-');
  const f = scenario(dir, 'esc.json', { description: 'evil \u001b]0;owned\u0007 \u001b[2J', objects: {}, timeline: [{ op: 'spawn', name: 'p\u0000q', count: 1 }, { op: 'snapshot', label: 'lab\u001b[31mred' }] });
  const r = ptbench(['run', f, '--design', 'private']);
  assert.equal(r.status, 0, r.stderr);
  // eslint-disable-next-line no-control-regex -- no raw control character may reach the output
  assert.doesNotMatch(r.stdout, /[\u0000\u0007\u001b]/);
  assert.match(r.stdout, /evil \\x1b\]0;owned\\x07 \\x1b\[2J/);
  assert.match(r.stdout, /snapshot "lab\\x1b\[31mred"/);
  // --json keeps the data exact (JSON.stringify escapes control characters itself).
  const j = ptbench(['run', f, '--design', 'private', '--json']);
  assert.equal((JSON.parse(j.stdout) as { description: string }).description, 'evil \u001b]0;owned\u0007 \u001b[2J');
  // The filter lets through only ptbench's own colours and line erase.
  assert.equal(guardText('\u001b[32m✓\u001b[0m \r\u001b[2Kok\t\n'), '\u001b[32m✓\u001b[0m \r\u001b[2Kok\t\n');
  assert.equal(guardText('a\u001b]0;x\u0007b\u009bc'), 'a\\x1b]0;x\\x07b\\x9bc');
  assert.equal(printable('\u001b[31m'), '\\x1b[31m');
});

test('run says why a design shares nothing for the workload, and why threads is absent', () => {
  const r = ptbench(['run', 'scenarios/postgres.json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ptshare shares no table in this snapshot: it shares only MAP_SHARED file and shmem mappings .* not MAP_SHARED \| MAP_ANONYMOUS/m);
  assert.match(r.stdout, /^mshare shares no table in this snapshot: it shares only memory mapped inside an mshare region/m);
  assert.doesNotMatch(r.stdout, /^file-pt shares no table/m);
  assert.match(r.stdout, /^threads is left out: a timeline's processes have their own mms/m);
});

test('a full disk or a read-only mount is one line and leaves no file; bench finds it before its work', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to mount a small tmpfs');
    return;
  }
  const dir = tempDir('ptbench-full-');
  const full = join(dir, 'full');
  const ro = join(dir, 'ro');
  mkdirSync(full);
  mkdirSync(ro);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
  if (mount.status !== 0) {
    t.skip(`cannot mount a tmpfs here: ${mount.stderr.toString().trim()}`);
    return;
  }
  try {
    spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', ro]);
    // Leave about 4 KiB free: an empty probe file still fits, a results file does not.
    spawnSync('dd', ['if=/dev/zero', `of=${join(full, 'filler')}`, 'bs=4k', 'count=15'], { stdio: 'ignore' });
    const before = readdirSync(full).sort();
    const sleeper = spawn('sleep', ['60']);
    try {
      const cases: Array<[string[], RegExp]> = [
        [['bench', '--suite', 'mem', '--quick', '--out', join(full, 'r.json')], /ENOSPC: --out .*r\.json: .* has \d+ bytes free and the output needs about 524288/],
        [['sweep', '--procs', '1,2', '--sizes', '1GiB', '--out', join(full, 's.json')], /ENOSPC: cannot write .*s\.json: no space left on the device for \d+ bytes/],
        [['capture', '--pid', String(sleeper.pid), '--design', 'private', '--out', join(full, 'c.json')], /ENOSPC: cannot write .*c\.json: no space left/],
        [['report', '--html', join(full, 'report.html')], /ENOSPC: --html .*report\.html: .* bytes free/],
        [['matrix', '--out', join(full, 'm.md')], /ENOSPC: cannot write .*m\.md: no space left/],
        [['export', '--format', 'github-action-benchmark', '--out-dir', ro], /EACCES: --out-dir .*: cannot write in .*ro \(EROFS\)/],
      ];
      for (const [args, re] of cases) oneLine(args, re, { ms: 20_000 });
      assert.deepEqual(readdirSync(full).sort(), before);
    } finally {
      sleeper.kill();
    }
  } finally {
    spawnSync('umount', [ro]);
    spawnSync('umount', [full]);
  }
});

test('export naming an existing file, and validate with results/ as a file, are one line before work', () => {
  const dir = tempDir('ptbench-rel-');
  const file = join(dir, 'plain');
  writeFileSync(file, 'x');
  oneLine(['export', '--format', 'github-action-benchmark', '--out-dir', file], /--out-dir .*plain\/bigger-is-better\.json: .*plain is not a directory/);
  const cwd = tempDir('ptbench-rel-cwd-');
  writeFileSync(join(cwd, 'results'), 'not a directory');
  oneLine(['validate'], /--out results\/kernel\/.*\.json: .*results is not a directory/, { cwd, ms: 15_000 });
  assert.equal(readFileSync(join(cwd, 'results'), 'utf8'), 'not a directory');
});

test('matrix prints to stdout; --out writes the file whole, and a bad option leaves it as it was', () => {
  const dir = tempDir('ptbench-rel-');
  const out = join(dir, 'matrix.md');
  const r = ptbench(['matrix']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^#/);
  const w = ptbench(['matrix', '--out', out]);
  assert.equal(w.status, 0, w.stderr);
  assert.equal(readFileSync(out, 'utf8'), r.stdout);
  oneLine(['matrix', '--out', out, '--bogus'], /Unknown option '--bogus'/);
  assert.equal(readFileSync(out, 'utf8'), r.stdout);
});

test('results file names cannot collide: to the millisecond with the pid, and created exclusively', () => {
  const d = new Date('2026-12-08T01:02:03.456Z');
  assert.equal(defaultResultsPath('/r', 'abcdef0123456789', false, d, 4242), '/r/results/2026-12-08T010203.456Z-abcdef0123-4242.json');
  assert.notEqual(defaultResultsPath('/r', 'abc', true, d, 1), defaultResultsPath('/r', 'abc', true, d, 2));
  const dir = tempDir('ptbench-rel-');
  const p = join(dir, 'r.json');
  writeTextAtomic(p, 'first', { exclusive: true });
  assert.throws(() => writeTextAtomic(p, 'second', { exclusive: true }), /EEXIST: cannot write .*r\.json: exists already/);
  assert.equal(readFileSync(p, 'utf8'), 'first');
  assert.deepEqual(readdirSync(dir), ['r.json']);
});

test('two bench runs started together both keep their results', async () => {
  const cwd = tempDir('ptbench-rel-two-');
  const run = () => new Promise<number | null>((res) => {
    const p = spawn(process.execPath, ['--import', TSX, MAIN, 'bench', '--suite', 'mem', '--quick', '--design', 'private'], { cwd, stdio: 'ignore' });
    p.on('exit', (code) => res(code));
  });
  assert.deepEqual(await Promise.all([run(), run()]), [0, 0]);
  const files = readdirSync(join(cwd, 'results')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 2, files.join(', '));
  for (const f of files) assert.ok(statSync(join(cwd, 'results', f)).size > 0);
});

test('compare: runs configured differently show timings without p-values or verdicts; the gate exits 2', () => {
  const dir = tempDir('ptbench-rel-');
  const ref = readdirSync('results/reference').filter((f) => f.endsWith('.json')).sort().pop()!;
  const full = JSON.parse(readFileSync(join('results/reference', ref), 'utf8')) as { config: { quick: boolean; processes?: number } };
  const a = join(dir, 'full.json');
  const b = join(dir, 'quick.json');
  writeFileSync(a, JSON.stringify(full));
  writeFileSync(b, JSON.stringify({ ...full, config: { ...full.config, quick: true } }));
  const r = ptbench(['compare', a, b]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /timings are shown, not judged: no p-value or verdict across different configurations/);
  assert.doesNotMatch(r.stdout, /<0\.0001|\bfaster\b|\bslower\b/);
  assert.match(r.stdout, /not judged/);
  oneLine(['compare', a, b, '--fail-on-regression'], /--fail-on-regression: cannot judge these runs: the runs' configurations differ \(quick false vs true\)/);
  // One process a side: too few to judge, so the gate cannot pass either.
  const one = (p: string, f: typeof full) => writeFileSync(p, JSON.stringify({ ...f, config: { ...f.config, processes: 1 },
    tasks: (f as unknown as { tasks: Array<{ processMediansMs?: number[] }> }).tasks.map((t) => ({ ...t, ...(t.processMediansMs ? { processMediansMs: t.processMediansMs.slice(0, 1) } : {}) })) }));
  one(a, full);
  one(b, full);
  oneLine(['compare', a, b, '--fail-on-regression'], /cannot judge these runs: a side ran tasks in fewer than 3 processes/);
});

test('chart without a file finds a run that has memory scenarios and says which', () => {
  const repo = tempDir('ptbench-rel-chart-');
  mkdirSync(join(repo, 'results', 'reference'), { recursive: true });
  const ref = readdirSync('results/reference').filter((f) => f.endsWith('.json')).sort().pop()!;
  const withMemory = JSON.parse(readFileSync(join('results/reference', ref), 'utf8')) as { memory: unknown[]; config: object };
  writeFileSync(join(repo, 'results', 'reference', '2026-01-01T000000Z-ref.json'), JSON.stringify(withMemory));
  // Your only run is a fault suite: no memory scenarios.
  writeFileSync(join(repo, 'results', '2026-12-08T000000Z-mine.json'), JSON.stringify({ ...withMemory, memory: [], config: { ...withMemory.config, suite: 'fault' } }));
  const got = latestMemoryRun(repo);
  assert.equal(got.path, join(repo, 'results', 'reference', '2026-01-01T000000Z-ref.json'));
  assert.match(got.note!, /your newest run, 2026-12-08T000000Z-mine\.json, has no memory scenarios; charting the newest reference run that has them/);
  const r = ptbench(['chart'], { cwd: repo });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^your newest run, .* has no memory scenarios/m);
  // Your own run with memory wins once there is one.
  writeFileSync(join(repo, 'results', '2026-12-07T000000Z-mem.json'), JSON.stringify(withMemory));
  assert.match(latestMemoryRun(repo).path, /2026-12-07T000000Z-mem\.json$/);
  assert.equal(existsSync(join(repo, 'results', 'report.html')), false);
});

test('report end labels: pushed apart without overlap and kept inside the chart', () => {
  // Five labels wanted at the bottom edge of a 100-pixel chart, one line (14 px) each.
  const ends = [96, 97, 98, 99, 100].map((y) => ({ y, lines: ['x'] }));
  placeLabels(ends, 2, 100);
  assert.deepEqual(ends.map((e) => e.y), [100 - 5 * 14, 100 - 4 * 14, 100 - 3 * 14, 100 - 2 * 14, 100 - 14]);
  const tall = [{ y: 0, lines: ['a', 'b', 'c'] }, { y: 10, lines: ['d'] }];
  placeLabels(tall, 2, 100);
  assert.deepEqual(tall.map((e) => e.y), [2, 2 + 3 * 14]);
});
