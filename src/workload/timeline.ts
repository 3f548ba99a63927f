/**
 * A user's workload as a timeline of operations (`ptbench run`): named groups of processes spawn,
 * mmap, touch, fork, mprotect, munmap, madvise, register uffd-wp and exit, and snapshots record the
 * page tables of every live process. Every operation applies to every process of the group it names.
 *
 * Each design runs the same timeline on its own simulated machine. A step a design refuses (the
 * kernel call fails) is recorded with its errno and the run goes on. A timeline of spawn, mmap,
 * sequential whole-range touches and snapshots only is counted by the counting engine
 * (pgtable_count.ts), which gives the same tables without building them; anything else is
 * materialized. Every figure is simulated and exact: the same timeline gives the same counts.
 */
import { ZipfSampler } from './tlb/stream.js';
import { countPlan } from './pgtable_count.js';
import { pageBytes, planScenario, type Scenario, type ScenarioGroup, type ScenarioMapping } from './scenario.js';
import { MATERIALIZE_LIMIT_BYTES } from './sga.js';
import { timelineBounds } from './timeline_bounds.js';
import { machineAccounting, mmAccounting, type TableCounts } from '../mm/accounting.js';
import { KernelError } from '../mm/errno.js';
import { VM_FAULT_SIGBUS } from '../mm/vm_fault.js';
import type { KernelConfig, KernelSetting } from '../mm/kernel_profile.js';
import { Machine } from '../mm/machine.js';
import type { AddressSpace } from '../mm/address_space.js';
import type { MmStruct } from '../mm/mm_types.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { VM_SHARED } from '../mm/vma.js';
import { permutation } from '../lib/permutation.js';
import { UsageError } from '../lib/errors.js';
import { xoroshiro128plus, unsafeUniformIntDistribution } from 'pure-rand';
import { hex } from '../lib/format.js';

export type Prot = 'none' | 'r' | 'rw' | 'rx' | 'rwx';

export interface TimelineObject {
  kind: 'shmem' | 'file' | 'hugetlb';
  size: number;
  /** Page size: 4 KiB, or hugetlb's 2 MiB / 1 GiB. */
  page: '4k' | '2m' | '1g';
  /** shmem only: the object of MAP_SHARED | MAP_ANONYMOUS mappings, inherited through fork (AddressSpace.anonShared). */
  anonymous?: boolean;
}

interface Ranged { proc: string; addr: number; length: number }
export type TimelineStep =
  | { op: 'spawn'; name: string; count: number }
  | (Ranged & { op: 'mmap'; object?: string; offset: number; shared: boolean; prot: Prot })
  | (Ranged & { op: 'touch'; write: boolean; pattern: 'sequential' | 'random' | 'zipf' | 'pages'; fraction: number; seed: number; s: number; pages?: Array<[number, number]> })
  | { op: 'fork'; proc: string; name: string; count: number }
  | (Ranged & { op: 'mprotect'; prot: Prot })
  | (Ranged & { op: 'munmap' })
  | (Ranged & { op: 'madvise'; advice: 'dontneed' | 'pageout' })
  | (Ranged & { op: 'uffd-wp' })
  | { op: 'exit'; proc: string }
  | { op: 'snapshot'; label: string };

/** Where a captured timeline came from (ptbench capture). */
export interface CaptureOrigin {
  kernel: string;
  date: string;
  pids: number[];
}

export interface Timeline {
  description?: string;
  source?: string;
  captured?: CaptureOrigin;
  /** The kernel configuration the file was written for (its `kernel` member). */
  kernel?: KernelSetting;
  objects: Record<string, TimelineObject>;
  timeline: TimelineStep[];
}

export interface Refusal { step: number; op: string; proc?: string; errno: string; message: string }

/** One design's figures at one snapshot (simulated, exact). */
export interface DesignSnapshot {
  tables: TableCounts;
  pageTableBytes: number;
  /** Table pages with pt_share_count > 0. */
  sharedTables: number;
  /**
   * Every live process: its group name, index in the group, VmPTE and RSS in bytes. RSS is null under
   * the counting engine where a host mm holds the pages (which process they are charged to depends on
   * each fault there).
   */
  processes: Array<{ name: string; index: number; vmpteBytes: number; rssBytes: number | null }>;
  /** Since the run began; null under the counting engine, which counts tables, not events. */
  faults: number | null;
  tlbFlushes: number | null;
  ipis: number | null;
  /** Steps since the previous snapshot that this design refused. */
  refused: Refusal[];
}

