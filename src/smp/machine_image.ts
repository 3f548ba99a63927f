/**
 * A machine seen from several threads. The page tables, frame table, page caches and lock words live
 * in SharedArrayBuffers, which every worker thread attaches to; the rest of a machine (mms, VMAs,
 * files, a design's host mms) is ordinary JavaScript state that changes only under mmap_lock held for
 * writing (mmap, munmap, fork, exit) — which the model keeps on the main thread, between batches of
 * faults. So a worker gets that state as a MachineImage (plain data naming mms and files by id) and
 * rebuilds its own copy over the shared buffers: a simulated CPU's view of the machine.
 *
 * What a fault changes outside the shared buffers is per-CPU, as the kernel keeps it (percpu RSS
 * counters, vm_event_states): each CPU counts events, RSS, table counts, page-cache sizes and lock
 * statistics from zero, and hands them back as CpuDeltas for the main thread to add up.
 */
import { fail } from '../mm/errno.js';
import { lockStatAdd } from '../mm/spinlock.js';
import { AddressSpace, type FileKind } from '../mm/address_space.js';
import { Machine, type MachineBuffers } from '../mm/machine.js';
import { MmStruct } from '../mm/mm_types.js';
import type { ShmemSwapReport } from '../mm/machine_types.js';
import { VM_SHARED, VM_UFFD_WP, VmAreaStruct } from '../mm/vma.js';
import type { PagingLevels } from '../arch/pgtable_64_types.js';
import { designByName } from '../share/index.js';
import { anon_vma_prepare } from '../mm/rmap.js';

export interface VmaImage {
  start: number;
  end: number;
  flags: number;
  pgoff: number;
  protLo: number;
  protHi: number;
  /** File id, or 0 for anonymous memory. */
  file: number;
  /** anon_vma id, or 0. */
  anonVma: number;
}

export interface MmImage {
  id: number;
  pgd: number;
  cpumask: number;
  users: number;
  vmas: VmaImage[];
}

export interface FileImage {
  id: number;
  name: string;
  kind: FileKind;
  size: number;
  pageShift: number;
  refs: number;
  pages: SharedArrayBuffer;
  lock: SharedArrayBuffer;
  /** i_mmap in order, as (mm id, index of the VMA in that mm). */
  iMmap: [number, number][];
}

export interface MachineImage {
  buffers: MachineBuffers;
  levels: PagingLevels;
  faultAroundBytes: number;
  cpus: number;
  shmemSwapReport: ShmemSwapReport;
  design: string;
  files: FileImage[];
  mms: MmImage[];
  designState: unknown;
}

/** What one CPU changed outside the shared buffers during a batch, for the owner to add up. */
export interface CpuDeltas {
  events: Record<string, number>;
  mms: { id: number; rss: number[]; nr: number[]; linked: number[]; hugetlb: number; tlbGen: number }[];
  files: { id: number; nrpages: number }[];
  lockstat: number[];
  bugs: string[];
}

/**
 * smp_prepare: make the machine ready for concurrent faults, or refuse with a one-line reason. Private
 * VMAs get their anon_vma now (anon_vma_prepare allocates under mmap_lock in the kernel too, not under
 * a page-table lock), and the design creates what it would otherwise create inside a fault. Refused:
 * uffd-wp VMAs, swapped shmem pages and PTE markers (their fault paths are single-CPU in this model).
 */
export function smp_prepare(m: Machine): void {
  if (m.smp) throw new Error('BUG: smp_prepare on a worker\'s view of a machine');
  if (m.shmemSwapReport === 'pte-marker') fail('EINVAL', 'shmemSwapReport', "concurrent CPUs do not model PTE markers; use 'none' or 'pagecache-lookup'");
  for (const f of m.files) {
    if (f !== undefined && f.swapped !== null) fail('EINVAL', 'file', `${f.name} has swapped-out pages; concurrent CPUs do not model swap-in`);
  }
  for (const mm of m.mms) {
    for (const v of mm.vmas) {
      if ((v.vm_flags & VM_UFFD_WP) !== 0) fail('EINVAL', 'vma', `mm ${mm.id} has a uffd-wp VMA at 0x${v.vm_start.toString(16)}; concurrent CPUs do not model userfaultfd`);
      if ((v.vm_flags & VM_SHARED) === 0) anon_vma_prepare(m, v);
    }
  }
  m.pool.enableSplitLocks();
  m.design.smpPrepare?.(m);
}

/** The image of a prepared machine (see smp_prepare). */
export function machineImage(m: Machine): MachineImage {
  if (m.pool.buffers.ptl === null) throw new Error('BUG: machineImage of a machine smp_prepare has not prepared (no split page-table locks)');
  const vmaIndex = new Map<VmAreaStruct, [number, number]>();
  const mms: MmImage[] = [];
  for (const mm of m.mms) {
    mm.vmas.forEach((v, i) => vmaIndex.set(v, [mm.id, i]));
    mms.push({
      id: mm.id, pgd: mm.pgd, cpumask: mm.cpumask, users: mm.mm_users,
      vmas: mm.vmas.map((v) => ({ start: v.vm_start, end: v.vm_end, flags: v.vm_flags, pgoff: v.vm_pgoff, protLo: v.prot_lo, protHi: v.prot_hi, file: v.vm_file?.id ?? 0,
        anonVma: v.anon_vma?.id ?? 0 })),
    });
  }
  const files: FileImage[] = [];
  for (const f of m.files) {
    if (f === undefined) continue;
    files.push({
      id: f.id, name: f.name, kind: f.kind, size: f.size, pageShift: f.pageShift, refs: f.refs,
      pages: f.pages.buffer as SharedArrayBuffer, lock: f.xa_lock.buffer as SharedArrayBuffer,
      iMmap: f.i_mmap.filter((v) => !v.vm_mm.dead).map((v) => vmaIndex.get(v)!),
    });
  }
  return {
    buffers: m.buffers, levels: m.mode.levels, faultAroundBytes: m.faultAroundPages * 4096, cpus: m.cpus, shmemSwapReport: m.shmemSwapReport,
    design: m.design.name, files, mms, designState: m.design.exportState?.(m) ?? null,
  };
}

