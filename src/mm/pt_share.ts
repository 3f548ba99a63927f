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
import type { MachineState } from './machine_types.js';
import type { AddressSpace } from './address_space.js';
import type { MmStruct } from './mm_types.js';
import type { VmAreaStruct } from './vma.js';

/** What a scenario asks of a design, for designs that must refuse some (e.g. 1 GiB pages). */
export interface ScenarioShape {
  kind: 'shmem' | 'anon' | 'file' | 'hugetlb';
  page: '4k' | '2m' | '1g';
}

/**
 * One mapping of a scenario as the counting engine (src/workload/pgtable_count.ts) hands it to a design. Addresses and
 * offsets in bytes; the mapping is MAP_SHARED of shared object `object` (anonymous memory never
 * reaches a design: it is private under every one).
 */
export interface CountMapping {
  object: number;
  kind: 'shmem' | 'file' | 'hugetlb';
  /** Level of its leaf entries: 0 (4 KiB pages, PTE), 1 (2 MiB, PMD leaf), 2 (1 GiB, PUD leaf). */
  leaf: number;
  start: number;
  end: number;
  /** File offset of `start` (vm_pgoff x 4096). */
  offset: number;
}

/**
 * A piece of a mapping and where the tables covering its touched pages come from, for the counting
 * engine. The mm allocates its own tables at levels `ownFrom` .. root; below that it links, per
 * window of TABLE_SPAN[link], one table held by `host` (the holder's address = address + delta).
 */
export interface CountRoute {
  start: number;
  end: number;
  /** Lowest level of the mm's own tables for touches here (the leaf level when nothing is linked). */
  ownFrom: number;
  /** Level of the linked tables, or -1 when the mm's own tables go down to the leaf. */
  link: number;
  /** Identity of the holder of the linked tables ('' when link is -1). */
  host: string;
  delta: number;
  /**
   * 'mm': the holder is a host mm with its own pgd and every table from the leaf up (ptshare, mshare,
   * file-pt); 'sharers': the linked tables belong to the sharers themselves, one per window, the first
   * sharer allocating it (hugetlb PMD sharing) and the table counting as shared from the second.
   */
  holder: 'mm' | 'sharers';
  /** When a host mm comes to exist: at the first mmap that routes to it, or at the first fault. */
  hostAt: 'mmap' | 'fault';
  /**
   * The link of the window holding `start` is made at mmap, touched or not (ptshare_copy_pmd() on
   * the creator's PUD entry), and the holder's tables down to `link` exist from then on.
   */
  linkAtMmap?: boolean;
}

/** The whole of a mapping taken privately: the mm's own tables down to the leaf. */
export function privateRoutes(map: { start: number; end: number; leaf: number }): CountRoute[] {
  return [{ start: map.start, end: map.end, ownFrom: map.leaf, link: -1, host: '', delta: 0, holder: 'mm', hostAt: 'mmap' }];
}

/**
 * Split [start, end) at the whole windows of `size` bytes inside it: `inside` routes that interior,
 * `outside` each piece left over at either end (all of it when `inside` is null or there is no whole
 * window).
 */
export function routeWindows(start: number, end: number, size: number, inside: ((s: number, e: number) => CountRoute) | null, outside: (s: number, e: number) => CountRoute[]): CountRoute[] {
  const ws = Math.ceil(start / size) * size;
  const we = Math.floor(end / size) * size;
  if (inside === null || ws >= we) return outside(start, end);
  return [...(start < ws ? outside(start, ws) : []), inside(ws, we), ...(we < end ? outside(we, end) : [])];
}

export interface PtShareDesign {
  /** Name on the command line (--design). */
  readonly name: string;
  /** One line for --help and reports. */
  readonly summary: string;
  /** What the design can share at all, in one line: shown where a workload gets no sharing from it. */
  readonly sharesOnly?: string;
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
  shareTable(m: MachineState, vma: VmAreaStruct, addr: number, level: number): number;
  /**
   * The counting engine's statement of the same rules: how `map` gets its tables, as routes covering
   * [map.start, map.end), and the address range the mapping occupies in the process (mshare: the
   * whole attached region). `first` is the first mapping of the same object in the scenario (equal to
   * `map` for the first); `creator` says this mapping is that first one, made by the first process
   * (it differs from the others only under a design with `creatorRoutes`). Throw a UsageError for a
   * layout the design refuses. The property test (test/workload/pgtable_count.test.ts) holds these
   * rules to the materialized tables, byte for byte.
   */
  countRoutes(map: CountMapping, first: CountMapping, creator: boolean): { footprint: [number, number]; routes: CountRoute[] };
  /** The first mapping of an object gets other routes than later ones (ptshare links at its mmap). */
  readonly creatorRoutes?: boolean;
  /**
   * Whether a linking mm's VmPTE (mm_pgtables_bytes) counts the tables it links. Default true, as
   * hugetlb's huge_pmd_share() calls mm_inc_nr_pmds(); false where the design's code links without
   * counting (ptshare's pud_populate() and set_pmd() of a host's table).
   */
  readonly linksInVmPTE?: boolean;
  /**
   * `vma` is about to be split at `addr` (munmap or mprotect of part of it). A design whose shared
   * tables would straddle the split unshares them here (hugetlb_split). Optional.
   */
  vmaSplit?(m: MachineState, vma: VmAreaStruct, addr: number): void;
  /** A reason the design cannot run this scenario (one line naming the rule), or null. Optional. */
  checkScenario?(s: ScenarioShape): string | null;