export interface DesignRun {
  engine: 'count' | 'materialize';
  snapshots: Array<{ label: string; figures: DesignSnapshot }>;
}

const PROT: Record<Prot, number> = { none: 0, r: PROT_READ, rw: PROT_READ | PROT_WRITE, rx: PROT_READ | PROT_EXEC, rwx: PROT_READ | PROT_WRITE | PROT_EXEC };

/**
 * Names, objects and ranges that must hold before a run (throws UsageError naming the step); rounds
 * every length up to whole pages, as the kernel does.
 */
export function checkTimeline(t: Timeline): void {
  const live = new Map<string, number>();
  const ever = new Set<string>();
  // Each group's mappings with their page size, to check a touch's page runs.
  // A fork shares its parent's list until either maps more (50,000 forks of a process with 50,000
  // mappings must not copy 2.5 billion entries).
  const maps = new Map<string, { list: Array<{ addr: number; end: number; page: number }>; shared: boolean }>();
  t.timeline.forEach((s, i) => {
    const at = `/timeline/${i} (${s.op})`;
    if ('proc' in s && !live.has(s.proc)) throw new UsageError(`${at}: no live process group '${s.proc}'${ever.has(s.proc) ? ' (it exited)' : ''}; spawn or fork it first`);
    if (s.op === 'spawn' || s.op === 'fork') {
      if (ever.has(s.name)) throw new UsageError(`${at}: the process group name '${s.name}' is taken; names are used once`);
      ever.add(s.name);
      live.set(s.name, s.count);
      if (s.op === 'fork') maps.get(s.proc)!.shared = true;
      maps.set(s.name, s.op === 'fork' ? { list: maps.get(s.proc)!.list, shared: true } : { list: [], shared: false });
    }
    if (s.op === 'exit') live.delete(s.proc);
    if ('addr' in s) {
      if (s.addr % 4096 !== 0 || s.length === 0) throw new UsageError(`${at}: addr ${hex(s.addr)} must be a multiple of 4096 and the length > 0`);
      // As the kernel does (PAGE_ALIGN(len) in mmap, munmap, mprotect, madvise), lengths round up to pages.
      s.length = Math.ceil(s.length / 4096) * 4096;
    }
    if (s.op === 'mmap' && s.object !== undefined) {
      const o = t.objects[s.object];
      if (o === undefined) throw new UsageError(`${at}: no object '${s.object}'; objects: ${Object.keys(t.objects).join(', ') || 'none'}`);
      const pb = pageBytes(o.page);
      if (s.addr % pb !== 0 || s.length % pb !== 0 || s.offset % pb !== 0) throw new UsageError(`${at}: a mapping of '${s.object}' (${o.page} pages) needs addr, length and offset in multiples of ${pb} bytes`);
      if (!s.shared && o.kind === 'hugetlb') throw new UsageError(`${at}: a MAP_PRIVATE hugetlb mapping is not modelled; use "flags": "shared"`);
    }
    if (s.op === 'mmap') {
      const g = maps.get(s.proc)!;
      if (g.shared) Object.assign(g, { list: [...g.list], shared: false });
      g.list.push({ addr: s.addr, end: s.addr + s.length, page: s.object === undefined ? 4096 : pageBytes(t.objects[s.object]!.page) });
    }
    if (s.op === 'touch' && s.pattern === 'pages') {
      const page = maps.get(s.proc)!.list.findLast((x) => x.addr <= s.addr && s.addr < x.end)?.page ?? 4096;
      let next = 0;
      for (const [first, n] of s.pages ?? []) {
        if (first < next || (first + n) * page > s.length) throw new UsageError(`${at}: page runs must ascend without overlap and stay inside the ${s.length}-byte range (pages of ${page} bytes); [${first}, ${n}] does not`);
        next = first + n;
      }
    }
  });
  let processes = 0;
  for (const s of t.timeline) if (s.op === 'spawn' || s.op === 'fork') processes += s.count;
  if (processes > 1_000_000) throw new UsageError(`/timeline: ${processes} processes in all; at most 1,000,000`);
}

/**
 * The timeline as a counting-engine scenario, when it is only spawn, whole-range sequential touches
 * of mappings, mmap and snapshot (one snapshot, last): null otherwise.
 */
