/**
 * `ptbench run`'s timelines (src/workload/timeline.ts): exact counts per operation on small
 * scenarios, with the arithmetic; the counting engine against the materialized machine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { loadScenarioFile } from '../../src/harness/scenario_file.js';
import { kernelConfig } from '../../src/mm/kernel_profile.js';
import { designByName, DESIGNS } from '../../src/share/index.js';
import { runTimeline, type Timeline, type TimelineStep } from '../../src/workload/timeline.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'scenario-example.json');
const K = kernelConfig('6.18');
const T = 4096;
const BASE = 0x7f0000000000;

const run = (t: Timeline, design = 'private', kernel = K) => runTimeline(t, designByName(design), kernel);
const snap = (t: Timeline, label: string, design = 'private', kernel = K) => run(t, design, kernel).snapshots.find((s) => s.label === label)!.figures;

test('the issue example, private tables on 6.18: touched, forked, after MADV_DONTNEED', () => {
  const t = loadScenarioFile(FIXTURE);
  const r = run(t);
  assert.equal(r.engine, 'materialize');
  // 1 GiB of shmem at 0x7f0000000000 (PGD entry 254) and 64 MiB of anonymous memory at
  // 0x7f8000000000 (entry 255): 1 PGD, 2 PUD, 2 PMD, 512 + 32 PTE tables = 549 pages.
  const a = r.snapshots[0]!.figures;
  assert.deepEqual(a.tables, { pgd: 1, p4d: 0, pud: 2, pmd: 2, pte: 544 });
  assert.equal(a.pageTableBytes, 549 * T);
  assert.deepEqual(a.processes, [{ name: 'db', index: 0, vmpteBytes: (2 + 2 + 544) * T, rssBytes: (262_144 + 16_384) * T }]);
  assert.equal(a.faults, 262_144 + 16_384);
  // fork: copy_page_range copies the anonymous mapping's tables (1 PUD + 1 PMD + 32 PTE) and none of
  // the shared one's; the child also has its PGD: 549 + 35 = 584 pages. dup_mmap flushes the parent once.
  const b = r.snapshots[1]!.figures;
  assert.equal(b.pageTableBytes, 584 * T);
  assert.deepEqual(b.processes.map((p) => [p.name, p.vmpteBytes]), [['db', 548 * T], ['child', 34 * T]]);
  assert.equal(b.tlbFlushes, 1);
  // MADV_DONTNEED of the 1 GiB: PT_RECLAIM (6.14+) frees its 512 PTE tables; the child has exited:
  // 1 PGD + 2 PUD + 2 PMD + 32 PTE = 37 pages.
  const c = r.snapshots[2]!.figures;
  assert.equal(c.pageTableBytes, 37 * T);
  assert.deepEqual(c.refused, []);
  // Linux 6.12 keeps the 512 tables: 549 pages, the PGD there an 8 KiB allocation.
  assert.equal(snap(t, 'after dontneed', 'private', kernelConfig('6.12')).pageTableBytes, 548 * T + 8192);
  // ptshare and mshare refuse MADV_DONTNEED on their shared mapping: recorded, and the run goes on.
  const p = snap(t, 'after dontneed', 'ptshare');
  assert.deepEqual(p.refused.map((x) => [x.step, x.op, x.proc, x.errno]), [[8, 'madvise', 'db', 'EINVAL']]);
});

const shmemTimeline = (procs: number, len: number, more: TimelineStep[] = []): Timeline => ({
  objects: { shm: { kind: 'shmem', size: len, page: '4k' } },
  timeline: [
    { op: 'spawn', name: 'p', count: procs },
    { op: 'mmap', proc: 'p', object: 'shm', addr: BASE, length: len, offset: 0, shared: true, prot: 'rw' },
    { op: 'touch', proc: 'p', addr: BASE, length: len, write: true, pattern: 'sequential', fraction: 1, seed: 1, s: 0.99 },
    ...more,
    { op: 'snapshot', label: 'end' },
  ],
});

test('the counting engine takes spawn/mmap/touch/snapshot timelines and agrees with the machine for every design', () => {
  const t = shmemTimeline(5, 6 * 2 ** 20);
  for (const d of DESIGNS.filter((x) => x.mmPerProcess)) {
    const counted = runTimeline(t, d, K);
    const built = runTimeline(t, d, K, 'materialize');
    assert.equal(counted.engine, 'count', d.name);
    const [c, b] = [counted.snapshots[0]!.figures, built.snapshots[0]!.figures];
    assert.deepEqual(c.tables, b.tables, d.name);
    assert.equal(c.pageTableBytes, b.pageTableBytes, d.name);
    // RSS under a host mm is the machine's to say; the engine leaves it null there.
    assert.deepEqual(c.processes.map((x) => ({ ...x, rssBytes: x.rssBytes ?? b.processes[x.index]!.rssBytes })), b.processes, d.name);
  }
  // private: 5 x (PGD + PUD + PMD + 3 PTE tables) = 30 pages.
  assert.equal(snap(t, 'end').pageTableBytes, 30 * T);
});

test('munmap, mprotect, exit, touch patterns and pageout, counted by hand', () => {
  const len = 4 * 2 ** 20;
  // munmap of the second 2 MiB: its PTE table goes (free_pgtables), 1 + 1 + 1 + 1 left per process.
  assert.equal(snap(shmemTimeline(2, len, [{ op: 'munmap', proc: 'p', addr: BASE + len / 2, length: len / 2 }]), 'end').pageTableBytes, 2 * 4 * T);
  // mprotect keeps the tables; a write after PROT_READ is refused (SIGSEGV) and recorded.
  const prot = snap(shmemTimeline(1, len, [
    { op: 'mprotect', proc: 'p', addr: BASE, length: len, prot: 'r' },
    { op: 'touch', proc: 'p', addr: BASE, length: 4096, write: true, pattern: 'sequential', fraction: 1, seed: 1, s: 0.99 },
  ]), 'end');
  assert.equal(prot.pageTableBytes, 5 * T);
  assert.deepEqual(prot.refused.map((x) => x.errno), ['SIGSEGV']);
  // exit of the group: no process left, no table left.
  const gone = snap(shmemTimeline(3, len, [{ op: 'exit', proc: 'p' }]), 'end');
  assert.deepEqual([gone.processes.length, gone.pageTableBytes], [0, 0]);
  // random, a quarter of 4 MiB: 256 distinct pages, 1 MiB of RSS, in every process (seed + index).
  const rnd: Timeline = { objects: {}, timeline: [
    { op: 'spawn', name: 'p', count: 2 },
    { op: 'mmap', proc: 'p', addr: BASE, length: len, offset: 0, shared: false, prot: 'rw' },
    { op: 'touch', proc: 'p', addr: BASE, length: len, write: true, pattern: 'random', fraction: 0.25, seed: 9, s: 0.99 },
    { op: 'snapshot', label: 'end' },
  ] };
  assert.deepEqual(snap(rnd, 'end').processes.map((p) => p.rssBytes), [256 * T, 256 * T]);
  // MADV_PAGEOUT of the 4 MiB of shmem: every page reclaimed, RSS 0; the tables stay.
  const out = snap(shmemTimeline(1, len, [{ op: 'madvise', proc: 'p', addr: BASE, length: len, advice: 'pageout' }]), 'end');
  assert.deepEqual([out.processes[0]!.rssBytes, out.pageTableBytes], [0, 5 * T]);
});

test('uffd-wp: private tables take the protection; ptshare and mshare refuse the registration', () => {
  const t = shmemTimeline(2, 2 ** 21, [{ op: 'uffd-wp', proc: 'p', addr: BASE, length: 2 ** 21 }]);
  assert.deepEqual(snap(t, 'end').refused, []);
  for (const d of ['ptshare', 'mshare']) assert.deepEqual(snap(t, 'end', d).refused.map((x) => [x.op, x.errno]), [['uffd-wp', 'EINVAL']], d);
});

test('the same file gives the same figures twice (deterministic)', () => {
  const t = loadScenarioFile(FIXTURE);
  assert.deepEqual(JSON.stringify(run(t, 'file-pt')), JSON.stringify(run(loadScenarioFile(FIXTURE), 'file-pt')));
});

test('an mmap after a touch goes to the machine: tables present at mmap change what ptshare links', () => {
  // The creator's PUD entry at the mapping's start is linked to the host's PMD table only when it is
  // empty (ptshare_copy_pmd()); a touch before the mmap may have filled it, which only the machine knows.
  const t: Timeline = { objects: { shm: { kind: 'shmem', size: 2 ** 21, page: '4k' } }, timeline: [
    { op: 'spawn', name: 'p', count: 2 },
    { op: 'mmap', proc: 'p', addr: BASE, length: 2 ** 21, offset: 0, shared: false, prot: 'rw' },
    { op: 'touch', proc: 'p', addr: BASE, length: 2 ** 21, write: true, pattern: 'sequential', fraction: 1, seed: 1, s: 0.99 },
    { op: 'mmap', proc: 'p', object: 'shm', addr: BASE + 2 ** 21, length: 2 ** 21, offset: 0, shared: true, prot: 'rw' },
    { op: 'touch', proc: 'p', addr: BASE + 2 ** 21, length: 2 ** 21, write: true, pattern: 'sequential', fraction: 1, seed: 1, s: 0.99 },
    { op: 'snapshot', label: 'end' },
  ] };
  const r = run(t, 'ptshare');
  assert.equal(r.engine, 'materialize');
  // The creator's PUD entry already held its own PMD table (the anonymous 2 MiB), so nothing was
  // linked at mmap: both processes copy the host's PMD entry. Each: PGD + PUD + PMD + its anonymous
  // PTE table, with the host's PTE table linked; the host: PGD + PUD + PMD + PTE. 2 x 4 + 4 = 12.
  assert.equal(r.snapshots[0]!.figures.pageTableBytes, 12 * T);
});

test('a mapping beside ptshare\'s first GiB link goes to the machine, whose tables are counted by hand', () => {
  // The creator maps 2 MiB of anonymous memory, then 2 MiB of shmem in the same GiB; both are written.
  // At the shmem mmap its PUD entry is empty, so ptshare_copy_pmd() links the host's PMD table there,
  // and the anonymous fault then allocates its PTE table under that linked table. The planner refuses
  // the layout to the counting engine, and the run falls back to the machine.
  const t: Timeline = { objects: { shm: { kind: 'shmem', size: 2 ** 21, page: '4k' } }, timeline: [
    { op: 'spawn', name: 'p', count: 2 },
    { op: 'mmap', proc: 'p', addr: BASE, length: 2 ** 21, offset: 0, shared: false, prot: 'rw' },
    { op: 'mmap', proc: 'p', object: 'shm', addr: BASE + 2 ** 21, length: 2 ** 21, offset: 0, shared: true, prot: 'rw' },
    { op: 'touch', proc: 'p', addr: BASE, length: 2 ** 21, write: true, pattern: 'sequential', fraction: 1, seed: 1, s: 0.99 },
    { op: 'touch', proc: 'p', addr: BASE + 2 ** 21, length: 2 ** 21, write: true, pattern: 'sequential', fraction: 1, seed: 1, s: 0.99 },
    { op: 'snapshot', label: 'end' },
  ] };
  const r = run(t, 'ptshare');
  assert.equal(r.engine, 'materialize');
  // Host: PGD, PUD, PMD, the shmem PTE table. Creator: PGD, PUD, its anonymous PTE table (in the
  // host's PMD table). The other: PGD, PUD, PMD, its anonymous PTE table. 4 + 3 + 4 = 11 pages.
  const f = r.snapshots[0]!.figures;
  assert.equal(f.pageTableBytes, 11 * T);
  // VmPTE: the creator's PUD and PTE table (the linked PMD table not counted); the other's PUD, PMD
  // and PTE table (the copied PMD entry's table not counted).
  assert.deepEqual(f.processes.map((p) => p.vmpteBytes), [2 * T, 3 * T]);
});