/** A CPU's view of the machine in `image`: the shared buffers attached, mms, VMAs, files and design state rebuilt. */
export function attachMachine(image: MachineImage): Machine {
  const m = new Machine({
    levels: image.levels, faultAroundBytes: image.faultAroundBytes, cpus: image.cpus, shmemSwapReport: image.shmemSwapReport,
    design: designByName(image.design), attach: image.buffers,
  });
  const files = new Map<number, AddressSpace>();
  for (const fi of image.files) {
    const f = new AddressSpace(fi.id, fi.name, fi.kind, fi.size, fi.pageShift, { pages: fi.pages, lock: fi.lock });
    f.refs = fi.refs;
    m.files[fi.id] = f;
    files.set(fi.id, f);
  }
  const mms = new Map<number, MmStruct>();
  const anonVmas = new Map<number, { id: number }>();
  for (const mi of image.mms) {
    const mm = new MmStruct(mi.id, mi.pgd);
    mm.cpumask = mi.cpumask;
    mm.mm_users = mi.users;
    for (const vi of mi.vmas) {
      const v = new VmAreaStruct(mm, vi.start, vi.end, vi.flags, vi.pgoff, vi.file === 0 ? null : files.get(vi.file)!);
      v.prot_lo = vi.protLo;
      v.prot_hi = vi.protHi;
      if (vi.anonVma !== 0) {
        let a = anonVmas.get(vi.anonVma);
        if (!a) anonVmas.set(vi.anonVma, (a = { id: vi.anonVma }));
        v.anon_vma = a;
      }
      mm.vmas.push(v);
    }
    m.mms.add(mm);
    mms.set(mi.id, mm);
  }
  for (const fi of image.files) {
    const f = files.get(fi.id)!;
    for (const [mmId, i] of fi.iMmap) f.i_mmap.push(mms.get(mmId)!.vmas[i]!);
  }
  const mmById = (id: number) => mms.get(id) ?? fail('EINVAL', 'image', `no mm ${id} in the machine image`);
  const fileById = (id: number) => files.get(id) ?? fail('EINVAL', 'image', `no file ${id} in the machine image`);
  if (image.designState !== null) m.design.importState?.(m, image.designState, mmById, fileById);
  return m;
}

/** Take what a CPU's view counted since the last call, and reset it (percpu counters folded). */
export function takeCpuDeltas(m: Machine): CpuDeltas {
  m.folios.drain_pages();
  const events = m.events.snapshot();
  for (const k of Object.keys(events)) (m.events as unknown as Record<string, number>)[k] = 0;
  const mms: CpuDeltas['mms'] = [];
  for (const mm of m.mms) {
    mms.push({ id: mm.id, rss: [...mm.rss], nr: [...mm.nr], linked: [...mm.linked], hugetlb: mm.hugetlb_usage, tlbGen: mm.tlb_gen });
    mm.rss.fill(0);
    mm.nr.fill(0);
    mm.linked.fill(0);
    mm.hugetlb_usage = 0;
    mm.tlb_gen = 0;
  }
  const files: CpuDeltas['files'] = [];
  for (const f of m.files) {
    if (f === undefined) continue;
    files.push({ id: f.id, nrpages: f.nrpages });
    f.nrpages = 0;
  }
  const lockstat = [...m.lockstat];
  m.lockstat.fill(0);
  const bugs = m.bugs.splice(0);
  return { events, mms, files, lockstat, bugs };
}

/** Add a CPU's deltas to the machine that owns the buffers. */
export function applyCpuDeltas(m: Machine, d: CpuDeltas): void {
  const ev = m.events as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(d.events)) ev[k] = (ev[k] ?? 0) + v;
  const mms = new Map<number, MmStruct>();
  for (const mm of m.mms) mms.set(mm.id, mm);
  for (const x of d.mms) {
    const mm = mms.get(x.id);
    if (mm === undefined) throw new Error(`BUG: a CPU counted for mm ${x.id}, which is not on this machine`);
    for (let i = 0; i < mm.rss.length; i++) mm.rss[i]! += x.rss[i]!;
    for (let i = 0; i < mm.nr.length; i++) mm.nr[i]! += x.nr[i]!;
    for (let i = 0; i < mm.linked.length; i++) mm.linked[i]! += x.linked[i]!;
    mm.hugetlb_usage += x.hugetlb;
    mm.tlb_gen += x.tlbGen;
  }
  for (const x of d.files) m.files[x.id]!.nrpages += x.nrpages;
  lockStatAdd(m.lockstat, d.lockstat);
  m.bugs.push(...d.bugs);
}