export function countableScenario(t: Timeline, design: PtShareDesign, levels: 4 | 5, kernel: KernelConfig): Scenario | null {
  const names = Object.keys(t.objects);
  // The engine's routes take mmap's word for a shared mapping; an inherited one only the machine follows.
  if (names.some((n) => t.objects[n]!.anonymous === true)) return null;
  const groups = new Map<string, ScenarioGroup>();
  const steps = t.timeline;
  let touched = false;
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (s.op === 'snapshot') {
      if (i !== steps.length - 1) return null;
      continue;
    }
    if (s.op === 'spawn') groups.set(s.name, { count: s.count, maps: [] });
    else if (s.op === 'mmap') {
      // The engine maps everything before touching anything (tables that exist at an mmap can
      // change what a design links there, e.g. ptshare_copy_pmd()).
      if (touched) return null;
      if (!s.shared && s.object !== undefined) return null;
      if (s.shared && s.object === undefined) return null;
      if (s.prot !== 'rw') return null;
      groups.get(s.proc)!.maps.push({ object: s.object === undefined ? -1 : names.indexOf(s.object), addr: s.addr, len: s.length, offset: s.offset, touch: [], write: false });
    } else if (s.op === 'touch') {
      touched = true;
      if (s.pattern !== 'pages' && (s.pattern !== 'sequential' || s.fraction !== 1)) return null;
      const mp = groups.get(s.proc)!.maps.find((x: ScenarioMapping) => x.addr === s.addr && x.len === s.length);
      if (mp === undefined || mp.touch.length > 0) return null;
      const pb = mp.object < 0 ? 4096 : pageBytes(t.objects[names[mp.object]!]!.page);
      if (s.pattern === 'pages') for (const [first, n] of s.pages!) mp.touch.push([first * pb, (first + n) * pb]);
      else mp.touch.push([0, s.length]);
      mp.write = s.write;
    } else return null;
  }
  return {
    design, levels, kernel,
    objects: names.map((n) => ({ kind: t.objects[n]!.kind, page: t.objects[n]!.page, size: t.objects[n]!.size })),
    groups: [...groups.values()],
  };
}

function countRun(sc: Scenario, label: string, t: Timeline): DesignRun {
  const plan = planScenario(sc);
  const c = countPlan(plan);
  const spawned = t.timeline.filter((s): s is Extract<TimelineStep, { op: 'spawn' }> => s.op === 'spawn');
  // RSS per group: the pages each process touched (shared pages count in every mapper's RSS, as in
  // the kernel), unless a host mm holds them. sc.groups are the spawns, in order.
  const hosted = plan.groups.some((g) => g.touches.some((x) => x.route.link >= 0 && x.route.holder === 'mm'));
  const rss = sc.groups.map((g) => {
    let bytes = 0;
    for (const mp of g.maps) for (const [s, e] of mp.touch) bytes += mp.object >= 0 || mp.write ? e - s : 0;
    return hosted ? null : bytes;
  });
  // The engine reports runs of identical processes, group by group (a group may come as two runs).
  const processes: DesignSnapshot['processes'] = [];
  let gi = 0;
  let inGroup = 0;
  for (const run of c.processes) {
    for (let k = 0; k < run.count; k++) {
      while (inGroup >= spawned[gi]!.count) { gi++; inGroup = 0; }
      processes.push({ name: spawned[gi]!.name, index: inGroup++, vmpteBytes: run.vmPTEBytes, rssBytes: rss[gi]! });
    }
  }
  return { engine: 'count', snapshots: [{ label, figures: { tables: c.tables, pageTableBytes: c.pageTableBytes, sharedTables: c.sharedTables, processes, faults: null, tlbFlushes: null, ipis: null, refused: [] } }] };
}

/** Tables a range of `len` bytes can need at each level below the root, ragged edges included. */
/**
 * The pages a touch step makes, in order, for process `index` of its group: the first `fraction` of
 * the range (sequential), that many pages in a random order (random), or that many draws from a Zipf
 * distribution over the range's pages, hot pages scattered (zipf), or the listed runs (pages, as
 * `ptbench capture` writes them). Random and Zipf use seed + index,
 * so the processes of a group touch different pages, the same ones on every run.
 */
