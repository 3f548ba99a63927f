/**
 * `ptbench capture`: the /proc parsers and the scenario a capture becomes (synthetic input), then a
 * live process tree (test/fixtures/capture/sharer.c, compiled here) captured and predicted against the
 * kernel's own VmPTE, and the bad inputs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { buildSync } from 'esbuild';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'node:test';
import { UsageError } from '../../src/lib/errors.js';
import { kernelConfig } from '../../src/mm/kernel_profile.js';
import { designByName } from '../../src/share/index.js';
import { runTimeline } from '../../src/workload/timeline.js';
import { validate } from '../../src/harness/load.js';
import { toTimeline } from '../../src/harness/scenario_file.js';
import { parseSmaps, type ProcVma } from '../../src/harness/capture/proc.js';
import { captureScenario, type CapturedProcess } from '../../src/harness/capture/to_scenario.js';
import { captureProcesses, checkPid, predictProcesses, type Captured } from '../../src/harness/capture/capture.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const TiB = 2 ** 40;

test('parseSmaps reads the maps line, page size, RSS, swap, PMD-mapped THP and VmFlags', () => {
  const text = [
    '100000000000-100080000000 rw-s 00000000 00:01 79                         /dev/zero (deleted)',
    'Size:            2097152 kB', 'KernelPageSize:        4 kB', 'Rss:                3000 kB', 'AnonHugePages:         0 kB',
    'ShmemPmdMapped:     2048 kB', 'FilePmdMapped:         0 kB', 'Swap:                 8 kB', 'VmFlags: rd wr sh mr mw me ms nh ',
    '7fe7aaf98000-7fe7aaf9c000 r--p 00000000 00:00 0                          [vvar]',
    'KernelPageSize:        4 kB', 'Rss:                   0 kB', 'VmFlags: rd mr pf io de dd ',
  ].join('\n');
  const [a, b] = parseSmaps(text);
  assert.deepEqual({ ...a, vmFlags: a!.vmFlags.length }, {
    start: 16 * TiB, end: 16 * TiB + 2 * GiB, perms: 'rw-s', offset: 0, dev: '00:01', inode: 79, path: '/dev/zero (deleted)',
    kernelPageSize: 4096, rssBytes: 3000 * 1024, swapBytes: 8 * 1024, thpPmdBytes: 2 * MiB, vmFlags: 8,
  });
  assert.deepEqual(b!.vmFlags.slice(2, 4), ['pf', 'io']);
  assert.equal(b!.path, '[vvar]');
});

type Runs = Array<[number, number]>;
function vma(start: number, len: number, perms: string, o: Partial<ProcVma> = {}, read: Runs = [], write: Runs = [], swapped: Runs = []): CapturedProcess['vmas'][number] {
  return {
    start, end: start + len, perms, offset: 0, dev: '00:00', inode: 0, path: '', kernelPageSize: 4096, rssBytes: 0, swapBytes: 0, thpPmdBytes: 0, vmFlags: [], ...o,
    runs: { read, write, swappedRuns: swapped, present: 0, swapped: 0, markers: 0 },
  };
}

// Two processes: both map one memfd (same dev:inode) at different addresses, one file privately with a
// written (COW) page in a read-only VMA, and a SysV segment; [vsyscall] and a VM_PFNMAP mapping are
// left out.
const MEMFD = { dev: '00:01', inode: 4242, path: '/memfd:pool (deleted)' };
const procs: CapturedProcess[] = [
  {
    pid: 100, comm: 'db', ppid: 1, actualVmPTEBytes: 0,
    vmas: [
      vma(0x7f0000000000, 8 * MiB, 'rw-s', MEMFD, [[0, 512], [1024, 1]]),
      vma(0x7f1000000000, 16384, 'r--p', { dev: 'fe:00', inode: 7, path: '/usr/lib/libx.so', offset: 8192 }, [[0, 1]], [[2, 1]]),
      vma(0x7f2000000000, 8192, 'r--p', { path: '[vvar]', vmFlags: ['pf', 'io'] }),
      // A SysV segment shows its shmid in the inode column, here 0: still an object.
      vma(0x7f3000000000, 4096, 'rw-s', { dev: '00:01', inode: 0, path: '/SYSV000622e8 (deleted)' }, [[0, 1]]),
      vma(0xffffffffff600000, 4096, '--xp', { path: '[vsyscall]' }),
    ],
  },
  {
    pid: 101, comm: 'db', ppid: 100, actualVmPTEBytes: 0,
    // A heap of 2 written pages, the second swapped out.
    vmas: [vma(0x7e0040000000, 8 * MiB, 'r--s', MEMFD, [[3, 2]]), vma(0x7e0040800000, 8192, 'rw-p', { path: '[heap]' }, [], [[0, 2]], [[1, 1]])],
  },
];
const fsType = new Map([['fe:00', 'ext4']]);

test('a capture becomes a schema-valid scenario: objects by identity, widened then mprotected, left-out VMAs noted', () => {
  const { scenario, notes } = captureScenario(procs, { kernel: '6.18.44', date: '2026-12-07T00:00:00.000Z', command: 'ptbench capture --pid 100 --tree', fsType });
  assert.equal(validate('ptbench-scenario-1', scenario), null);
  const s = scenario as { objects: Record<string, { kind: string; size: number }>; timeline: Array<Record<string, unknown>>; captured: object };
  // Both processes map the memfd under one name (dev 00:01 is no mount here: the internal shmem mount).
  assert.deepEqual(s.objects, {
    'memfd:pool@00:01:4242': { kind: 'shmem', size: 8 * MiB }, 'libx.so@fe:00:7': { kind: 'file', size: 8192 + 16384 }, 'SYSV000622e8@00:01:0': { kind: 'shmem', size: 4096 },
  });
  assert.deepEqual(s.captured, { kernel: '6.18.44', date: '2026-12-07T00:00:00.000Z', pids: [100, 101], swapped: [{ proc: 'db[101]', addr: '0x7e0040800000', pages: [[1, 1]] }] });
  const ops = s.timeline.map((x) => `${String(x.op)} ${String(x.proc ?? x.name ?? x.label)}${x.prot ? ` ${String(x.prot)}` : ''}${x.write !== undefined ? ` w=${String(x.write)}` : ''}`);
  assert.deepEqual(ops, [
    'spawn db[100]',
    'mmap db[100] rw', // the memfd
    'mmap db[100] rw', // libx: read-only with a written page, so mapped rw ...
    'mmap db[100] rw', // the SysV segment
    'touch db[100] w=true', // the writable MAP_SHARED mapping is written
    'touch db[100] w=false', // libx's file page
    'touch db[100] w=true', // libx's anonymous (COW) page
    'touch db[100] w=true', // the SysV page
    'mprotect db[100] r', // ... and mprotected to what was captured
    'spawn db[101]',
    'mmap db[101] r',
    'mmap db[101] rw',
    'touch db[101] w=false',
    'touch db[101] w=true', // the heap, its swapped page included
    'snapshot captured',
  ]);
  assert.deepEqual(notes, [{ pid: 100, what: 'pfnmap', bytes: 8192 }, { pid: 100, what: 'vsyscall', bytes: 4096 }]);

  // Replayed (private): db[100] touched 512 + 1 pages of the memfd in 2 MiB windows 0 and 2, libx
  // pages in one more window and the SysV page in one more: 4 PTE tables; 0x7f00.., 0x7f10.. and
  // 0x7f30.. share a PGD entry (512 GiB) but no PUD entry (1 GiB): 1 PUD table + 3 PMD tables.
  // VmPTE = (4 + 3 + 1) x 4 KiB. db[101]: the memfd and the heap in two 2 MiB windows of one GiB:
  // 2 + 1 + 1 tables.
  const t = toTimeline(scenario, 'captured');
  const run = runTimeline(t, designByName('private'), kernelConfig('6.18'));
  const snap = run.snapshots[0]!.figures;
  assert.deepEqual(snap.processes.map((p) => [p.name, p.vmpteBytes]), [['db[100]', (4 + 3 + 1) * 4096], ['db[101]', (2 + 1 + 1) * 4096]]);
  assert.equal(snap.refused.length, 0);
});

test('placed for mshare: each MAP_SHARED object gets a 512 GiB-aligned region of its own, mapped whole', () => {
  const { scenario } = captureScenario(procs, { kernel: '6.18.44', date: '2026-12-07T00:00:00.000Z', command: 'x', fsType, place: { align: 2 ** 39, taskSize: 2 ** 47 - 4096 } });
  const s = scenario as { timeline: Array<Record<string, unknown>> };
  const maps = s.timeline.filter((x) => x.op === 'mmap' && x.object === 'memfd:pool@00:01:4242');
  // Block 0 is free (nothing below 512 GiB), but the search starts at block 1: 0x8000000000.
  assert.deepEqual(maps.map((x) => [x.addr, x.length, x.prot]), [['0x8000000000', 8 * MiB, 'rw'], ['0x8000000000', 8 * MiB, 'r']]);
  const touches = s.timeline.filter((x) => x.op === 'touch' && x.addr === '0x8000000000');
  assert.deepEqual(touches.map((x) => x.pages), [[[0, 512], [1024, 1]], [[3, 2]]]);
  const run = runTimeline(toTimeline(scenario, 'placed'), designByName('mshare'), kernelConfig('6.18'));
  assert.equal(run.snapshots[0]!.figures.refused.length, 0);
});

test('bad --pid values: one line each (not a number, no such process, a kernel thread)', () => {
  assert.throws(() => checkPid('abc'), (e: unknown) => e instanceof UsageError && /'abc' is not a process id/.test(e.message));
  const max = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  assert.throws(() => checkPid(String(max + 1)), (e: unknown) => e instanceof UsageError && /no such process/.test(e.message));
  // kthreadd (pid 2) has no mm.
  assert.throws(() => checkPid('2'), (e: unknown) => e instanceof UsageError && /has no mm/.test(e.message));
});

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

test('the CLI: no --pid, or a kernel thread, is one line and exit 2, and no file is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptbench-capture-'));
  try {
    for (const [args, re] of [[[], /give the process to capture with --pid PID/], [['--pid', '2'], /--pid 2 \(kthreadd\) has no mm/]] as const) {
      const r = spawnSync(process.execPath, [...CLI, 'capture', ...args, '--out', join(dir, 'x.json')], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^ptbench: error: [^\n]+\n$/);
      assert.match(r.stderr, re);
    }
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without permission to read the pagemap: one line, exit 2', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to run the CLI as another user (nobody) against a root process');
    return;
  }
  // nobody may not be able to read this checkout (a clone made by mktemp -d is mode 700), so the CLI
  // runs as one bundled file (esbuild) from a world-readable directory.
  const dir = mkdtempSync(join(tmpdir(), 'ptbench-nobody-'));
  try {
    chmodSync(dir, 0o755);
    const cli = join(dir, 'ptbench.mjs');
    buildSync({
      entryPoints: ['src/cli/main.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: cli, logLevel: 'error',
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    });
    // pid 1 belongs to root; as nobody its pagemap is out of reach (ptrace access mode read).
    const r = spawnSync(process.execPath, [cli, 'capture', '--pid', '1', '--out', join(tmpdir(), `ptbench-nobody-out-${process.pid}`, 'x.json')], { encoding: 'utf8', cwd: dir, uid: 65534, gid: 65534, env: { ...process.env, HOME: dir } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^ptbench: error: EACCES: cannot read \/proc\/1\/pagemap \(.*\): permission denied; capture a process of your own user, or run as root\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Child { pid: number; before: number; after: number }

/** Compile and start the fixture; resolves once the parent says ready, with its children's readings. */
async function startSharer(dir: string, children: number, mib: number): Promise<{ pid: number; kids: Child[]; stop: () => Promise<void> }> {
  const exe = join(dir, 'sharer');
  const cc = spawnSync(process.env.CC ?? 'cc', ['-O2', '-o', exe, 'test/fixtures/capture/sharer.c'], { encoding: 'utf8' });
  assert.equal(cc.status, 0, `the fixture needs a C compiler (.ci/run installs gcc): ${cc.stderr ?? String(cc.error)}`);
  const p = spawn(exe, [String(children), String(mib)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const kids: Child[] = [];
  const lines = createInterface({ input: p.stdout });
  const pid = await new Promise<number>((resolve, reject) => {
    lines.on('line', (l) => {
      const m = /^child pid=(\d+) before=(\d+) after=(\d+)$/.exec(l);
      if (m) kids.push({ pid: Number(m[1]), before: Number(m[2]), after: Number(m[3]) });
      const r = /^ready pid=(\d+)$/.exec(l);
      if (r) resolve(Number(r[1]));
    });
    p.once('exit', (code) => reject(new Error(`sharer exited with ${code}`)));
  });
  const stop = () => new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.stdin.end();
  });
  return { pid, kids, stop };
}

