/**
 * The database workload the mshare threads argue about: N processes map one S-byte region and touch
 * it. The region is shmem, a regular file or hugetlbfs (MAP_SHARED), or — for comparison — private
 * anonymous memory of the same size in each process. Under the `threads` design the N processes are
 * tasks of one mm with one mapping.
 */
import { PAGE_SIZE, PUD_SIZE, type PagingLevels } from '../arch/pgtable_64_types.js';
import { countScenario } from './pgtable_count.js';
import { roundUp } from '../lib/size.js';
import { machineAccounting, mmAccounting, type MachineAccounting, type MmAccounting } from '../mm/accounting.js';
import type { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { materializeScenario, pageBytes, teardownScenario, type PageSize, type RegionKind, type Scenario, type ScenarioCounts } from './scenario.js';
import type { ShmemSwapReport } from '../mm/machine_types.js';
import { UsageError } from '../lib/errors.js';
import type { KernelConfig } from '../mm/kernel_profile.js';

export { pageBytes, type PageSize, type RegionKind } from './scenario.js';

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
  /** Simulated CPUs (default 2). */
  cpus?: number;
  /** The pagemap variant for swapped shmem (default 'none'). */
  shmemSwapReport?: ShmemSwapReport;
  /** The kernel simulated (default kernelConfig()). */
  kernel?: KernelConfig;
}

/** 0x7f0000000000: 512 GiB-aligned, so also 1 GiB- and 2 MiB-aligned. */
export const SGA_BASE = 0x7f0000000000;
/** Refuse to materialize scenarios whose pool and frame table would exceed this many bytes. */
export const MATERIALIZE_LIMIT_BYTES = 8 * 2 ** 30;

/** Validate a scenario; returns the size mapped, the pages touched per process and the base address. */
export function planSga(s: SgaScenario): { mapped: number; touchedPages: number; base: number } {
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
  return { mapped, touchedPages, base };
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
  /** What the counting engine predicted for it (the pool was sized from this). */
  counted: ScenarioCounts;
}

/**
 * The database workload as a general scenario: one object (or private anonymous memory) mapped by
 * `procs` identical processes at base + offset and touched from its start. A design that maps in
 * larger units (ptshare: 2 MiB) gets the length rounded up to them, as a user would.
 */
export function sgaScenario(s: SgaScenario): { scenario: Scenario; mapped: number; touchedPages: number; addr: number } {
  const plan = planSga(s);
  const pb = pageBytes(s.page);
  const addr = plan.base + s.offset;
  const anon = s.kind === 'anon';
  const align = s.design.mapAlign ?? 1;
  // The mapping would be legal but share nothing (ptshare's do_mmap shares only PMD-aligned VMAs):
  // the workload asks for sharing, so say so rather than report private tables under its name.
  if (!anon && addr % align !== 0) throw new UsageError(`--offset: ${s.design.name} shares a mapping only at an address that is a multiple of ${align / 2 ** 20} MiB; at offset ${s.offset} B every process would get private tables`);
  const len = anon ? plan.mapped : roundUp(plan.mapped, Math.max(pb, align));
  const touchLen = plan.touchedPages * pb;
  const scenario: Scenario = {
    design: s.design, levels: s.levels, faultAroundBytes: s.faultAroundBytes, cpus: s.cpus, shmemSwapReport: s.shmemSwapReport, kernel: s.kernel,
    objects: anon ? [] : [{ kind: s.kind as 'shmem' | 'file' | 'hugetlb', page: s.page, size: plan.mapped }],
    groups: [{ count: s.procs, maps: [{ object: anon ? -1 : 0, addr, len, offset: 0, touch: touchLen > 0 ? [[0, touchLen]] : [], write: s.write }] }],
  };
  return { scenario, mapped: plan.mapped, touchedPages: plan.touchedPages, addr };
}

/** Bytes of simulator memory a materialized run of these counts needs (table pool, frame table, page caches). */
export function materializeBytes(sc: Scenario, c: ScenarioCounts): number {
  const pageCaches = sc.objects.reduce((n, o) => n + Math.ceil(o.size / pageBytes(o.page)) * 4, 0);
  return c.tablePages * 4096 + c.folios * 45 + pageCaches;
}

/** What to do about a scenario too large to materialize, as the command that asked says it (mem has --engine count). */
export const TOO_LARGE_HINT = 'give a smaller --size or fewer --procs';

export function runSga(s: SgaScenario, tooLargeHint = TOO_LARGE_HINT): SgaResult {
  const { scenario, mapped, touchedPages, addr } = sgaScenario(s);
  const counted = countScenario(scenario);
  const need = materializeBytes(scenario, counted);
  if (need > MATERIALIZE_LIMIT_BYTES) {
    throw new UsageError(`too large to materialize: ${counted.tablePages} table pages and ${counted.folios} folios need ${(need / 2 ** 30).toFixed(1)} GiB of simulator memory (limit ${MATERIALIZE_LIMIT_BYTES / 2 ** 30} GiB); ${tooLargeHint}`);
  }
  const r = materializeScenario(scenario, counted);
  const m = r.machine;
  return {
    machine: m, mms: r.mms, mapped, addr, touchedPages, counted,
    machineAcc: machineAccounting(m),
    perProcess: r.processMms.map((mm) => mmAccounting(m, mm)),
  };
}

/** Tear a scenario down and return the leak report (empty when clean). */
export function teardownSga(r: SgaResult): string[] {
  return teardownScenario({ machine: r.machine, mms: r.mms });
}

/** --kind, --page (default 2m for hugetlb, else 4k) and --levels, checked. */
export function parseRegionShape(kindText: string, pageText: string | undefined, levelsText: string): { kind: RegionKind; page: PageSize; levels: PagingLevels } {
  const kinds = ['shmem', 'anon', 'file', 'hugetlb'];
  if (!kinds.includes(kindText)) throw new UsageError(`--kind: '${kindText}' is not one of ${kinds.join(', ')}`);
  const kind = kindText as RegionKind;
  const text = pageText ?? (kind === 'hugetlb' ? '2m' : '4k');
  const page = text.toLowerCase();
  if (page !== '4k' && page !== '2m' && page !== '1g') throw new UsageError(`--page: '${text}' is not one of 4k, 2m, 1g`);
  if (levelsText !== '4' && levelsText !== '5') throw new UsageError(`--levels: '${levelsText}' is not 4 or 5`);
  return { kind, page, levels: Number(levelsText) as PagingLevels };
}