  /**
   * true: change_protection edits shared tables in place (the host's change is every sharer's, as in
   * ptshare and 2022/23 mshare). Default false: the mm unshares the table instead and refaults into
   * private tables (hugetlb_change_protection).
   */
  readonly protectSharedInPlace?: boolean;
  /**
   * Unsharing a table so that one owner is left needs a GUP-fast synchronisation IPI (hugetlb PMD
   * sharing in the kernel: huge_pmd_unshare, KERNEL_RULES.hugetlb_unshare_sync). The proposals are
   * modelled as posted, without it.
   */
  readonly unshareSyncsGupFast?: boolean;

  // --- Designs that run faults in a host mm (ptshare, mshare) ---
  /**
   * Mappings of shared objects must start and end on multiples of this many bytes (ptshare: 2 MiB);
   * a scenario rounds their length up to it, as a user would (the mapping may run past EOF).
   */
  readonly mapAlign?: number;
  /** Extra MAP_* flags a scenario's processes pass to opt in (e.g. MAP_SHARED_PT). */
  readonly mmapFlags?: number;
  /**
   * do_mmap, after validation and before anything changes: refuse with a KernelError naming the rule,
   * or return extra vm_flags for the new VMA (0 for none).
   */
  mmapPrepare?(m: MachineState, mm: MmStruct, addr: number, len: number, flags: number, file: AddressSpace | null, pgoff: number): number;
  /** The new VMA is in place (mmap_region done). */
  vmaMapped?(m: MachineState, vma: VmAreaStruct): void;
  /** Faults on VMAs with VM_SHARED_PT / VM_MSHARE go here instead of the normal path (address in m.vmf). */
  handleFault?(m: MachineState, vma: VmAreaStruct, flags: number): number;
  /** munmap of [start, end): refuse with a KernelError if the design forbids it. */
  munmapCheck?(m: MachineState, mm: MmStruct, start: number, end: number): void;
  /** mprotect of [start, end): return true when the design has done it (e.g. applied to every sharer). */
  mprotect?(m: MachineState, mm: MmStruct, start: number, end: number, prot: number): boolean;
  /**
   * The VMAs whose mms' TLBs a change to `vma`'s tables must reach (each at its own address for the
   * same file pages): 'all' (flush_tlb_all), or a list. Default: the VMA itself. ptshare: every
   * guest VMA of the object.
   */
  flushTargets?(m: MachineState, vma: VmAreaStruct): 'all' | VmAreaStruct[];

  // --- Per-process state changes (refuse with a KernelError, or react, e.g. unshare) ---
  /** madvise(MADV_DONTNEED) of [start, end). */
  madviseCheck?(m: MachineState, mm: MmStruct, start: number, end: number): void;
  /** userfaultfd write-protect registration of [start, end), before VM_UFFD_WP is set. */
  uffdWpCheck?(m: MachineState, mm: MmStruct, start: number, end: number): void;
  /** After VM_UFFD_WP is set on `vma` (hugetlb_unshare_all_pmds, file-pt unsharing). */
  uffdWpRegistered?(m: MachineState, vma: VmAreaStruct): void;
  /**
   * The mm whose RSS the present entry for `addr`, reached through `vma` at word `off`, is charged to, when the
   * design faults pages in a host mm (ptshare, file-pt); default the VMA's own mm. The rmap walk of
   * reclaim uncharges it there.
   */
  rssOwner?(m: MachineState, vma: VmAreaStruct, addr: number, off: number): MmStruct;
  /** clear_refs soft-dirty on `vma`, before its PTEs are write-protected. */
  softDirtyClear?(m: MachineState, vma: VmAreaStruct): void;

  /** The VMA has been unmapped and unlinked from its file. */
  vmaRemoved?(m: MachineState, vma: VmAreaStruct): void;
  /** The file's last reference is gone (an mshare region's host goes with it). */
  fileReleased?(m: MachineState, file: AddressSpace): void;
  /** A reference to the file was dropped and others remain (file-pt drops its cache once only its own remain). */
  fileRefDropped?(m: MachineState, file: AddressSpace): void;
  /**
   * How a scenario's process maps `len` bytes of `file` at `addr` under this design, when that is more
   * than one mmap (mshare: create the region once, map the file into it, attach the region).
   * Returns the address mapped. Optional: otherwise a plain MAP_SHARED | MAP_FIXED mmap.
   */
  mapShared?(m: MachineState, mm: MmStruct, file: AddressSpace, addr: number, len: number, prot: number, offset: number): number;
  /**
   * Where a shared object must sit to be shared under this design: a region of its own at an address
   * aligned to this many bytes (mshare: 512 GiB). A workload written for another design is moved
   * there before it runs under this one (ptbench capture). Absent: anywhere.
   */
  readonly sharedRegionAlign?: number;

  // --- Concurrent CPUs in worker threads (src/smp) ---
  /**
   * Before CPUs fault concurrently: create what the design would otherwise create inside a fault
   * (file-pt's cache hosts: an mm and an mmap, which take mmap_lock for writing). Optional.
   */
  smpPrepare?(m: MachineState): void;
  /** The design's per-machine state as plain data naming mms and files by id, for a worker's copy of the machine. */
  exportState?(m: MachineState): unknown;
  /** Rebuild that state on a worker's copy (`mm` and `file` look the objects up by id). */
  importState?(m: MachineState, state: unknown, mm: (id: number) => MmStruct, file: (id: number) => AddressSpace): void;
}

/**
 * No sharing: every mm allocates its own tables (Linux without hugetlb PMD sharing). The machine's
 * default; the `private` design (src/share/private.ts) is this table.
 */
export const PT_SHARE_NONE: PtShareDesign = {
  name: 'private',
  summary: 'every process has its own page tables (the baseline: Linux without hugetlb PMD sharing)',
  mmPerProcess: true,
  shareTable: () => -1,
  countRoutes: (map) => ({ footprint: [map.start, map.end], routes: privateRoutes(map) }),
};