function touchPages(s: Extract<TimelineStep, { op: 'touch' }>, page: number, index: number, visit: (addr: number) => void): void {
  const seed = s.seed + index;
  const n = s.length / page;
  const count = Math.max(1, Math.round(n * s.fraction));
  if (s.pattern === 'pages') {
    for (const [first, k] of s.pages!) for (let i = first; i < first + k; i++) visit(s.addr + i * page);
  } else if (s.pattern === 'sequential') {
    for (let i = 0; i < count; i++) visit(s.addr + i * page);
  } else if (s.pattern === 'random') {
    const p = permutation(n, seed);
    for (let i = 0; i < count; i++) visit(s.addr + p[i]! * page);
  } else {
    const z = new ZipfSampler(n, s.s);
    const rng = xoroshiro128plus(seed);
    const src = { nextDouble: () => unsafeUniformIntDistribution(0, 2 ** 30 - 1, rng) / 2 ** 30 };
    const scatter = permutation(n, seed ^ 0x5bd1e995);
    for (let i = 0; i < count; i++) visit(s.addr + scatter[z.sample(src) - 1]! * page);
  }
}

/**
 * The most VMAs a materialized run keeps alive at once. They are JavaScript objects (about 1 KiB each
 * with their maple-tree slot), so 2 million of them are about 2 GiB of heap, Node's default limit.
 */
export const MAX_TIMELINE_VMAS = 2_000_000;

