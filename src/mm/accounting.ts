/**
 * Page-table memory accounting. Per mm, like /proc/<pid>/status: the tables reachable from its pgd by
 * level (a shared table counts in every sharer), VmPTE (mm_pgtables_bytes: PTE + PMD + PUD tables;
 * the kernel keeps no P4D or PGD counter there; a linked table counts where the design's kernel code
 * counts it, as hugetlb's mm_inc_nr_pmds on share does, PtShareDesign.linksInVmPTE) and RSS.
 * Machine-wide: the memory every distinct table takes, shared or not, counted once; the PGD at its
 * allocation size (8 KiB with PTI, KernelConfig.pgdBytes). From 6.14 that is PageTables in
 * /proc/meminfo; before, PageTables leaves the PGD out (KernelConfig.pgdInPageTables).
 */
import { levelName, TABLE_BYTES, type PagingLevels } from '../arch/pgtable_64_types.js';
import type { MachineState } from './machine_types.js';
import { MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, MM_SWAPENTS, type MmStruct } from './mm_types.js';

export interface TableCounts {
  pgd: number;
  p4d: number;
  pud: number;
  pmd: number;
  pte: number;
}

/** Page-table accounting of one mm (simulated, exact), from its counts by level. */
export interface MmCounts {
  /** Table pages reachable from this mm, by level. */
  tables: TableCounts;
  /** All of them in bytes: 4,096 per table, the PGD at KernelConfig.pgdBytes. */
  pageTableBytes: number;
  /** VmPTE: mm_pgtables_bytes = (PTE + PMD + PUD tables) x 4,096. */
  vmPTEBytes: number;
}

export interface MmAccounting extends MmCounts {
  mm: number;
  /** RSS counters in 4 KiB pages. */
  rss: { file: number; anon: number; shmem: number; swapents: number };
  /** 4 KiB pages mapped through hugetlb (hugetlb_usage). */
  hugetlbPages: number;
}

export interface MachineAccounting {
  /** Distinct table pages in use machine-wide, by level (each shared table once). */
  tables: TableCounts;
  pageTableBytes: number;
  /** Table pages with pt_share_count > 0. */
  sharedTables: number;
  /** Folios and the 4 KiB pages they hold (page cache + anonymous + hugetlb), the zero page excluded. */
  folios: number;
  framePages: number;
}

/** Table counts by name from counts by level (0 = PTE .. levels-1 = PGD). */
export function countsFromLevels(levels: PagingLevels, byLevel: (level: number) => number): TableCounts {
  const t: TableCounts = { pgd: 0, p4d: 0, pud: 0, pmd: 0, pte: 0 };
  for (let level = 0; level < levels; level++) t[levelName(level, levels)] += byLevel(level);
  return t;
}

export function totalTables(t: TableCounts): number {
  return t.pgd + t.p4d + t.pud + t.pmd + t.pte;
}

/** Bytes of the tables: TABLE_BYTES each, PGDs at `pgdBytes` (pgd_allocation_order()). */
export function tableBytes(t: TableCounts, pgdBytes: number): number {
  return (totalTables(t) - t.pgd) * TABLE_BYTES + t.pgd * pgdBytes;
}

/** MmCounts from table pages by level (mm->nr in the machine; computed by the counting engine). */
export function mmCountsOf(levels: PagingLevels, nr: ArrayLike<number>, pgdBytes: number, notInVmPTE = 0): MmCounts {
  const tables = countsFromLevels(levels, (l) => nr[l]!);
  return { tables, pageTableBytes: tableBytes(tables, pgdBytes), vmPTEBytes: (nr[0]! + nr[1]! + nr[2]! - notInVmPTE) * TABLE_BYTES };
}

export function mmAccounting(m: MachineState, mm: MmStruct): MmAccounting {
  return {
    mm: mm.id,
    ...mmCountsOf(m.mode.levels, mm.nr, m.kernel.pgdBytes, m.design.linksInVmPTE === false ? mm.linked[0]! + mm.linked[1]! + mm.linked[2]! : 0),
    rss: { file: mm.rss[MM_FILEPAGES]!, anon: mm.rss[MM_ANONPAGES]!, shmem: mm.rss[MM_SHMEMPAGES]!, swapents: mm.rss[MM_SWAPENTS]! },
    hugetlbPages: mm.hugetlb_usage,
  };
}

export function machineAccounting(m: MachineState): MachineAccounting {
  const tables = countsFromLevels(m.mode.levels, (l) => m.pool.inUseAt(l));
  return {
    tables,
    pageTableBytes: tableBytes(tables, m.kernel.pgdBytes),
    sharedTables: m.pool.sharedInUse(),
    folios: m.folios.inUse,
    framePages: m.folios.pagesInUse,
  };
}
