/**
 * The database workload the mshare threads argue about: N processes map one S-byte region and touch
 * it. The region is shmem, a regular file or hugetlbfs (MAP_SHARED), or — for comparison — private
 * anonymous memory of the same size in each process. Under the `threads` design the N processes are
 * tasks of one mm with one mapping.
 */
import { PAGE_SIZE, PUD_SIZE, TABLE_SPAN, type PagingLevels } from '../arch/pgtable_64_types.js';
import { UsageError, roundUp } from '../lib/size.js';
import { machineAccounting, mmAccounting, type MachineAccounting, type MmAccounting } from '../mm/accounting.js';
import type { AddressSpace } from '../mm/address_space.js';
import { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import type { PtShareDesign } from '../share/design.js';

export type RegionKind = 'shmem' | 'anon' | 'file' | 'hugetlb';
export type PageSize = '4k' | '2m' | '1g';

export interface SgaScenario {
  design: PtShareDesign;
  procs: number;
  /** Requested size in bytes; rounded up to the page size as mmap does. */
  size: number;
  kind: RegionKind;
  page: PageSize;
  /** Mapping address offset from a 1 GiB-aligned base (bytes). */
  offset: number;
  /** 'all', 'none', or the fraction of the region's pages touched (a prefix of it). */
  touch: 'all' | 'none' | number;
  write: boolean;
  levels: PagingLevels;
  faultAroundBytes?: number;
}

/** 0x7f0000000000: 512 GiB-aligned, so also 1 GiB- and 2 MiB-aligned. */
export const SGA_BASE = 0x7f0000000000;
/** Refuse to materialize scenarios whose pool and frame table would exceed this many bytes. */
export const MATERIALIZE_LIMIT_BYTES = 8 * 2 ** 30;

export interface SgaResult {
  machine: Machine;
  mms: MmStruct[];
  /** Size actually mapped (rounded up to the page size), and where. */
  mapped: number;
  addr: number;
  /** Pages of the mapping's page size touched in each process. */
  touchedPages: number;
  machineAcc: MachineAccounting;
  perProcess: MmAccounting[];
}

export function pageBytes(page: PageSize): number {
  return page === '4k' ? 4096 : page === '2m' ? 2 ** 21 : 2 ** 30;
}

/** Validate and size a scenario; returns the capacities to build it with. */
export function planSga(s: SgaScenario): { mapped: number; touchedPages: number; ptPages: number; frames: number; base: number } {
  if (!Number.isInteger(s.procs) || s.procs < 1) throw new UsageError(`--procs: must be a whole number of processes >= 1, got ${s.procs}`);
  if (s.page !== '4k' && s.kind !== 'hugetlb') throw new UsageError(`--page ${s.page}: huge pages need --kind hugetlb (got --kind ${s.kind})`);
  if (s.kind === 'hugetlb' && s.page === '4k') throw new UsageError('--kind hugetlb: choose --page 2m or --page 1g');
  const refusal = s.design.checkScenario?.({ kind: s.kind, page: s.page }) ?? null;
  if (refusal !== null) throw new UsageError(`--design ${s.design.name}: ${refusal}`);
  const pb = pageBytes(s.page);
  if (!Number.isInteger(s.size) || s.size <= 0) throw new UsageError(`--size: must be > 0 bytes, got ${s.size}`);
  if (s.offset < 0 || s.offset % PAGE_SIZE !== 0) throw new UsageError(`--offset: must be a non-negative multiple of 4096, got ${s.offset}`);
  if (s.kind === 'hugetlb' && s.offset % pb !== 0) throw new UsageError(`--offset: must be a multiple of the ${s.page} page size for hugetlb, got ${s.offset}`);
  if (s.offset >= PUD_SIZE) throw new UsageError(`--offset: must be below 1 GiB (it is an offset from a 1 GiB-aligned base), got ${s.offset}`);
  const mapped = roundUp(s.size, pb);
  const base = sgaBase(s.levels, mapped, s.offset);
  if (base < 0) {
    const taskSize = s.levels === 5 ? 2 ** 56 : 2 ** 47;
    throw new UsageError(`--size: ${mapped} bytes at offset ${s.offset} do not fit in the ${s.levels}-level user address space (${taskSize} bytes)${s.levels === 4 ? '; 5-level paging (--levels 5) has 2^56' : ''}`);
  }
  if (typeof s.touch === 'number' && !(s.touch >= 0 && s.touch <= 1)) throw new UsageError(`--touch: a fraction must be between 0 and 1, got ${s.touch}`);
  const pages = mapped / pb;
  const touchedPages = s.touch === 'all' ? pages : s.touch === 'none' ? 0 : Math.ceil(pages * s.touch);
  const touched = touchedPages * pb;
  const mms = s.design.mmPerProcess ? s.procs : 1;
  // Tables per mm: every level's tables over the touched span, +1 each for misalignment, + root.
  let perMm = 1;
  for (let level = 0; level < s.levels - 1; level++) perMm += Math.ceil(touched / TABLE_SPAN[level]!) + 1;
  const ptPages = mms * perMm + 16;
  const frames = (s.kind === 'anon' ? mms * touchedPages : touchedPages) + 16;
  const need = ptPages * 4096 + frames * 45;
  if (need > MATERIALIZE_LIMIT_BYTES) {
    throw new UsageError(`too large to materialize: ${ptPages} table pages and ${frames} folios need ${(need / 2 ** 30).toFixed(1)} GiB of simulator memory (limit ${MATERIALIZE_LIMIT_BYTES / 2 ** 30} GiB); use smaller --size or --procs`);
  }
  return { mapped, touchedPages, ptPages, frames, base };
}

/**
 * The 1 GiB-aligned base the region is mapped at (plus --offset): 0x7f0000000000 when it fits, else
 * the highest 512 GiB- (or 1 GiB-) aligned base below TASK_SIZE that fits; -1 if nothing does.
 */
export function sgaBase(levels: PagingLevels, mapped: number, offset: number): number {
  const taskSize = levels === 5 ? 2 ** 56 - 4096 : 2 ** 47 - 4096;
  if (SGA_BASE + offset + mapped <= taskSize) return SGA_BASE;
  for (const align of [2 ** 39, 2 ** 30]) {
    const b = Math.floor((taskSize - offset - mapped) / align) * align;
    if (b >= align) return b;
  }
  return -1;
}

export function runSga(s: SgaScenario): SgaResult {
  const plan = planSga(s);
  const m = new Machine({ levels: s.levels, ptPages: plan.ptPages, frames: plan.frames, design: s.design, faultAroundBytes: s.faultAroundBytes });
  const pb = pageBytes(s.page);
  const addr = plan.base + s.offset;
  let file: AddressSpace | null = null;
  if (s.kind === 'shmem') file = m.memfd_create('sga', plan.mapped);
  else if (s.kind === 'file') file = m.open_file('sga', plan.mapped);
  else if (s.kind === 'hugetlb') file = m.hugetlbfs_create('sga', plan.mapped, s.page === '1g' ? '1G' : '2M');
  const mms: MmStruct[] = [];
  const n = s.design.mmPerProcess ? s.procs : 1;
  const touchLen = plan.touchedPages * pb;
  for (let i = 0; i < n; i++) {
    const mm = m.mm_alloc();
    if (!s.design.mmPerProcess) mm.mm_users = s.procs;
    if (file !== null && s.design.mapShared !== undefined) {
      s.design.mapShared(m, mm, file, addr, plan.mapped, PROT_READ | PROT_WRITE);
    } else {
      m.mmap(mm, {
        addr, length: plan.mapped, prot: PROT_READ | PROT_WRITE,
        flags: (file === null ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED | (s.design.mmapFlags ?? 0)) | MAP_FIXED, file,
      });
    }
    // CPU accesses by every process (under `threads`, every task of the one mm): a fault only where
    // the hardware walk fails (a design may have linked a table already).
    for (let task = 0; task < (s.design.mmPerProcess ? 1 : s.procs); task++) {
      for (let a = addr; a < addr + touchLen; a += pb) {
        const r = m.touch(mm, a, s.write);
        if (r !== 0) throw new Error(`scenario access to 0x${a.toString(16)} failed with VM_FAULT 0x${r.toString(16)}`);
      }
    }
    mms.push(mm);
  }
  const perMm = mms.map((mm) => mmAccounting(m, mm));
  // Under `threads`, every process is a task of the one mm and sees its tables.
  const perProcess = s.design.mmPerProcess ? perMm : Array.from({ length: s.procs }, () => perMm[0]!);
  return { machine: m, mms, mapped: plan.mapped, addr, touchedPages: plan.touchedPages, machineAcc: machineAccounting(m), perProcess };
}

/** Tear a scenario down and return the leak report (empty when clean). */
export function teardownSga(r: SgaResult): string[] {
  const m = r.machine;
  for (const mm of r.mms) while (!mm.dead) m.exit(mm);
  for (const f of m.files) if (f !== undefined) m.close(f);
  return m.leakCheck();
}