test('live: a parent and 3 children sharing a MAP_SHARED region, captured; predictions equal the kernel\'s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptbench-capture-'));
  const s = await startSharer(dir, 3, 2048);
  try {
    const c = captureProcesses(s.pid, true);
    assert.deepEqual(c.processes.map((p) => p.pid), [s.pid, ...s.kids.map((k) => k.pid).sort((a, b) => a - b)]);
    const kernel = kernelConfig('6.18');
    // The region alone: each child's tables for it are the VmPTE its touches added (the child read it
    // before and after). The region is at 16 TiB, a PGD entry of its own: one PUD table, a PMD table
    // per GiB touched, a PTE table per 2 MiB touched, all in VmPTE (which has no PGD).
    const regionOnly: Captured = { ...c, processes: c.processes.map((p) => ({ ...p, vmas: p.vmas.filter((v) => v.start === 16 * TiB) })) };
    const region = predictProcesses(regionOnly, kernel, 'test');
    for (const k of s.kids) {
      const got = region.find((p) => p.pid === k.pid)!;
      assert.equal(got.predictedVmpteBytes, k.after - k.before, `child ${k.pid}: the region's tables`);
    }
    // Child 0 wrote the first 8 MiB: 4 PTE + 1 PMD + 1 PUD tables = 24 KiB, by hand.
    const first = s.kids.find((k) => k.after - k.before === 6 * 4096);
    assert.ok(first !== undefined, JSON.stringify(s.kids));
    // The whole process: within 2 % of /proc/PID/status.
    for (const p of predictProcesses(c, kernel, 'test')) {
      const err = Math.abs(p.predictedVmpteBytes - p.actualVmpteBytes) / p.actualVmpteBytes;
      assert.ok(err <= 0.02, `${p.comm}[${p.pid}]: predicted ${p.predictedVmpteBytes} B, the kernel ${p.actualVmpteBytes} B`);
    }
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// capture predicts under the host's kernel configuration (PTI active gives an 8 KiB PGD on 6.18) and
// writes it into the scenario file, which run then follows: the replay equals the capture whether PTI
// is active on this machine or not. The host reading is forced both ways with --pti (as detectKernel
// would set it; its reading is tested in kernel_detect.test.ts), and once left to the host.
test('live: the CLI writes a scenario that ptbench run replays under the same kernel, PTI active or not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptbench-capture-'));
  const s = await startSharer(dir, 2, 64);
  try {
    const replays: Record<string, number> = {};
    for (const pti of ['host', 'on', 'off'] as const) {
      const out = join(dir, `captured-${pti}.json`);
      const kernelArgs = pti === 'host' ? [] : ['--pti', pti];
      const r = spawnSync(process.execPath, [...CLI, 'capture', '--pid', String(s.pid), '--tree', '--out', out, '--design', 'private,ptshare,mshare', '--json', ...kernelArgs], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const j = JSON.parse(r.stdout) as { tool: string; kernel: { profile: string; pti: boolean; pgdBytes: number }; processes: Array<{ pid: number; comm: string; predictedVmpteBytes: number;
        actualVmpteBytes: number }>; designs: Record<string, { pageTableBytes: number }> };
      assert.equal(j.tool, 'ptbench capture');
      assert.equal(j.processes.length, 3);
      assert.ok(j.processes.every((p) => p.comm === 'sharer' && p.predictedVmpteBytes > 0 && p.actualVmpteBytes > 0));
      assert.deepEqual(Object.keys(j.designs), ['private', 'ptshare', 'mshare']);
      if (pti !== 'host') assert.equal(j.kernel.pti, pti === 'on');
      // KERNEL_RULES.pgd_order_pti (6.15+, pgd_allocation_order()): 8 KiB with PTI, 4 KiB without.
      if (j.kernel.profile === '6.18') assert.equal(j.kernel.pgdBytes, j.kernel.pti ? 8192 : 4096);
      // MAP_SHARED | MAP_ANONYMOUS gets private tables under ptshare (its check runs before the file exists).
      assert.equal(j.designs.ptshare!.pageTableBytes, j.designs.private!.pageTableBytes);
      // The file records what capture predicted under ...
      const file = JSON.parse(readFileSync(out, 'utf8')) as { kernel: { profile: string; pti: boolean } };
      assert.deepEqual({ profile: file.kernel.profile, pti: file.kernel.pti }, { profile: j.kernel.profile, pti: j.kernel.pti });
      // ... and run, given no kernel option, replays under it and says so.
      const replayed = spawnSync(process.execPath, [...CLI, 'run', out, '--design', 'private', '--json'], { encoding: 'utf8' });
      assert.equal(replayed.status, 0, replayed.stderr);
      const rj = JSON.parse(replayed.stdout) as { kernel: { pti: boolean }; kernelFrom: string; snapshots: Array<{ designs: Record<string, { pageTableBytes: number }> }> };
      assert.equal(rj.kernel.pti, j.kernel.pti);
      assert.match(rj.kernelFrom, /as the scenario file records it/);
      assert.equal(rj.snapshots[0]!.designs.private!.pageTableBytes, j.designs.private!.pageTableBytes);
      replays[pti] = j.designs.private!.pageTableBytes;
    }
    // Three processes, one PGD each: PTI on 6.18 adds 4 KiB to each.
    assert.equal(replays.on! - replays.off!, 3 * 4096);
    // An option overrides the recorded knob: the PTI-on file replayed with --pti off is the PTI-off figure.
    const over = spawnSync(process.execPath, [...CLI, 'run', join(dir, 'captured-on.json'), '--design', 'private', '--pti', 'off', '--json'], { encoding: 'utf8' });
    assert.equal(over.status, 0, over.stderr);
    const oj = JSON.parse(over.stdout) as { kernelFrom: string; snapshots: Array<{ designs: Record<string, { pageTableBytes: number }> }> };
    assert.equal(oj.snapshots[0]!.designs.private!.pageTableBytes, replays.off);
    assert.match(oj.kernelFrom, /^--pti given; the rest as the scenario file records it$/);
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