/** Run the timeline under one design on a materialized machine. */
function materializeRun(t: Timeline, design: PtShareDesign, levels: 4 | 5, kernel: KernelConfig): DesignRun {
  const need = timelineBounds(t);
  if (need.vmas > MAX_TIMELINE_VMAS) {
    throw new UsageError(`too large to materialize: up to ${need.vmas} VMAs alive at once (every fork copies its parent's), more than the ${MAX_TIMELINE_VMAS} the simulator holds; fork fewer processes or map fewer regions`);
  }
  const bytes = need.tablePages * 4096 + need.frames * 45;
  if (bytes > MATERIALIZE_LIMIT_BYTES) {
    throw new UsageError(`too large to materialize: up to ${need.tablePages} table pages and ${need.frames} pages need ${(bytes / 2 ** 30).toFixed(1)} GiB of simulator memory (limit ${MATERIALIZE_LIMIT_BYTES / 2 ** 30} GiB); the counting engine takes only spawn, mmap, whole sequential touches and one final snapshot`);
  }
  const m = new Machine({ design, levels, kernel, ptPages: need.tablePages, frames: need.frames });
  const files = new Map<string, AddressSpace>();
  for (const [name, o] of Object.entries(t.objects)) {
    const f = o.kind === 'shmem' ? m.memfd_create(name, o.size) : o.kind === 'file' ? m.open_file(name, o.size) : m.hugetlbfs_create(name, o.size, o.page === '1g' ? '1G' : '2M');
    f.anonShared = o.anonymous === true;
    files.set(name, f);
  }
  const groups = new Map<string, MmStruct[]>();
  const order: string[] = [];
  const snapshots: DesignRun['snapshots'] = [];
  let refused: Refusal[] = [];
  const pageOf = (mm: MmStruct, addr: number) => {
    const v = mm.find_vma(addr);
    const f = v?.vm_file;
    return f !== null && f !== undefined ? 2 ** f.pageShift : 4096;
  };
  t.timeline.forEach((s, i) => {
    // A step is listed once, with the first process's reason, however many of its processes failed.
    const refuse = (proc: string, errno: string, message: string): void => {
      if (!refused.some((r) => r.step === i)) refused.push({ step: i, op: s.op, proc, errno, message });
    };
    const attempt = (proc: string, fn: () => void): void => {
      try {
        fn();
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        refuse(proc, e.code, e.message.replace(/^[A-Z]+: /, ''));
      }
    };
    switch (s.op) {
      case 'spawn':
        groups.set(s.name, Array.from({ length: s.count }, () => m.mm_alloc()));
        order.push(s.name);
        break;
      case 'mmap':
        for (const mm of groups.get(s.proc)!) {
          attempt(s.proc, () => {
            const prot = PROT[s.prot];
            if (s.object === undefined) {
              m.mmap(mm, { addr: s.addr, length: s.length, prot, flags: (s.shared ? MAP_SHARED | (design.mmapFlags ?? 0) : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_FIXED });
            } else if (!s.shared) {
              m.mmap(mm, { addr: s.addr, length: s.length, prot, flags: MAP_PRIVATE | MAP_FIXED, file: files.get(s.object)!, offset: s.offset });
            } else if (design.mapShared !== undefined) {
              design.mapShared(m, mm, files.get(s.object)!, s.addr, s.length, prot, s.offset);
            } else {
              m.mmap(mm, { addr: s.addr, length: s.length, prot, flags: MAP_SHARED | MAP_FIXED | (design.mmapFlags ?? 0), file: files.get(s.object)!, offset: s.offset });
            }
          });
        }
        break;
      case 'touch':
        groups.get(s.proc)!.forEach((mm, index) => {
          touchPages(s, pageOf(mm, s.addr), index, (a) => {
            const r = m.touch(mm, a, s.write);
            if (r === 0) return;
            const sig = (r & VM_FAULT_SIGBUS) !== 0 ? 'SIGBUS' : 'SIGSEGV';
            refuse(s.proc, sig, `access to ${hex(a)} raised ${sig}`);
          });
        });
        break;
      case 'fork': {
        const parents = groups.get(s.proc)!;
        const kids: MmStruct[] = [];
        for (let k = 0; k < s.count; k++) kids.push(m.fork(parents[0]!));
        groups.set(s.name, kids);
        order.push(s.name);
        break;
      }
      case 'mprotect':
        for (const mm of groups.get(s.proc)!) attempt(s.proc, () => m.mprotect(mm, s.addr, s.length, PROT[s.prot]));
        break;
      case 'munmap':
        for (const mm of groups.get(s.proc)!) attempt(s.proc, () => m.munmap(mm, s.addr, s.length));
        break;
      case 'madvise':
        for (const mm of groups.get(s.proc)!) {
          attempt(s.proc, () => {
            if (s.advice === 'dontneed') {
              m.madvise_dontneed(mm, s.addr, s.length);
              return;
            }
            // MADV_PAGEOUT: reclaim of the range's shmem pages (anonymous swap is not modelled).
            for (let a = s.addr; a < s.addr + s.length; a += 4096) {
              const v = mm.find_vma(a);
              if (v === null || v.vm_file === null || v.vm_file.kind !== 'shmem' || (v.vm_flags & VM_SHARED) === 0) {
                throw new KernelError('EINVAL', 'advice', `MADV_PAGEOUT is modelled for MAP_SHARED shmem only (anonymous swap is not modelled); ${hex(a)} is not`);
              }
              const pgoff = v.vm_pgoff + (a - v.vm_start) / 4096;
              if (v.vm_file.pages[pgoff] !== 0) m.reclaim_shmem_page(v.vm_file, pgoff);
            }
          });
        }
        break;
      case 'uffd-wp':
        for (const mm of groups.get(s.proc)!) {
          attempt(s.proc, () => {
            m.uffd_register_wp(mm, s.addr, s.length);
            m.uffd_writeprotect(mm, s.addr, s.length, true);
          });
        }
        break;
      case 'exit':
        for (const mm of groups.get(s.proc)!) m.exit(mm);
        groups.delete(s.proc);
        order.splice(order.indexOf(s.proc), 1);
        break;
      case 'snapshot': {
        const acc = machineAccounting(m);
        const processes: DesignSnapshot['processes'] = [];
        for (const name of order) {
          groups.get(name)!.forEach((mm, index) => {
            const a = mmAccounting(m, mm);
            processes.push({ name, index, vmpteBytes: a.vmPTEBytes, rssBytes: (a.rss.file + a.rss.anon + a.rss.shmem) * 4096 });
          });
        }
        snapshots.push({ label: s.label, figures: { tables: acc.tables, pageTableBytes: acc.pageTableBytes, sharedTables: acc.sharedTables, processes, faults: m.events.pgfault,
          tlbFlushes: m.events.tlbFlushes, ipis: m.events.tlbIpis, refused } });
        refused = [];
        break;
      }
    }
  });
  return { engine: 'materialize', snapshots };
}

/** A design a timeline can run under: one whose processes have their own mms (not `threads`). */
export function checkTimelineDesign(design: PtShareDesign): void {
  if (!design.mmPerProcess) throw new UsageError(`--design ${design.name}: its processes are threads of one mm, which a timeline of spawns and forks does not describe; use it with mem or sweep`);
}

/** Run `t` under `design`: counted when the timeline allows it (engine 'auto'), else materialized. */
export function runTimeline(t: Timeline, design: PtShareDesign, kernel: KernelConfig, engine: 'auto' | 'materialize' = 'auto', levels: 4 | 5 = 4): DesignRun {
  checkTimelineDesign(design);
  const sc = engine === 'auto' ? countableScenario(t, design, levels, kernel) : null;
  const last = t.timeline[t.timeline.length - 1]!;
  if (sc !== null && last.op === 'snapshot') {
    try {
      return countRun(sc, last.label, t);
    } catch (e) {
      // A layout the engine's routes refuse (e.g. a design's alignment rule): the machine says why, step by step.
      if (!(e instanceof UsageError)) throw e;
    }
  }
  return materializeRun(t, design, levels, kernel);
}
