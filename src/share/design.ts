/**
 * The plug point for page-table sharing designs. The fault path never allocates a lower-level table
 * itself: when it meets an empty upper entry it asks the design for a table to link there. A design
 * that shares returns an existing table (and raises that table's pt_share_count, the count of *extra*
 * sharers); `private` always answers "allocate a fresh one". The rest of the core — zap, free_pgtables,
 * fork, accounting — honours pt_share_count generically: a shared table is unlinked from one mm
 * (unshare) instead of being freed, and is counted once machine-wide and once in every sharer's
 * VmPTE-style count.
 *
 * A new design is one new file implementing this interface, registered in ./index.ts.
 */
import type { Machine } from '../mm/machine.js';
import type { AddressSpace } from '../mm/address_space.js';
import type { MmStruct } from '../mm/mm_types.js';
import type { VmAreaStruct } from '../mm/vma.js';

/** What a scenario asks of a design, for designs that must refuse some (e.g. 1 GiB pages). */
export interface ScenarioShape {
  kind: 'shmem' | 'anon' | 'file' | 'hugetlb';
  page: '4k' | '2m' | '1g';
}

export interface PtShareDesign {
  /** Name on the command line (--design). */
  readonly name: string;
  /** One line for --help and reports. */
  readonly summary: string;
  /**
   * true: every simulated process has its own mm. false: the processes of a scenario are tasks
   * (threads) of one mm, the lower bound any sharing design can reach.
   */
  readonly mmPerProcess: boolean;
  /**
   * The fault path needs a table of `level` (0 = PTE table, 1 = PMD table, 2 = PUD table, ...) to
   * cover `addr` in `vma`'s mm, whose upper entry is empty. Return the number of an existing table to
   * link there — the design has already raised its pt_share_count — or -1 to allocate a private one.
   */
  shareTable(m: Machine, vma: VmAreaStruct, addr: number, level: number): number;
  /**
   * `vma` is about to be split at `addr` (munmap or mprotect of part of it). A design whose shared
   * tables would straddle the split unshares them here (hugetlb_split). Optional.
   */
  vmaSplit?(m: Machine, vma: VmAreaStruct, addr: number): void;
  /** A reason the design cannot run this scenario (one line naming the rule), or null. Optional. */
  checkScenario?(s: ScenarioShape): string | null;

  /**
   * true: change_protection edits shared tables in place (the host's change is every sharer's, as in
   * ptshare and 2022/23 mshare). Default false: the mm unshares the table instead and refaults into
   * private tables (hugetlb_change_protection).
   */
  readonly protectSharedInPlace?: boolean;

  // --- Designs that run faults in a host mm (ptshare, mshare) ---
  /** Extra MAP_* flags a scenario's processes pass to opt in (e.g. MAP_SHARED_PT). */
  readonly mmapFlags?: number;
  /**
   * do_mmap, after validation and before anything changes: refuse with a KernelError naming the rule,
   * or return extra vm_flags for the new VMA (0 for none).
   */
  mmapPrepare?(m: Machine, mm: MmStruct, addr: number, len: number, flags: number, file: AddressSpace | null, pgoff: number): number;
  /** The new VMA is in place (mmap_region done). */
  vmaMapped?(m: Machine, vma: VmAreaStruct): void;
  /** Faults on VMAs with VM_SHARED_PT / VM_MSHARE go here instead of the normal path (address in m.vmf). */
  handleFault?(m: Machine, vma: VmAreaStruct, flags: number): number;
  /** munmap of [start, end): refuse with a KernelError if the design forbids it. */
  munmapCheck?(m: Machine, mm: MmStruct, start: number, end: number): void;
  /** mprotect of [start, end): return true when the design has done it (e.g. applied to every sharer). */
  mprotect?(m: Machine, mm: MmStruct, start: number, end: number, prot: number): boolean;
  /**
   * The mms whose TLBs a change to `vma`'s tables must reach: 'all' (flush_tlb_all), or a list.
   * Default: the VMA's own mm. ptshare: every guest of the object.
   */
  flushTargets?(m: Machine, vma: VmAreaStruct): 'all' | MmStruct[];

  // --- Per-process state changes (refuse with a KernelError, or react, e.g. unshare) ---
  /** madvise(MADV_DONTNEED) of [start, end). */
  madviseCheck?(m: Machine, mm: MmStruct, start: number, end: number): void;
  /** userfaultfd write-protect registration of [start, end), before VM_UFFD_WP is set. */
  uffdWpCheck?(m: Machine, mm: MmStruct, start: number, end: number): void;
  /** After VM_UFFD_WP is set on `vma` (hugetlb_unshare_all_pmds, file-pt unsharing). */
  uffdWpRegistered?(m: Machine, vma: VmAreaStruct): void;
  /** clear_refs soft-dirty on `vma`, before its PTEs are write-protected. */
  softDirtyClear?(m: Machine, vma: VmAreaStruct): void;

  /** The VMA has been unmapped and unlinked from its file. */
  vmaRemoved?(m: Machine, vma: VmAreaStruct): void;
  /** The file's last reference is gone (an mshare region's host goes with it). */
  fileReleased?(m: Machine, file: AddressSpace): void;
  /** A reference to the file was dropped and others remain (file-pt drops its cache once only its own remain). */
  fileRefDropped?(m: Machine, file: AddressSpace): void;
  /**
   * How a scenario's process maps `len` bytes of `file` at `addr` under this design, when that is more
   * than one mmap (mshare: create the region once, map the file into it, attach the region).
   * Returns the address mapped. Optional: otherwise a plain MAP_SHARED | MAP_FIXED mmap.
   */
  mapShared?(m: Machine, mm: MmStruct, file: AddressSpace, addr: number, len: number, prot: number): number;
}
